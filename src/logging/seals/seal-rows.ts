import type { EntityManager } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { copyRows, inlineParameters } from './seal-copy.js';
import {
  canonicalFieldsSql,
  rowPositions,
  encodingIndexes,
  SEAL_COLUMNS,
  type SealableLog,
  type SealEncoding,
} from './seal-encoding.js';
import { SealHash } from './seal-hash.js';
import type { GroupDelta, ReferenceGroup } from './seal-references.js';
import { usSql } from './seal-runs.js';

/** The rows found for one seal: how many, and the digest they and the seal's prev_digest give. */
export interface SealRows {
  firmId: string;
  seq: number;
  n: number;
  digest: string;
  /** Encoding 2: where the rows' reference groups differ from those the seal stored. */
  references: GroupDelta[];
}

/** A seal as {@link sealRows} reads it. */
interface SealHead {
  firmId: string;
  seq: number;
  encoding: SealEncoding;
  prev: string;
  /** The range's end: created_at in µs, and id. */
  toUs: string;
  toId: string;
  refIds: (string | null)[] | null;
  refRows: number[] | null;
  refDigests: string[] | null;
}

/** A seal whose rows are being read: its hash, and its stored groups. */
interface Open {
  head: SealHead;
  hash: SealHash;
  stored: ReferenceGroup[];
}

/**
 * Recomputes, in one pass over `log`, the digest of the rows each seal of `seqs` (firm → seqs,
 * each firm's in order and contiguous) holds now, with the count. A row belongs to the seal that
 * lists it as a late arrival, else to the first of its firm's seals whose range ends at or after
 * it; rows of `skip` (late arrivals not sealed yet) are left out. Seals without rows are absent
 * from the result.
 *
 * The rows are read by a binary COPY in `(firm_id, created_at, id)` order (the sort may run in
 * parallel workers) on the connection of `manager`'s transaction, and encoded and hashed in Node,
 * each as its seal's `encoding` says. For encoding 2 the digest commits to the reference groups
 * the seal stored, and the groups of the rows found are matched against them: `references` lists
 * those without an equal on the other side.
 */
