import type { QueryRunner } from 'typeorm';
import { copyRows, inlineParameters } from './seal-copy.js';
import {
  canonicalFieldsSql,
  rowPositions,
  encodeFields,
  encodingIndexes,
  GENESIS_DIGEST,
  SEAL_COLUMNS,
  SEAL_ENCODING,
  type SealableLog,
} from './seal-encoding.js';
import { SealHash } from './seal-hash.js';
import { referenceGroupColumns } from './seal-references.js';
import type { ResolvedSealOptions } from './seal.options.js';
import type { Seal, SealRun } from './seal.types.js';
import {
  HEADS_SQL,
  MAX_UUID,
  coverJoinSql,
  coverParams,
  lateRows,
  readCovers,
  instantSql,
  usSql,
} from './seal-runs.js';
import { recordRun } from './seal-run-record.js';
import { insertSeals, type PendingSeal } from './seal-insert.js';

/** Rows of a query on `runner`. */
export function select<T>(
  runner: QueryRunner,
  sql: string,
  parameters?: unknown[],
): Promise<T[]> {
  return runner.query(sql, parameters) as Promise<T[]>;
}

/** The advisory lock key every sealer and every purge of sealed rows takes, across processes. */
export const SEAL_LOCK_SQL = `hashtext('logging.log_seal')`;

interface Head {
  seq: number;
  digest: string;
  /** created_at of the range's end, in microseconds ({@link usSql}), and its id. */
  toUs: string | null;
  toId: string | null;
}

/** A late arrival as the sealer reads it: the canonical texts `f0`, `f1`, … of its columns. */
type LateRow = Record<string, string | null>;

/** The first microsecond of the UTC month `months` after that of instant `us` (µs since 1970). */
function monthStart(us: number, months = 0): number {
  const at = new Date(Math.floor(us / 1000));
  return Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1) * 1000;
}

/**
 * One run over `log`, of one firm or of every firm, inside the caller's REPEATABLE READ
 * transaction on `runner`, whose snapshot the run records: seals each firm's rows dated after its
 * cover's cutoff up to the run's (`now() - settleMs` by the database clock, never before the last
 * run's), with its late arrivals, then records the run, which covers every firm up to that cutoff,
 * the firms without new rows included. Seals never span two UTC months, and the run goes month by
 * month: each month's new rows are read once, in `(firm_id, created_at, id)` order, by a binary
 * COPY ({@link copyRows}), encoded and hashed in Node, and the month's seals are inserted before
 * the next month is read. Returns the seals made, in chain order per firm, and the run.
 */
