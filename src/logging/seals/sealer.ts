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
 *
 * The `age()` test is cheap and implied by the exact one: a row whose transaction is older than
 * the snapshot's xmin was visible in it. So only the rows written since reach the 64-bit xid
 * arithmetic, which over the whole late window would double the check's cost. It is left out when
 * the snapshot is older than 2^31 transactions, where `age()` wraps.
 */
export function lateRowSql(log: SealableLog, window: string): string {
  const snapshotXmin = `age(xid(pg_snapshot_xmin(h.snapshot::pg_snapshot)))`;
  return `a.firm_id = h.firm_id
       AND (a.created_at, a.id) <= (h.to_created_at, h.to_id)
       AND a.created_at > h.sealed_at - ${window} * interval '1 millisecond'
       AND h.snapshot IS NOT NULL
       AND (age(a.xmin) <= ${snapshotXmin} OR ${snapshotXmin} < 0)
       AND pg_snapshot_xmax(pg_current_snapshot()) >= pg_snapshot_xmax(h.snapshot::pg_snapshot)
       AND NOT pg_visible_in_snapshot(${XID8_SQL}, h.snapshot::pg_snapshot)
       AND NOT EXISTS (
         SELECT 1 FROM ${LOG_SEAL_TABLE} l
          WHERE l.log = '${log}' AND l.firm_id = h.firm_id AND a.id = ANY (l.late_ids))`;
}

/** The last seal of each firm of `log` (`$1`), or of firm `$2` when not null. */
export const HEADS_SQL = `
  SELECT DISTINCT ON (firm_id) * FROM ${LOG_SEAL_TABLE}
   WHERE log = $1 AND ($2::uuid IS NULL OR firm_id = $2::uuid)
   ORDER BY firm_id, seq DESC`;

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
}

/**
 * Seals the new rows of `log`, of one firm or of every firm, inside the caller's REPEATABLE READ
 * transaction on `runner`, whose snapshot each seal records. Reads every new row once, in
 * `(firm_id, created_at, id)` order through a cursor, encoded in SQL, and hashes in Node. Returns the seals made,
 * in chain order per firm.
 */
export async function sealLog(
  runner: QueryRunner,
  log: SealableLog,
  firmId: string | undefined,
  options: ResolvedSealOptions,
  /** Awaited before each chunk of rows is read: where background sealing gives way. */
  beforeChunk: () => Promise<void> = () => Promise.resolve(),
): Promise<Seal[]> {
  // The first statement fixes the transaction's snapshot; the bound is by the database clock.
  const [{ snapshot, upto }] = await select<{ snapshot: string; upto: string }>(
    runner,
    `SELECT pg_current_snapshot()::text AS snapshot,
            (now() - $1 * interval '1 millisecond')::text AS upto`,
    [options.settleMs],
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
  const columns = `a.id::text AS c0, a.created_at::text AS ts,
    ${encodingSql(log, await isUtf8(runner), SEAL_ENCODING)} AS enc,
    a.${SEAL_REFERENCES[log].column}::text AS ref`;
  const late = new Map<string, Row[]>();
  // Every seal looks for late arrivals over the whole late window. One pass over it, the heads
  // hashed: a nested loop would read the window once per firm, and firms' rows share pages.
  const [{ nestloop }] = await select<{ nestloop: string }>(
    runner,
    `SELECT current_setting('enable_nestloop') AS nestloop`,
  );
  await runner.query(`SET LOCAL enable_nestloop = off`);
  for (const row of await select<Row>(
    runner,
    `SELECT a.firm_id::text AS firm, ${columns}
       FROM (${HEADS_SQL}) h JOIN ${log} a ON ${lateRowSql(log, '$3')}
      WHERE a.created_at > (SELECT min(sealed_at) FROM (${HEADS_SQL}) m) - $3 * interval '1 millisecond'
      ORDER BY a.firm_id, a.created_at, a.id`,
    [log, firmId ?? null, options.lateWindowMs],
  )) {
    late.set(row.firm, [...(late.get(row.firm) ?? []), row]);
  }
  await runner.query(`SELECT set_config('enable_nestloop', $1, true)`, [
    nestloop,
  ]);

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
  const finish = async () => {
    if (!open || open.hash.rows === 0) return;
    const { firm, head, hash, lateIds, rangeCount, last } = open;
    const [seal] = await select<Seal>(
      runner,
      `INSERT INTO ${LOG_SEAL_TABLE} (log, firm_id, seq, from_created_at, from_id, to_created_at,
                                      to_id, range_count, late_ids, row_count, prev_digest,
                                      digest, snapshot, encoding, ref_ids, ref_rows, ref_digests)
       VALUES ($1, $2, $3, $4::timestamptz, $5, $6::timestamptz, $7, $8, $9::uuid[], $10,
               decode($11, 'hex'), decode($12, 'hex'), $13, $14, $15::uuid[], $16::int[],
               $17::bytea[])
       RETURNING ${SEAL_SELECT_SQL}`,
      [
        log,
        firm,
        (head?.seq ?? 0) + 1,
        head?.toAt ?? null,
        head?.toId ?? null,
        last ? last.ts : head!.toAt,
        last ? last.c0 : head!.toId,
        rangeCount,
        lateIds,
        hash.rows,
        head?.digest ?? GENESIS_DIGEST,
        hash.digest(),
        snapshot,
        SEAL_ENCODING,
        ...referenceGroupColumns(hash.groups?.list() ?? []),
      ],
    );
    made.push(seal);
    heads.set(firm, {
      seq: seal.seq,
      digest: seal.digest,
      toAt: last ? last.ts : head!.toAt,
      toId: seal.toId,
    });
    open = undefined;
  };

  // the new rows are sorted once; in memory up to this much, on disk beyond
  await runner.query(`SET LOCAL work_mem = '128MB'`);
  await runner.query(
    `DECLARE logging_seal_rows NO SCROLL CURSOR FOR
       SELECT a.firm_id::text AS firm, ${columns}
         FROM ${log} a LEFT JOIN (${HEADS_SQL}) h ON h.firm_id = a.firm_id
        WHERE ($2::uuid IS NULL OR a.firm_id = $2::uuid) AND a.created_at < $3::timestamptz
          AND (h.id IS NULL OR (a.created_at, a.id) > (h.to_created_at, h.to_id))
        ORDER BY a.firm_id, a.created_at, a.id`,
    [log, firmId ?? null, upto],
  );
  for (;;) {
    await beforeChunk();
    const rows = await select<Row>(
      runner,
      `FETCH ${FETCH} FROM logging_seal_rows`,
    );
    for (const row of rows) {
      if (open?.firm !== row.firm) {
        await finish();
        start(row.firm);
      }
      open!.hash.add(row.enc, { id: row.c0, ref: row.ref });
      open!.rangeCount++;
      open!.last = row;
      if (open!.rangeCount === options.maxRowsPerSeal) await finish();
    }
    if (rows.length < FETCH) break;
  }
  await finish();
  await runner.query('CLOSE logging_seal_rows');
  // firms with late arrivals only
  for (const firm of [...late.keys()]) {
    start(firm);
    await finish();
  }
  return made;
}
