import type { QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { copyRows, inlineParameters } from './seal-copy.js';
import {
  canonicalFieldsSql,
  encodingIndexes,
  rowPositions,
  SEAL_COLUMNS,
  type SealableLog,
} from './seal-encoding.js';
import { SealHash } from './seal-hash.js';
import type { ReferenceGroup } from './seal-references.js';
import { referenceDeltas, type SealRows } from './seal-rows.js';
import { instantSql } from './seal-runs.js';
import type { SealHeader } from './seal-diagnosis.js';
import type { ArchiveSeal, Month } from './archive-format.js';
import type { LineFile } from './archive-files.js';

/** What the pass over a month's rows found. */
export interface MonthRows {
  /** Per month seal with rows (`<firm>:<seq>`): how many, and the digest they give. */
  found: Map<string, SealRows>;
  /** Rows written: every row the month's seals hold. */
  total: number;
  /** Of them, late arrivals dated before the month. */
  datedBefore: number;
  /** Rows dated in the month that seals of later months hold as late arrivals. */
  inLaterSeals: number;
  /** Per firm: rows dated in the month that no seal holds. */
  unheld: Map<string, number>;
}

/** The reference groups `seal` stored (none under encoding 1). */
export function archivedGroups(seal: ArchiveSeal): ReferenceGroup[] {
  return seal.ref_ids.map((ref, i) => ({
    ref,
    rows: seal.ref_rows[i],
    digest: seal.ref_digests[i],
  }));
}

/**
 * One pass over the rows of `month` of `log` and the late arrivals its seals hold, in the sealer's
 * order `(firm_id, created_at, id)`, by a binary COPY on `runner`'s transaction: each row a seal of
 * the month holds (`seals`, every firm's in seq order) is written to `rows` as its canonical texts
 * and hashed into its seal, as `sealRows` assigns rows for `verify`: a late arrival to the seal
 * that lists it, any other row to the first of its firm's seals whose range ends at or after it.
 * Rows dated in the month that a later seal lists are counted, not written; rows no seal holds
 * are counted per firm.
 */
export async function monthRows(
  runner: QueryRunner,
  log: SealableLog,
  month: Month,
  seals: ArchiveSeal[],
  rows: LineFile,
): Promise<MonthRows> {
  const chains = new Map<string, ArchiveSeal[]>();
  const bySeq = new Map<string, ArchiveSeal>();
  for (const seal of seals) {
    const chain = chains.get(seal.firm_id);
    if (chain) chain.push(seal);
    else chains.set(seal.firm_id, [seal]);
    bySeq.set(`${seal.firm_id}:${seal.seq}`, seal);
  }
  const columns = SEAL_COLUMNS[log];
  const { firm: FIRM, id: ID, at: AT, ref: REF } = rowPositions(log);
  const [LATE, IN_MONTH] = [columns.length, columns.length + 1];
  const indexes = {
    1: encodingIndexes(log, 1),
    2: encodingIndexes(log, 2),
  } as const;
  const hashes = new Map<string, { seal: ArchiveSeal; hash: SealHash }>();
  const hashOf = (seal: ArchiveSeal) => {
    const key = `${seal.firm_id}:${seal.seq}`;
    let open = hashes.get(key);
    if (!open) {
      open = { seal, hash: new SealHash(seal.prev_digest, seal.encoding) };
      hashes.set(key, open);
    }
    return open.hash;
  };
  const result: MonthRows = {
    found: new Map(),
    total: 0,
    datedBefore: 0,
    inLaterSeals: 0,
    unheld: new Map(),
  };
  let firm: string | undefined;
  let chain: ArchiveSeal[] = [];
  let at = 0;
  const monthStart = month.fromUs;
  const [from, to] = [month.fromUs.toString(), month.toUs.toString()];

  await runner.query(`SET LOCAL work_mem = '128MB'`);
  await copyRows(
    runner,
    inlineParameters(
      `WITH late AS (
         SELECT x.firm_id, l.id, x.seq, x.to_created_at < ${instantSql('$3::bigint')} AS in_month
           FROM ${LOG_SEAL_TABLE} x, unnest(x.late_ids) AS l(id)
          WHERE x.log = $1 AND x.kind = 'seal' AND cardinality(x.late_ids) > 0
            AND x.to_created_at >= ${instantSql('$2::bigint')})
       SELECT ${canonicalFieldsSql(log)}, a.late_seq::text, a.late_in_month::text FROM (
         SELECT a.*, late.seq AS late_seq, late.in_month AS late_in_month
           FROM ${log} a LEFT JOIN late ON late.id = a.id AND late.firm_id = a.firm_id
          WHERE a.created_at >= ${instantSql('$2::bigint')}
            AND a.created_at < ${instantSql('$3::bigint')}
         UNION ALL
         SELECT a.*, late.seq, late.in_month
           FROM late JOIN ${log} a ON a.id = late.id AND a.firm_id = late.firm_id
          WHERE late.in_month AND a.created_at < ${instantSql('$2::bigint')}
          ORDER BY firm_id, created_at, id
         OFFSET 0) a`,
      [log, from, to],
    ),
    columns.length + 2,
    (row) => {
      const rowFirm = row.text(FIRM)!;
      if (rowFirm !== firm) {
        firm = rowFirm;
        chain = chains.get(rowFirm) ?? [];
        at = 0;
      }
      const id = row.text(ID)!;
      const us = BigInt(row.text(AT)!);
      const late = row.text(LATE);
      let seal: ArchiveSeal | undefined;
      if (late !== null) {
        if (row.text(IN_MONTH) !== 'true') {
          result.inLaterSeals++;
          return;
        }
        seal = bySeq.get(`${rowFirm}:${late}`);
      } else {
        while (at < chain.length && after(us, id, chain[at])) at++;
        seal = chain[at];
      }
      if (!seal) {
        result.unheld.set(rowFirm, (result.unheld.get(rowFirm) ?? 0) + 1);
        return;
      }
      const line: Record<string, string | null> = {};
      for (const [i, [column]] of columns.entries()) line[column] = row.text(i);
      rows.push(JSON.stringify(line));
      result.total++;
      if (us < monthStart) result.datedBefore++;
      hashOf(seal).addRow(row, indexes[seal.encoding], {
        id,
        ref: row.text(REF),
      });
    },
    () => rows.drain(),
    1000,
  );
  for (const [key, { seal, hash }] of hashes) {
    const stored = archivedGroups(seal);
    result.found.set(key, {
      firmId: seal.firm_id,
      seq: seal.seq,
      n: hash.rows,
      digest: hash.digest(stored),
      references:
        seal.encoding === 2 ? referenceDeltas(hash.groups!.list(), stored) : [],
    });
  }
  return result;
}

/** Whether the row dated `us` with id `id` sorts after the end of `seal`'s range. */
export function after(us: bigint, id: string, seal: ArchiveSeal): boolean {
  const end = BigInt(seal.to_created_at);
  return us > end || (us === end && id > seal.to_id);
}

/** A seal of the archive as `diagnose` reads it. */
export function headerOf(seal: ArchiveSeal, inWindow: boolean): SealHeader {
  return {
    id: `${seal.firm_id}:${seal.seq}`,
    firmId: seal.firm_id,
    seq: seal.seq,
    kind: seal.kind,
    fromUs: seal.from_created_at,
    toUs: seal.to_created_at,
    prev: seal.prev_digest,
    digest: seal.digest,
    rowCount: seal.row_count,
    lateIds: seal.late_ids,
    inWindow,
    encoding: seal.encoding,
  };
}