export async function sealLog(
  runner: QueryRunner,
  log: SealableLog,
  firmId: string | undefined,
  options: ResolvedSealOptions,
  /** Awaited between chunks of rows: where background sealing gives way. */
  beforeChunk: () => Promise<void> = () => Promise.resolve(),
): Promise<{ seals: Seal[]; run: SealRun }> {
  // The first statement fixes the transaction's snapshot; the cutoff is by the database clock,
  // and never goes back: a run covers at least what the runs before it covered.
  const [{ snapshot, xid, upto, uptoUs, runSeq }] = await select<{
    snapshot: string;
    xid: string;
    upto: string;
    uptoUs: string;
    runSeq: number;
  }>(
    runner,
    `SELECT snapshot, xid, upto::text, ${usSql('upto')} AS "uptoUs", "runSeq"
       FROM (SELECT pg_current_snapshot()::text AS snapshot, pg_current_xact_id()::text AS xid,
                    greatest(now() - $1 * interval '1 millisecond', max(upto)) AS upto,
                    coalesce(max(seq), 0) + 1 AS "runSeq"
               FROM log_seal_run WHERE log = $2) r`,
    [options.settleMs, log],
  );
  const heads = new Map<string, Head>();
  for (const head of await select<Head & { firmId: string }>(
    runner,
    `SELECT firm_id AS "firmId", seq, encode(digest, 'hex') AS digest,
            ${usSql('to_created_at')} AS "toUs", to_id AS "toId"
       FROM (${HEADS_SQL}) h`,
    [log, firmId ?? null],
  )) {
    heads.set(head.firmId, head);
  }
  const covers = await readCovers(runner, log, firmId);
  const { firm: FIRM, id: ID, at: AT, ref: REF } = rowPositions(log);
  const encoded = encodingIndexes(log, SEAL_ENCODING);
  const late = new Map<string, LateRow[]>();
  for (const row of await lateRows<LateRow>(
    runner,
    log,
    firmId,
    covers,
    options.lateWindowMs,
    canonicalFieldsSql(log),
  )) {
    const firm = row[`f${FIRM}`]!;
    late.set(firm, [...(late.get(firm) ?? []), row]);
  }

  const pending: PendingSeal[] = [];
  /** The seal being made: its firm's rows of one month, up to `maxRowsPerSeal`. */
  let open:
    | {
        firm: string;
        head: Head | undefined;
        hash: SealHash;
        lateIds: string[];
        rangeCount: number;
        /** The last row's created_at (µs, as text) and id. */
        lastUs: string;
        lastId: string;
      }
    | undefined;
  const start = (firm: string) => {
    const head = heads.get(firm);
    const hash = new SealHash(head?.digest ?? GENESIS_DIGEST, SEAL_ENCODING);
    const lateRows = late.get(firm) ?? [];
    late.delete(firm);
    for (const row of lateRows) {
      hash.add(encodeFields(log, SEAL_ENCODING, row), {
        id: row[`f${ID}`]!,
        ref: row[`f${REF}`],
      });
    }
    open = {
      firm,
      head,
      hash,
      lateIds: lateRows.map((row) => row[`f${ID}`]!),
      rangeCount: 0,
      lastUs: '',
      lastId: '',
    };
  };
  /**
   * Ends the open seal at its last row, or at instant `at` (µs; taking in every row dated up to
   * it): the end of its rows' month, or the run's cutoff. The seal waits in `pending` for its
   * INSERT.
   */
  const finish = (at?: number) => {
    if (!open || open.hash.rows === 0) return;
    const { firm, head, hash, lateIds, rangeCount } = open;
    const [toUs, toId] =
      at === undefined ? [open.lastUs, open.lastId] : [String(at), MAX_UUID];
    const [refIds, refRows, refDigests] = referenceGroupColumns(
      hash.groups?.list() ?? [],
    );
    const seal: PendingSeal = {
      log,
      firm_id: firm,
      seq: (head?.seq ?? 0) + 1,
      from_us: head?.toUs ?? null,
      from_id: head?.toId ?? null,
      to_us: toUs,
      to_id: toId,
      range_count: rangeCount,
      late_ids: lateIds,
      row_count: hash.rows,
      prev_digest: head?.digest ?? GENESIS_DIGEST,
      digest: hash.digest(),
      snapshot,
      run_seq: runSeq,
      encoding: SEAL_ENCODING,
      ref_ids: refIds,
      ref_rows: refRows,
      ref_digests: refDigests.map((d) => d.toString('hex')),
    };
    pending.push(seal);
    heads.set(firm, { seq: seal.seq, digest: seal.digest, toUs, toId });
    open = undefined;
  };
  const made: Seal[] = [];

  // Read in heap order (a sequential scan for a backlog, a bitmap scan of the created_at index for
  // a month or a run's new rows), never through idx_audit_log_firm_id, which would fetch the heap
  // page of every row apart: with thousands of firms the planner takes it to save the sort, and it
  // reads 2.5 times slower. The rows are sorted whole and cast to text after the sort (OFFSET 0
  // keeps the casts above it); the sort may run in parallel workers.
  await runner.query(`SET LOCAL work_mem = '128MB'`);
  const [{ indexscan }] = await select<{ indexscan: string }>(
    runner,
    `SELECT current_setting('enable_indexscan') AS indexscan,
            set_config('enable_indexscan', 'off', true)`,
  );
  // Every firm's cover is at least the last run over every firm: no row dated before it is new.
  const floor = covers.all?.upto ?? '-infinity';
  const [{ firstUs }] = await select<{ firstUs: string | null }>(
    runner,
    `SELECT ${usSql('min(created_at)')} AS "firstUs" FROM ${log}
      WHERE created_at > $1::timestamptz AND created_at <= $2::timestamptz
        AND ($3::uuid IS NULL OR firm_id = $3::uuid)`,
    [floor, upto, firmId ?? null],
  );
  // the months from the first new row's to the cutoff's, each from its first microsecond to its last
  for (
    let month = firstUs === null ? Infinity : monthStart(Number(firstUs));
    month <= Number(uptoUs);
    month = monthStart(month, 1)
  ) {
    const end = Math.min(monthStart(month, 1) - 1, Number(uptoUs));
    // the month's rows dated after the firm's cover, up to the cutoff (a firm without a cover:
    // after its last seal)
    await copyRows(
      runner,
      inlineParameters(
        `SELECT ${canonicalFieldsSql(log)} FROM (
           SELECT a.* FROM ${log} a LEFT JOIN (${HEADS_SQL}) h ON h.firm_id = a.firm_id
           ${coverJoinSql(log, 6, true)}
            WHERE ($2::uuid IS NULL OR a.firm_id = $2::uuid)
              AND a.created_at > $3::timestamptz AND a.created_at >= ${instantSql('$4::bigint')}
              AND a.created_at <= ${instantSql('$5::bigint')}
              AND (h.id IS NULL OR (a.created_at, a.id) > (h.to_created_at, h.to_id))
              AND (p.id IS NULL OR a.created_at > p.upto)
            ORDER BY a.firm_id, a.created_at, a.id
           OFFSET 0) a`,
        [log, firmId ?? null, floor, month, end, ...coverParams(covers)],
      ),
      SEAL_COLUMNS[log].length,
      (row) => {
        const firm = row.text(FIRM)!;
        if (open && open.firm !== firm) finish(end);
        if (!open) start(firm);
        const id = row.text(ID)!;
        open!.hash.addRow(row, encoded, { id, ref: row.text(REF) });
        open!.rangeCount++;
        open!.lastUs = row.text(AT)!;
        open!.lastId = id;
        if (open!.rangeCount === options.maxRowsPerSeal) finish();
      },
      beforeChunk,
    );
    finish(end);
    // the month's seals, before the next month is read
    made.push(...(await insertSeals(runner, pending.splice(0))));
  }
  await runner.query(`SELECT set_config('enable_indexscan', $1, true)`, [
    indexscan,
  ]);
  // firms with late arrivals only
  for (const firm of [...late.keys()]) {
    start(firm);
    finish(Number(uptoUs));
  }
  made.push(...(await insertSeals(runner, pending.splice(0))));
  const run = await recordRun(runner, log, firmId, {
    seq: runSeq,
    upto,
    snapshot,
    xid,
    options,
  });
  return { seals: made, run };
}
