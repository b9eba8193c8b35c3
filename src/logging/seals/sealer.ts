import type { QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { encodingSql, isUtf8 } from './seal-digest-sql.js';
import {
  GENESIS_DIGEST,
  SEAL_ENCODING,
  SEAL_REFERENCES,
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
} from './seal-runs.js';
import { recordRun } from './seal-run-record.js';

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

/** Rows fetched from a cursor at a time: one chunk of sealing work. */
const FETCH = 10_000;

const instant = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Columns of `log_seal` as a {@link Seal}, for RETURNING and SELECT. */
export const SEAL_SELECT_SQL = `
  log, firm_id AS "firmId", seq, kind,
  ${instant('from_created_at')} AS "fromCreatedAt", from_id AS "fromId",
  ${instant('to_created_at')} AS "toCreatedAt", to_id AS "toId",
  range_count AS "rangeCount", late_ids AS "lateIds", row_count::float8 AS "rowCount",
  encode(prev_digest, 'hex') AS "prevDigest", encode(digest, 'hex') AS digest,
  sealed_at AS "sealedAt"`;

/** Seals written by one INSERT: with 10,000 firms, a run makes thousands of them. */
const INSERT_BATCH = 1000;

/** A seal made in Node, as `log_seal`'s columns, waiting for its INSERT. */
interface PendingSeal {
  log: SealableLog;
  firm_id: string;
  seq: number;
  from_created_at: string | null;
  from_id: string | null;
  to_created_at: string;
  to_id: string;
  range_count: number;
  late_ids: string[];
  row_count: number;
  /** Hex. */
  prev_digest: string;
  digest: string;
  snapshot: string;
  run_seq: number;
  encoding: number;
  ref_ids: (string | null)[];
  ref_rows: number[];
  /** Hex. */
  ref_digests: string[];
}

/** Inserts `seals` with one statement and returns them as {@link Seal}s, in the same order. */
async function insertSeals(
  runner: QueryRunner,
  seals: PendingSeal[],
): Promise<Seal[]> {
  if (!seals.length) return [];
  const inserted = await select<Seal>(
    runner,
    `INSERT INTO ${LOG_SEAL_TABLE} (log, firm_id, seq, from_created_at, from_id, to_created_at,
                                    to_id, range_count, late_ids, row_count, prev_digest, digest,
                                    snapshot, run_seq, encoding, ref_ids, ref_rows, ref_digests)
     SELECT x.log, x.firm_id, x.seq, x.from_created_at, x.from_id, x.to_created_at, x.to_id,
            x.range_count, x.late_ids, x.row_count, decode(x.prev_digest, 'hex'),
            decode(x.digest, 'hex'), x.snapshot, x.run_seq, x.encoding, x.ref_ids, x.ref_rows,
            ARRAY(SELECT decode(d, 'hex') FROM unnest(x.ref_digests) WITH ORDINALITY AS u(d, o) ORDER BY o)
       FROM jsonb_to_recordset($1::jsonb) AS x(
              log text, firm_id uuid, seq int, from_created_at timestamptz, from_id uuid,
              to_created_at timestamptz, to_id uuid, range_count int, late_ids uuid[],
              row_count bigint, prev_digest text, digest text, snapshot text, run_seq int,
              encoding smallint, ref_ids uuid[], ref_rows int[], ref_digests text[])
     RETURNING ${SEAL_SELECT_SQL}`,
    [JSON.stringify(seals)],
  );
  const bySeal = new Map(inserted.map((s) => [`${s.firmId}:${s.seq}`, s]));
  return seals.map((s) => bySeal.get(`${s.firm_id}:${s.seq}`)!);
}

interface Head {
  seq: number;
  digest: string;
  /** created_at of the range's end, as text, and its id. */
  toAt: string | null;
  toId: string | null;
}

/** A row as the sealer reads it: its firm, id, created_at text, canonical encoding and reference. */
interface Row {
  firm: string;
  c0: string;
  ts: string;
  enc: string;
  ref: string | null;
  /** Where a seal of this row ends at the latest: its UTC month's last microsecond, or the cutoff. */
  end?: string;
}

/**
 * One run over `log`, of one firm or of every firm, inside the caller's REPEATABLE READ
 * transaction on `runner`, whose snapshot the run records: seals each firm's rows dated after its
 * cover's cutoff up to the run's (`now() - settleMs` by the database clock, never before the last
 * run's), with its late arrivals, then records the run, which covers every firm up to that cutoff,
 * the firms without new rows included. Reads every new row once, in `(firm_id, created_at, id)`
 * order through a cursor, encoded in SQL, and hashes in Node. Returns the seals made, in chain
 * order per firm, and the run.
 */
export async function sealLog(
  runner: QueryRunner,
  log: SealableLog,
  firmId: string | undefined,
  options: ResolvedSealOptions,
  /** Awaited before each chunk of rows is read: where background sealing gives way. */
  beforeChunk: () => Promise<void> = () => Promise.resolve(),
): Promise<{ seals: Seal[]; run: SealRun }> {
  // The first statement fixes the transaction's snapshot; the cutoff is by the database clock,
  // and never goes back: a run covers at least what the runs before it covered.
  const [{ snapshot, xid, upto, runSeq }] = await select<{
    snapshot: string;
    xid: string;
    upto: string;
    runSeq: number;
  }>(
    runner,
    `SELECT pg_current_snapshot()::text AS snapshot, pg_current_xact_id()::text AS xid,
            greatest(now() - $1 * interval '1 millisecond', max(upto))::text AS upto,
            coalesce(max(seq), 0) + 1 AS "runSeq"
       FROM log_seal_run WHERE log = $2`,
    [options.settleMs, log],
  );
  const heads = new Map<string, Head>();
  for (const head of await select<Head & { firmId: string }>(
    runner,
    `SELECT firm_id AS "firmId", seq, encode(digest, 'hex') AS digest,
            to_created_at::text AS "toAt", to_id AS "toId"
       FROM (${HEADS_SQL}) h`,
    [log, firmId ?? null],
  )) {
    heads.set(head.firmId, head);
  }
  const covers = await readCovers(runner, log, firmId);
  const columns = `a.id::text AS c0, a.created_at::text AS ts,
    ${encodingSql(log, await isUtf8(runner), SEAL_ENCODING)} AS enc,
    a.${SEAL_REFERENCES[log].column}::text AS ref`;
  const late = new Map<string, Row[]>();
  for (const row of await lateRows<Row>(
    runner,
    log,
    firmId,
    covers,
    options.lateWindowMs,
    `a.firm_id::text AS firm, ${columns}`,
  )) {
    late.set(row.firm, [...(late.get(row.firm) ?? []), row]);
  }

  const made: Seal[] = [];
  let open:
    | {
        firm: string;
        head: Head | undefined;
        hash: SealHash;
        lateIds: string[];
        rangeCount: number;
        last?: Row;
      }
    | undefined;
  const start = (firm: string) => {
    const head = heads.get(firm);
    const hash = new SealHash(head?.digest ?? GENESIS_DIGEST, SEAL_ENCODING);
    const lateRows = late.get(firm) ?? [];
    late.delete(firm);
    for (const row of lateRows) hash.add(row.enc, { id: row.c0, ref: row.ref });
    open = {
      firm,
      head,
      hash,
      lateIds: lateRows.map((r) => r.c0),
      rangeCount: 0,
    };
  };
  /**
   * Ends the open seal at its last row, or at instant `at` (taking in every row dated up to it):
   * the end of its rows' month, or the run's cutoff.
   */
  const finish = async (at?: string) => {
    if (!open || open.hash.rows === 0) return;
    const { firm, head, hash, lateIds, rangeCount } = open;
    const last = at === undefined ? open.last! : { ts: at, c0: MAX_UUID };
    const [refIds, refRows, refDigests] = referenceGroupColumns(
      hash.groups?.list() ?? [],
    );
    const seal: PendingSeal = {
      log,
      firm_id: firm,
      seq: (head?.seq ?? 0) + 1,
      from_created_at: head?.toAt ?? null,
      from_id: head?.toId ?? null,
      to_created_at: last.ts,
      to_id: last.c0,
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
    if (pending.length === INSERT_BATCH)
      made.push(...(await insertSeals(runner, pending.splice(0))));
    heads.set(firm, {
      seq: seal.seq,
      digest: seal.digest,
      toAt: last.ts,
      toId: seal.to_id,
    });
    open = undefined;
  };
  const pending: PendingSeal[] = [];

  // the new rows are sorted once; in memory up to this much, on disk beyond. Read in heap order
  // (a sequential scan for a backlog, a bitmap scan of the created_at index for a run's new rows),
  // never through idx_audit_log_firm_id, which would fetch the heap page of every row apart: with
  // thousands of firms the planner takes it to save the sort, and it reads 2.5 times slower.
  await runner.query(`SET LOCAL work_mem = '128MB'`);
  const [{ indexscan }] = await select<{ indexscan: string }>(
    runner,
    `SELECT current_setting('enable_indexscan') AS indexscan,
            set_config('enable_indexscan', 'off', true)`,
  );
  // the rows dated after the firm's cover, up to the cutoff (a firm without a cover: after its
  // last seal); every firm's cover is at least the last run over every firm
  await runner.query(
    `DECLARE logging_seal_rows NO SCROLL CURSOR FOR
       SELECT a.firm_id::text AS firm, ${columns},
              least((date_trunc('month', a.created_at AT TIME ZONE 'UTC') + interval '1 month'
                     - interval '1 microsecond') AT TIME ZONE 'UTC', $3::timestamptz)::text AS end
         FROM ${log} a LEFT JOIN (${HEADS_SQL}) h ON h.firm_id = a.firm_id
         ${coverJoinSql(log, 5, true)}
        WHERE ($2::uuid IS NULL OR a.firm_id = $2::uuid) AND a.created_at <= $3::timestamptz
          AND a.created_at > $4::timestamptz
          AND (h.id IS NULL OR (a.created_at, a.id) > (h.to_created_at, h.to_id))
          AND (p.id IS NULL OR a.created_at > p.upto)
        ORDER BY a.firm_id, a.created_at, a.id`,
    [
      log,
      firmId ?? null,
      upto,
      covers.all?.upto ?? '-infinity',
      ...coverParams(covers),
    ],
  );
  for (;;) {
    await beforeChunk();
    const rows = await select<Row>(
      runner,
      `FETCH ${FETCH} FROM logging_seal_rows`,
    );
    for (const row of rows) {
      // A seal never spans two months: retention purges whole seals, and purges by month.
      if (open && (open.firm !== row.firm || open.last?.end !== row.end)) {
        await finish(open.last?.end ?? upto);
      }
      if (!open) start(row.firm);
      open!.hash.add(row.enc, { id: row.c0, ref: row.ref });
      open!.rangeCount++;
      open!.last = row;
      if (open!.rangeCount === options.maxRowsPerSeal) await finish();
    }
    if (rows.length < FETCH) break;
  }
  await finish(open?.last?.end ?? upto);
  await runner.query('CLOSE logging_seal_rows');
  await runner.query(`SELECT set_config('enable_indexscan', $1, true)`, [
    indexscan,
  ]);
  // firms with late arrivals only
  for (const firm of [...late.keys()]) {
    start(firm);
    await finish(upto);
  }
  made.push(...(await insertSeals(runner, pending)));
  const run = await recordRun(runner, log, firmId, {
    seq: runSeq,
    upto,
    snapshot,
    xid,
    options,
  });
  return { seals: made, run };
}
