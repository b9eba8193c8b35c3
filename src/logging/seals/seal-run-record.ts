import type { QueryRunner } from 'typeorm';
import { LOG_SEAL_RUN_TABLE } from '../entities/log-seal-run.entity.js';
import type { SealableLog } from './seal-encoding.js';
import type { ResolvedSealOptions } from './seal.options.js';
import type { SealRun } from './seal.types.js';
import {
  GENESIS_DIGEST,
  headsAfter,
  headsDigest,
  runDigest,
  usSql,
} from './seal-runs.js';

const instant = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Columns of `log_seal_run` as a {@link SealRun}, for RETURNING and SELECT. */
export const RUN_SELECT_SQL = `
  log, seq, firm_id AS "firmId", ${instant('upto')} AS upto, sealed_at AS "sealedAt",
  late_window_ms::float8 AS "lateWindowMs", settle_ms::float8 AS "settleMs",
  heads_count AS "headsCount", encode(prev_digest, 'hex') AS "prevDigest",
  encode(digest, 'hex') AS digest`;

/**
 * Records run `seq` of `log` (of every firm, or of `firmId`) at the end of its transaction on
 * `runner`, after its seals: the cutoff, snapshot and windows it used, the ids of the rows sealed
 * with a `created_at` within `logging_clock_bound()` of the run (`edge_ids`: a later version of
 * one of them is an edit, never a late arrival), and the digest over the previous run's, these
 * fields and every covered firm's head.
 */
export async function recordRun(
  runner: QueryRunner,
  log: SealableLog,
  firmId: string | undefined,
  {
    seq,
    upto,
    snapshot,
    xid,
    options,
  }: {
    seq: number;
    upto: string;
    snapshot: string;
    xid: string;
    options: ResolvedSealOptions;
  },
): Promise<SealRun> {
  const [{ edgeIds, sealedAtUs, uptoUs, prevDigest }] = (await runner.query(
    `SELECT coalesce((SELECT array_agg(a.id ORDER BY a.id) FROM ${log} a
                       WHERE a.created_at >= now() - logging_clock_bound()
                         AND a.created_at <= $2::timestamptz
                         AND ($3::uuid IS NULL OR a.firm_id = $3::uuid)), '{}') AS "edgeIds",
            ${usSql('now()')} AS "sealedAtUs", ${usSql('$2::timestamptz')} AS "uptoUs",
            coalesce((SELECT encode(digest, 'hex') FROM ${LOG_SEAL_RUN_TABLE}
                       WHERE log = $1 ORDER BY seq DESC LIMIT 1), $4) AS "prevDigest"`,
    [log, upto, firmId ?? null, GENESIS_DIGEST],
  )) as {
    edgeIds: string[];
    sealedAtUs: string;
    uptoUs: string;
    prevDigest: string;
  }[];
  const heads = await headsAfter(runner, log, firmId ?? null, seq);
  const fields = {
    seq,
    firmId: firmId ?? null,
    uptoUs,
    sealedAtUs,
    snapshot,
    xid,
    lateWindowMs: options.lateWindowMs,
    settleMs: options.settleMs,
    edgeIds,
    headsCount: heads.length,
    headsDigest: headsDigest(heads),
    prevDigest,
  };
  const [run] = (await runner.query(
    `INSERT INTO ${LOG_SEAL_RUN_TABLE} (log, seq, firm_id, upto, snapshot, xid, late_window_ms,
                                        settle_ms, edge_ids, heads_count, heads_digest,
                                        prev_digest, digest)
     VALUES ($1, $2, $3, $4::timestamptz, $5, $13, $6, $7, $8::uuid[], $9, decode($10, 'hex'),
             decode($11, 'hex'), decode($12, 'hex'))
     RETURNING ${RUN_SELECT_SQL}`,
    [
      log,
      seq,
      fields.firmId,
      upto,
      snapshot,
      fields.lateWindowMs,
      fields.settleMs,
      edgeIds,
      fields.headsCount,
      fields.headsDigest,
      prevDigest,
      runDigest(log, fields),
      xid,
    ],
  )) as SealRun[];
  return run;
}