export async function sealRows(
  manager: EntityManager,
  log: SealableLog,
  seqs: Map<string, number[]>,
  skip: string[],
): Promise<SealRows[]> {
  if (!seqs.size) return [];
  const runner = manager.queryRunner;
  if (!runner) {
    throw new Error('sealRows: verification runs inside a transaction');
  }
  const firms = [...seqs].flatMap(([firm, list]) => list.map(() => firm));
  const seqList = [...seqs.values()].flat();
  const heads = await manager.query<SealHead[]>(
    `SELECT x.firm_id::text AS "firmId", x.seq, x.encoding, encode(x.prev_digest, 'hex') AS prev,
            ${usSql('x.to_created_at')} AS "toUs", x.to_id::text AS "toId",
            x.ref_ids::text[] AS "refIds", x.ref_rows AS "refRows",
            ARRAY(SELECT encode(d, 'hex') FROM unnest(x.ref_digests) WITH ORDINALITY AS u(d, o)
                   ORDER BY o) AS "refDigests"
       FROM ${LOG_SEAL_TABLE} x
       JOIN unnest($2::uuid[], $3::int[]) AS c(firm_id, seq)
         ON c.firm_id = x.firm_id AND c.seq = x.seq
      WHERE x.log = $1
      ORDER BY x.firm_id, x.seq`,
    [log, firms, seqList],
  );
  const chains = new Map<string, SealHead[]>();
  for (const head of heads) {
    const chain = chains.get(head.firmId) ?? [];
    chain.push(head);
    chains.set(head.firmId, chain);
  }

  // Many firms: the log in heap order, as the sealer reads it; one firm: through its index.
  await manager.query(`SET LOCAL work_mem = '128MB'`);
  if (seqs.size > 1) await manager.query(`SET LOCAL enable_indexscan = off`);
  const columns = SEAL_COLUMNS[log].length;
  const { firm: FIRM, id: ID, at: AT, ref: REF } = rowPositions(log);
  const LATE = columns;
  const indexes = {
    1: encodingIndexes(log, 1),
    2: encodingIndexes(log, 2),
  } as const;

  const found: SealRows[] = [];
  let firm: string | undefined;
  let chain: SealHead[] = [];
  /** The seal of the firm's next row in range order. */
  let at = 0;
  let open = new Map<number, Open>();
  /** Ends the firm's seals: each with rows gives its count, digest and references. */
  const close = () => {
    for (const { head, hash, stored } of open.values()) {
      found.push({
        firmId: head.firmId,
        seq: head.seq,
        n: hash.rows,
        digest: hash.digest(stored),
        references:
          head.encoding === 2
            ? referenceDeltas(hash.groups!.list(), stored)
            : [],
      });
    }
    open = new Map();
  };
  const sealOf = (seq: number): Open | undefined => {
    let seal = open.get(seq);
    if (!seal) {
      const head = chain.find((h) => h.seq === seq);
      // listed as a late arrival by a seal not checked: none of the checked seals holds it
      if (!head) return undefined;
      seal = {
        head,
        hash: new SealHash(head.prev, head.encoding),
        stored: storedGroups(head),
      };
      open.set(seq, seal);
    }
    return seal;
  };

  await copyRows(
    runner,
    inlineParameters(
      `WITH f AS (
         SELECT x.firm_id,
                (array_agg(x.from_created_at ORDER BY x.seq))[1] AS from_at,
                (array_agg(x.from_id ORDER BY x.seq))[1] AS from_id,
                (array_agg(x.to_created_at ORDER BY x.seq DESC))[1] AS to_at,
                (array_agg(x.to_id ORDER BY x.seq DESC))[1] AS to_id
           FROM ${LOG_SEAL_TABLE} x
           JOIN unnest($2::uuid[], $3::int[]) AS c(firm_id, seq)
             ON c.firm_id = x.firm_id AND c.seq = x.seq
          WHERE x.log = $1
          GROUP BY x.firm_id),
       late AS (
         SELECT x.firm_id, l.id, x.seq FROM ${LOG_SEAL_TABLE} x, unnest(x.late_ids) AS l(id)
          WHERE x.log = $1 AND x.firm_id = ANY ($2::uuid[]))
       SELECT ${canonicalFieldsSql(log)}, a.late_seq::text FROM (
         SELECT a.*, late.seq AS late_seq
           FROM ${log} a JOIN f ON f.firm_id = a.firm_id
           LEFT JOIN late ON late.id = a.id AND late.firm_id = a.firm_id
          WHERE (late.id IS NOT NULL
                 OR (f.from_at IS NULL OR (a.created_at, a.id) > (f.from_at, f.from_id))
                    AND (a.created_at, a.id) <= (f.to_at, f.to_id))
            AND a.id <> ALL ($4::uuid[])
            -- one firm: let the planner read it through its index
            AND ($5::uuid IS NULL OR a.firm_id = $5::uuid)
          ORDER BY a.firm_id, a.created_at, a.id
         OFFSET 0) a`,
      [log, firms, seqList, skip, seqs.size === 1 ? [...seqs.keys()][0] : null],
    ),
    columns + 1,
    (row) => {
      const rowFirm = row.text(FIRM)!;
      if (rowFirm !== firm) {
        close();
        firm = rowFirm;
        chain = chains.get(rowFirm) ?? [];
        at = 0;
      }
      const id = row.text(ID)!;
      const late = row.text(LATE);
      let seal: Open | undefined;
      if (late !== null) {
        seal = sealOf(Number(late));
      } else {
        const us = Number(row.text(AT));
        while (at < chain.length - 1 && after(us, id, chain[at])) at++;
        seal = sealOf(chain[at].seq);
      }
      if (!seal) return;
      seal.hash.addRow(row, indexes[seal.head.encoding], {
        id,
        ref: row.text(REF),
      });
    },
  );
  close();
  return found;
}

/** Whether the row dated `us` with id `id` sorts after the end of `seal`'s range. */
function after(us: number, id: string, seal: SealHead): boolean {
  const end = Number(seal.toUs);
  return us > end || (us === end && id > seal.toId);
}

/** The reference groups `head` stored (encoding 2; none for encoding 1). */
function storedGroups(head: SealHead): ReferenceGroup[] {
  return (head.refIds ?? []).map((ref, i) => ({
    ref,
    rows: head.refRows![i],
    digest: head.refDigests![i],
  }));
}

/** The groups of `now` and `stored` without an equal (reference, rows, digest) on the other side. */
export function referenceDeltas(
  now: readonly ReferenceGroup[],
  stored: readonly ReferenceGroup[],
): GroupDelta[] {
  const key = (g: ReferenceGroup) => `${g.ref ?? '-'}:${g.rows}:${g.digest}`;
  const nowKeys = new Set(now.map(key));
  const storedKeys = new Set(stored.map(key));
  return [
    ...now
      .filter((g) => !storedKeys.has(key(g)))
      .map((g) => ({ side: 'now' as const, ...g })),
    ...stored
      .filter((g) => !nowKeys.has(key(g)))
      .map((g) => ({ side: 'sealed' as const, ...g })),
  ];
}
