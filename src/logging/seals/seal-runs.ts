import { createHash } from 'node:crypto';
import type { EntityManager, QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { LOG_SEAL_RUN_TABLE } from '../entities/log-seal-run.entity.js';
import { GENESIS_DIGEST, type SealableLog } from './seal-encoding.js';

/**
 * Seal runs (docs/tamper-evidence.md, "Runs"): which rows a run seals, which rows are late
 * arrivals, and the run's own record. A run covers every firm (or one) up to its cutoff `upto`;
 * the run that last covered a firm is its *cover*: rows of the firm dated at or before the cover's
 * `upto` were sealed then, are late arrivals by the rule below, or were inserted afterwards.
 */

type Db = Pick<EntityManager | QueryRunner, 'query'>;

/** The largest uuid: a range that ends at `(upto, MAX_UUID)` takes in every row dated `upto`. */
export const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** SQL of an instant as microseconds since 1970 in decimal, as the encodings write it. */
export const usSql = (column: string) =>
  `(extract(epoch FROM ${column}) * 1000000)::bigint::text`;

/** SQL of the instant `us` microseconds (a bigint) after 1970-01-01T00:00:00Z; exact. */
export const instantSql = (us: string) =>
  `timestamptz 'epoch' + ${us} * interval '1 microsecond'`;

/** A run as verification and the late rule read it. */
export interface RunRow {
  seq: number;
  firmId: string | null;
  /** The cutoff as PostgreSQL's text (exact to the microsecond, for parameters) and in µs. */
  upto: string;
  uptoUs: string;
  sealedAtUs: string;
  snapshot: string;
  /** The run's own 64-bit transaction id, taken with its snapshot. */
  xid: string;
  lateWindowMs: number;
  settleMs: number;
  edgeIds: string[];
  headsCount: number;
  headsDigest: string;
  prevDigest: string;
  digest: string;
}

const RUN_ROW_SQL = `seq, firm_id AS "firmId", upto::text AS upto, ${usSql('upto')} AS "uptoUs",
  ${usSql('sealed_at')} AS "sealedAtUs", snapshot, xid::text AS xid, late_window_ms::float8 AS "lateWindowMs",
  settle_ms::float8 AS "settleMs", edge_ids AS "edgeIds", heads_count AS "headsCount",
  encode(heads_digest, 'hex') AS "headsDigest", encode(prev_digest, 'hex') AS "prevDigest",
  encode(digest, 'hex') AS digest`;

/** Every run of `log`, in order. */
export function readRuns(db: Db, log: SealableLog): Promise<RunRow[]> {
  return db.query(
    `SELECT ${RUN_ROW_SQL} FROM ${LOG_SEAL_RUN_TABLE} WHERE log = $1 ORDER BY seq`,
    [log],
  ) as Promise<RunRow[]>;
}

/**
 * The covers of a log's firms: the latest run over every firm (`all`), and the firms' own runs
 * made after it (`firms`). A firm's cover is its entry in `firms`, else `all`; a firm with neither
 * was never covered by a run (its seals, if any, predate runs).
 */
export interface Covers {
  all: RunRow | undefined;
  firms: Map<string, RunRow>;
}

/** The covers of every firm of `log`, or of firm `firmId`. */
export async function readCovers(
  db: Db,
  log: SealableLog,
  firmId: string | undefined,
): Promise<Covers> {
  const rows = (await db.query(
    `WITH g AS (SELECT coalesce(max(seq), 0) AS gseq FROM ${LOG_SEAL_RUN_TABLE}
                 WHERE log = $1 AND firm_id IS NULL)
     SELECT ${RUN_ROW_SQL} FROM ${LOG_SEAL_RUN_TABLE} r, g
      WHERE r.log = $1 AND (r.seq = g.gseq OR r.firm_id IS NOT NULL AND r.seq > g.gseq
                                              AND ($2::uuid IS NULL OR r.firm_id = $2::uuid))
      ORDER BY r.seq`,
    [log, firmId ?? null],
  )) as RunRow[];
  const covers: Covers = { all: undefined, firms: new Map() };
  for (const row of rows) {
    if (row.firmId === null) covers.all = row;
    else covers.firms.set(row.firmId, row);
  }
  return covers;
}

/**
 * Parameters of {@link coverJoinSql}: the firms with a cover of their own, their runs' seqs, and
 * the seq of the run over every firm (null when none).
 */
export function coverParams(
  covers: Covers,
): [(string | null)[], number[], number | null] {
  const own = [...covers.firms.values()];
  return [
    own.map((run) => run.firmId),
    own.map((run) => run.seq),
    covers.all?.seq ?? null,
  ];
}

/**
 * SQL joining each row `a` of `log` to its firm's cover run `p`, with the parameters of
 * {@link coverParams} from `$<first>` on. Rows of firms without a cover are dropped, or with
 * `left` kept with `p` null.
 */
export function coverJoinSql(
  log: SealableLog,
  first: number,
  left = false,
): string {
  const [firms, seqs, all] = [first, first + 1, first + 2];
  return `LEFT JOIN unnest($${firms}::uuid[], $${seqs}::int[]) AS c(firm_id, seq) ON c.firm_id = a.firm_id
          ${left ? 'LEFT ' : ''}JOIN ${LOG_SEAL_RUN_TABLE} p ON p.log = '${log}' AND p.seq = coalesce(c.seq, $${all}::int)`;
}

/**
 * The 64-bit transaction id of a row's 32-bit `xmin` (alias `a`), in the epoch of the current
 * snapshot: every committed xid is below its xmax.
 */
export const XID8_SQL = (() => {
  const ref = `pg_snapshot_xmax(pg_current_snapshot())::text::bigint`;
  const low = `a.xmin::text::bigint`;
  return `((((${ref} >> 32) << 32) | ${low}) - CASE WHEN ${low} > (${ref} & 4294967295) THEN 4294967296 ELSE 0 END)::text::xid8`;
})();

/** Not listed as a late arrival by any seal of its firm. */
const notListedSql = (log: SealableLog, firm: string) => `NOT EXISTS (
  SELECT 1 FROM ${LOG_SEAL_TABLE} l
   WHERE l.log = '${log}' AND l.firm_id = ${firm} AND a.id = ANY (l.late_ids))`;

/**
 * Condition on a log row `a` and its firm's cover run `p`: the row is a late arrival, decided by
 * the database. It is dated within the run's late window and at or before its cutoff, was not
 * visible in the run's snapshot, is not listed as a late arrival already, and its transaction
 * either was in progress when the snapshot was taken (its xid below the run's own, which the run
 * took with its snapshot: a snapshot's xmax is only one past the last xid completed), or began
 * after it with a `created_at` no earlier than `logging_clock_bound()` before the run: the bound
 * the database holds any role but the owner to. An owner's UPDATE of a sealed row makes a version
 * of neither kind (the rows sealed that close to the run are listed in its `edge_ids`), so an
 * edit is never taken in. A snapshot of another cluster (after a restore) finds none.
 *
 * The `age()` test is cheap and implied by the exact one: a row whose transaction is older than
 * the snapshot's xmin was visible in it, so only the rows written since reach the 64-bit xid
 * arithmetic. It is left out when the snapshot is older than 2^31 transactions, where `age()` wraps.
 */
export function lateVsRunSql(log: SealableLog): string {
  const snapshot = `p.snapshot::pg_snapshot`;
  const snapshotXmin = `age(xid(pg_snapshot_xmin(${snapshot})))`;
  return `a.created_at <= p.upto
       AND a.created_at > p.sealed_at - p.late_window_ms * interval '1 millisecond'
       AND (age(a.xmin) <= ${snapshotXmin} OR ${snapshotXmin} < 0)
       AND pg_snapshot_xmax(pg_current_snapshot()) >= pg_snapshot_xmax(${snapshot})
       AND NOT pg_visible_in_snapshot(${XID8_SQL}, ${snapshot})
       AND (${XID8_SQL} < p.xid::text::xid8
            OR a.created_at >= p.sealed_at - logging_clock_bound())
       AND a.id <> ALL (p.edge_ids)
       AND ${notListedSql(log, 'a.firm_id')}`;
}

/**
 * The late rule of seals made before runs, for firms no run has covered yet: a row inside the last
 * seal's range `h`, not visible in its snapshot, created less than `window` ms before it was made.
 */
export function lateVsSealSql(log: SealableLog, window: string): string {
  const snapshotXmin = `age(xid(pg_snapshot_xmin(h.snapshot::pg_snapshot)))`;
  return `a.firm_id = h.firm_id
       AND (a.created_at, a.id) <= (h.to_created_at, h.to_id)
       AND a.created_at > h.sealed_at - ${window} * interval '1 millisecond'
       AND h.snapshot IS NOT NULL
       AND (age(a.xmin) <= ${snapshotXmin} OR ${snapshotXmin} < 0)
       AND pg_snapshot_xmax(pg_current_snapshot()) >= pg_snapshot_xmax(h.snapshot::pg_snapshot)
       AND NOT pg_visible_in_snapshot(${XID8_SQL}, h.snapshot::pg_snapshot)
       AND ${notListedSql(log, 'h.firm_id')}`;
}

/** The last seal of each firm of `log` (`$1`), or of firm `$2` when not null. */
export const HEADS_SQL = `
  SELECT DISTINCT ON (firm_id) * FROM ${LOG_SEAL_TABLE}
   WHERE log = $1 AND ($2::uuid IS NULL OR firm_id = $2::uuid)
   ORDER BY firm_id, seq DESC`;

/**
 * The late arrivals of `log` (of every firm, or of firm `firmId`), as `select` columns over `a`
 * with the firm first, in `(firm_id, created_at, id)` order: by {@link lateVsRunSql} for firms
 * with a cover, by {@link lateVsSealSql} (window `legacyWindowMs`) for firms whose seals predate
 * runs. One pass over the late window: the covers are hashed, not probed per row.
 */
export async function lateRows<T>(
  db: Db,
  log: SealableLog,
  firmId: string | undefined,
  covers: Covers,
  legacyWindowMs: number,
  columns: string,
): Promise<T[]> {
  const found: T[] = [];
  const [{ nestloop }] = (await db.query(
    `SELECT current_setting('enable_nestloop') AS nestloop`,
  )) as { nestloop: string }[];
  await db.query(`SET LOCAL enable_nestloop = off`);
  if (covers.all || covers.firms.size) {
    found.push(
      ...((await db.query(
        `SELECT ${columns} FROM ${log} a ${coverJoinSql(log, 2)}
          WHERE ($1::uuid IS NULL OR a.firm_id = $1::uuid)
            AND a.created_at > $5::timestamptz AND ${lateVsRunSql(log)}
          ORDER BY a.firm_id, a.created_at, a.id`,
        [
          firmId ?? null,
          ...coverParams(covers),
          earliestLate([covers.all, ...covers.firms.values()]),
        ],
      )) as T[]),
    );
  }
  if (!covers.all) {
    // firms whose seals predate runs, and that no run of their own has covered
    found.push(
      ...((await db.query(
        `SELECT ${columns}
           FROM (${HEADS_SQL}) h JOIN ${log} a ON ${lateVsSealSql(log, '$3')}
          WHERE h.firm_id <> ALL ($4::uuid[])
            AND a.created_at > (SELECT min(sealed_at) FROM (${HEADS_SQL}) m) - $3 * interval '1 millisecond'
          ORDER BY a.firm_id, a.created_at, a.id`,
        [log, firmId ?? null, legacyWindowMs, [...covers.firms.keys()]],
      )) as T[]),
    );
  }
  await db.query(`SELECT set_config('enable_nestloop', $1, true)`, [nestloop]);
  return found;
}

/** The earliest created_at any of `runs` may take in late, as an instant (text). */
function earliestLate(runs: (RunRow | undefined)[]): string {
  let us: bigint | undefined;
  for (const run of runs) {
    if (!run) continue;
    const start =
      BigInt(run.sealedAtUs) - BigInt(Math.round(run.lateWindowMs * 1000));
    if (us === undefined || start < us) us = start;
  }
  return new Date(Number((us ?? 0n) / 1000n) - 1).toISOString();
}

/** One length-prefixed field, as the row encoding writes them; `-` for null. */
const field = (text: string | number | null) =>
  text === null ? '-' : `${Buffer.byteLength(String(text))}:${text}`;

/**
 * The digest of the heads a run commits to: SHA-256 of `<firm><seq><digest>` for each firm in
 * `firm_id` order, each field length-prefixed.
 */
export function headsDigest(
  heads: { firmId: string; seq: number; digest: string }[],
): string {
  const hash = createHash('sha256');
  for (const head of heads) {
    hash.update(field(head.firmId) + field(head.seq) + field(head.digest));
  }
  return hash.digest('hex');
}

/**
 * A run's digest: SHA-256 of its previous run's digest, then its fields (log, seq, firm, upto and
 * sealed_at in µs, snapshot, xid, late window, settle window, edge ids sorted and joined by `,`, heads
 * count), each length-prefixed, then its heads digest.
 */
export function runDigest(
  log: SealableLog,
  run: Omit<RunRow, 'upto' | 'digest'>,
): string {
  const fields = [
    log,
    run.seq,
    run.firmId,
    run.uptoUs,
    run.sealedAtUs,
    run.snapshot,
    run.xid,
    run.lateWindowMs,
    run.settleMs,
    [...run.edgeIds].sort().join(','),
    run.headsCount,
  ];
  return createHash('sha256')
    .update(Buffer.from(run.prevDigest, 'hex'))
    .update(fields.map(field).join(''), 'utf8')
    .update(Buffer.from(run.headsDigest, 'hex'))
    .digest('hex');
}

/** The heads of `log` after run `runSeq` (every firm's, or `firmId`'s), in firm order. */
export function headsAfter(
  db: Db,
  log: SealableLog,
  firmId: string | null,
  runSeq: number,
): Promise<{ firmId: string; seq: number; digest: string }[]> {
  return db.query(
    `SELECT DISTINCT ON (firm_id) firm_id::text AS "firmId", seq, encode(digest, 'hex') AS digest
       FROM ${LOG_SEAL_TABLE}
      WHERE log = $1 AND ($2::uuid IS NULL OR firm_id = $2::uuid)
        AND (run_seq IS NULL OR run_seq <= $3)
      ORDER BY firm_id, seq DESC`,
    [log, firmId, runSeq],
  ) as Promise<{ firmId: string; seq: number; digest: string }[]>;
}

export { GENESIS_DIGEST };
