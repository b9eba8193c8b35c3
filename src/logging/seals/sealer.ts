import type { QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import {
  digestSql,
  GENESIS_DIGEST,
  type SealableLog,
} from './seal-encoding.js';
import type { ResolvedSealOptions } from './seal.options.js';
import type { Seal } from './seal.types.js';

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

/**
 * The 64-bit transaction id of a row's 32-bit `xmin` (alias `a`), in the epoch of the current
 * snapshot: every committed xid is below its xmax.
 */
const XID8_SQL = (() => {
  const ref = `pg_snapshot_xmax(pg_current_snapshot())::text::bigint`;
  const low = `a.xmin::text::bigint`;
  return `((((${ref} >> 32) << 32) | ${low}) - CASE WHEN ${low} > (${ref} & 4294967295) THEN 4294967296 ELSE 0 END)::text::xid8`;
})();

/**
 * Condition on a log row `a` and its firm's last seal `h`: the row is a late arrival. It lies inside
 * the sealed ranges, was not visible in the snapshot the last seal was made in, is not already a
 * listed late arrival, and was created less than the late window (parameter `window`, ms) before
 * that seal was made. A snapshot from another cluster (after a restore) finds none: its xids are
 * not comparable, and rows restored are not late.
 */
export function lateRowSql(log: SealableLog, window: string): string {
  return `a.firm_id = h.firm_id
       AND (a.created_at, a.id) <= (h.to_created_at, h.to_id)
       AND a.created_at > h.sealed_at - ${window} * interval '1 millisecond'
       AND h.snapshot IS NOT NULL
       AND pg_snapshot_xmax(pg_current_snapshot()) >= pg_snapshot_xmax(h.snapshot::pg_snapshot)
       AND NOT pg_visible_in_snapshot(${XID8_SQL}, h.snapshot::pg_snapshot)
       AND NOT EXISTS (
         SELECT 1 FROM ${LOG_SEAL_TABLE} l
          WHERE l.log = '${log}' AND l.firm_id = h.firm_id AND a.id = ANY (l.late_ids))`;
}

/** The last seal of each firm of `log` (`$1`), or of firm `$2` when not null. */
const headsSql = `
  SELECT DISTINCT ON (firm_id) * FROM ${LOG_SEAL_TABLE}
   WHERE log = $1 AND ($2::uuid IS NULL OR firm_id = $2::uuid)
   ORDER BY firm_id, seq DESC`;

/**
 * Seals the new rows of `log`, of one firm or of every firm, inside the caller's REPEATABLE READ
 * transaction on `runner`, whose snapshot each seal records. Returns the seals made, in chain order
 * per firm.
 */
export async function sealLog(
  runner: QueryRunner,
  log: SealableLog,
  firmId: string | undefined,
  options: ResolvedSealOptions,
): Promise<Seal[]> {
  // The first statement fixes the transaction's snapshot; the bound is by the database clock.
  const [{ snapshot, upto }] = await select<{ snapshot: string; upto: string }>(
    runner,
    `SELECT pg_current_snapshot()::text AS snapshot,
            (now() - $1 * interval '1 millisecond')::text AS upto`,
    [options.settleMs],
  );
  const firms = await select<{ id: string }>(
    runner,
    `WITH h AS (${headsSql})
     SELECT f.id FROM firms f LEFT JOIN h ON h.firm_id = f.id
      WHERE ($2::uuid IS NULL OR f.id = $2::uuid)
        AND (EXISTS (
              SELECT 1 FROM ${log} a
               WHERE a.firm_id = f.id AND a.created_at < $3::timestamptz
                 AND (h.id IS NULL OR (a.created_at, a.id) > (h.to_created_at, h.to_id)))
          OR (h.id IS NOT NULL AND EXISTS (
              SELECT 1 FROM ${log} a WHERE ${lateRowSql(log, '$4')})))
      ORDER BY f.id`,
    [log, firmId ?? null, upto, options.lateWindowMs],
  );
  const made: Seal[] = [];
  for (const { id } of firms) {
    for (;;) {
      const [head] = await select<{ id: string }>(
        runner,
        `SELECT id FROM (${headsSql}) h`,
        [log, id],
      );
      const late = head
        ? (
            await select<{ id: string }>(
              runner,
              `SELECT a.id FROM ${log} a, ${LOG_SEAL_TABLE} h
                WHERE h.id = $1 AND ${lateRowSql(log, '$2')}
                ORDER BY a.created_at, a.id`,
              [head.id, options.lateWindowMs],
            )
          ).map((row) => row.id)
        : [];
      const [seal] = await select<Seal>(runner, insertSealSql(log), [
        log,
        id,
        upto,
        options.maxRowsPerSeal,
        late,
        snapshot,
        head?.id ?? null,
      ]);
      if (!seal) break;
      made.push(seal);
      if (seal.rangeCount < options.maxRowsPerSeal) break;
    }
  }
  return made;
}

/**
 * One seal of firm `$2`: the rows after its last seal (`$7`) created before `$3`, at most `$4` of
 * them, and the late arrivals `$5`. Nothing is inserted when there is no row.
 */
function insertSealSql(log: SealableLog): string {
  return `
    WITH h AS (SELECT * FROM ${LOG_SEAL_TABLE} WHERE id = $7::uuid),
    fresh AS (
      SELECT a.* FROM ${log} a
       WHERE a.firm_id = $2 AND a.created_at < $3::timestamptz
         AND NOT EXISTS (SELECT 1 FROM h WHERE (a.created_at, a.id) <= (h.to_created_at, h.to_id))
       ORDER BY a.created_at, a.id
       LIMIT $4),
    last AS (SELECT created_at, id FROM fresh ORDER BY created_at DESC, id DESC LIMIT 1),
    sealed AS (
      SELECT * FROM fresh
      UNION ALL
      SELECT a.* FROM ${log} a WHERE a.firm_id = $2 AND a.id = ANY ($5::uuid[])),
    prev AS (SELECT coalesce((SELECT digest FROM h), '\\x${GENESIS_DIGEST}'::bytea) AS digest),
    agg AS (SELECT count(*) AS n, ${digestSql(log, '(SELECT digest FROM prev)')} AS d FROM sealed a)
    INSERT INTO ${LOG_SEAL_TABLE} (log, firm_id, seq, from_created_at, from_id, to_created_at,
                                   to_id, range_count, late_ids, row_count, prev_digest, digest,
                                   snapshot)
    SELECT $1, $2, coalesce((SELECT seq FROM h), 0) + 1,
           (SELECT to_created_at FROM h), (SELECT to_id FROM h),
           coalesce((SELECT created_at FROM last), (SELECT to_created_at FROM h)),
           coalesce((SELECT id FROM last), (SELECT to_id FROM h)),
           (SELECT count(*) FROM fresh), $5::uuid[], agg.n, (SELECT digest FROM prev), agg.d, $6
      FROM agg WHERE agg.n > 0
    RETURNING ${SEAL_SELECT_SQL}`;
}
