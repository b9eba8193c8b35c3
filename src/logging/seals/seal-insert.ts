import type { QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import type { SealableLog } from './seal-encoding.js';
import { instantSql } from './seal-runs.js';
import type { Seal } from './seal.types.js';

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
export interface PendingSeal {
  log: SealableLog;
  firm_id: string;
  seq: number;
  /** The range's bounds: created_at in microseconds since 1970-01-01T00:00:00Z, and id. */
  from_us: string | null;
  from_id: string | null;
  to_us: string;
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

/**
 * Inserts `seals`, {@link INSERT_BATCH} to a statement, and returns them as {@link Seal}s, in the
 * same order.
 */
export async function insertSeals(
  runner: QueryRunner,
  seals: PendingSeal[],
): Promise<Seal[]> {
  const made: Seal[] = [];
  for (let i = 0; i < seals.length; i += INSERT_BATCH) {
    made.push(...(await insertBatch(runner, seals.slice(i, i + INSERT_BATCH))));
  }
  return made;
}

/** Inserts `seals` with one statement and returns them as {@link Seal}s, in the same order. */
async function insertBatch(
  runner: QueryRunner,
  seals: PendingSeal[],
): Promise<Seal[]> {
  const inserted = (await runner.query(
    `INSERT INTO ${LOG_SEAL_TABLE} (log, firm_id, seq, from_created_at, from_id, to_created_at,
                                    to_id, range_count, late_ids, row_count, prev_digest, digest,
                                    snapshot, run_seq, encoding, ref_ids, ref_rows, ref_digests)
     SELECT x.log, x.firm_id, x.seq, ${instantSql('x.from_us')}, x.from_id, ${instantSql('x.to_us')}, x.to_id,
            x.range_count, x.late_ids, x.row_count, decode(x.prev_digest, 'hex'),
            decode(x.digest, 'hex'), x.snapshot, x.run_seq, x.encoding, x.ref_ids, x.ref_rows,
            ARRAY(SELECT decode(d, 'hex') FROM unnest(x.ref_digests) WITH ORDINALITY AS u(d, o) ORDER BY o)
       FROM jsonb_to_recordset($1::jsonb) AS x(
              log text, firm_id uuid, seq int, from_us bigint, from_id uuid,
              to_us bigint, to_id uuid, range_count int, late_ids uuid[],
              row_count bigint, prev_digest text, digest text, snapshot text, run_seq int,
              encoding smallint, ref_ids uuid[], ref_rows int[], ref_digests text[])
     RETURNING ${SEAL_SELECT_SQL}`,
    [JSON.stringify(seals)],
  )) as Seal[];
  const bySeal = new Map(inserted.map((s) => [`${s.firmId}:${s.seq}`, s]));
  return seals.map((s) => bySeal.get(`${s.firm_id}:${s.seq}`)!);
}
