import type { EntityManager, QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import {
  SEAL_COLUMNS,
  canonicalText,
  type SealableLog,
} from './seal-encoding.js';

/**
 * SQL of a row's canonical encoding (alias `a`, docs/tamper-evidence.md): each column's text as
 * `<UTF-8 byte length>:<text>`, or `-` for NULL, in {@link SEAL_COLUMNS} order. `utf8` tells
 * whether the database encoding is UTF-8 (then a text's octet length is its UTF-8 length).
 */
export function encodingSql(log: SealableLog, utf8: boolean): string {
  return SEAL_COLUMNS[log]
    .map(([column, kind]) => {
      const text = canonicalText(column, kind);
      const bytes = utf8
        ? `octet_length(${text})`
        : `octet_length(convert_to(${text}, 'UTF8'))`;
      return `coalesce(${bytes}::text || ':' || ${text}, '-')`;
    })
    .join(' || ');
}

/** Whether the database encoding is UTF-8 (see {@link encodingSql}). */
export async function isUtf8(
  db: Pick<EntityManager | QueryRunner, 'query'>,
): Promise<boolean> {
  const [{ utf8 }] = (await db.query(
    `SELECT current_setting('server_encoding') = 'UTF8' AS utf8`,
  )) as { utf8: boolean }[];
  return utf8;
}

/**
 * SQL of a `(created_at, id)` key as bytes that sort as the pair does: created_at's 8 bytes
 * (sign bit flipped, so that instants before 2000 sort first), then the uuid's 16.
 */
function keySql(at: string, id: string): string {
  return `set_byte(timestamptz_send(${at}), 0, get_byte(timestamptz_send(${at}), 0) # 128) || uuid_send(${id})`;
}

/** The rows found for one seal: how many, and the digest they and the seal's prev_digest give. */
export interface SealRows {
  firmId: string;
  seq: number;
  n: number;
  digest: string;
}

/**
 * Recomputes, inside PostgreSQL and in one pass over `log`, the digest of the rows each seal of
 * `seqs` (firm → seqs, each firm's in order and contiguous) holds now, with the count. A row
 * belongs to the seal that lists it as a late arrival, else to the first of its firm's seals whose
 * range ends at or after it (found by `width_bucket` over the bounds); rows of `skip` (late
 * arrivals not sealed yet) are left out. Seals without rows are absent from the result.
 */
export async function sealRows(
  manager: EntityManager,
  log: SealableLog,
  seqs: Map<string, number[]>,
  skip: string[],
): Promise<SealRows[]> {
  if (!seqs.size) return [];
  const utf8 = await isUtf8(manager);
  // each ordered group's rows are sorted once; in memory up to this much, on disk beyond
  await manager.query(`SET LOCAL work_mem = '256MB'`);
  return manager.query<SealRows[]>(
    `WITH s AS (
       SELECT x.* FROM ${LOG_SEAL_TABLE} x
         JOIN unnest($2::uuid[], $3::int[]) AS c(firm_id, seq)
           ON c.firm_id = x.firm_id AND c.seq = x.seq
        WHERE x.log = $1),
     f AS (
       SELECT firm_id, array_agg(seq ORDER BY seq) AS seqs,
              array_agg(${keySql('to_created_at', 'to_id')} || '\\x00'::bytea ORDER BY seq) AS bounds,
              (array_agg(from_created_at ORDER BY seq))[1] AS from_at,
              (array_agg(from_id ORDER BY seq))[1] AS from_id,
              (array_agg(to_created_at ORDER BY seq DESC))[1] AS to_at,
              (array_agg(to_id ORDER BY seq DESC))[1] AS to_id
         FROM s GROUP BY firm_id),
     late AS (
       SELECT x.firm_id, l.id, x.seq FROM ${LOG_SEAL_TABLE} x, unnest(x.late_ids) AS l(id)
        WHERE x.log = $1 AND x.firm_id = ANY ($2::uuid[])),
     r AS (
       SELECT a.firm_id, a.created_at, a.id, ${encodingSql(log, utf8)} AS enc,
              coalesce(late.seq, f.seqs[width_bucket(${keySql('a.created_at', 'a.id')}, f.bounds) + 1]) AS seq
         FROM ${log} a JOIN f ON f.firm_id = a.firm_id
         LEFT JOIN late ON late.id = a.id AND late.firm_id = a.firm_id
        WHERE (late.id IS NOT NULL
               OR (f.from_at IS NULL OR (a.created_at, a.id) > (f.from_at, f.from_id))
                  AND (a.created_at, a.id) <= (f.to_at, f.to_id))
          AND a.id <> ALL ($4::uuid[])
          -- one firm: let the planner read it through its index
          AND ($5::uuid IS NULL OR a.firm_id = $5::uuid))
     SELECT r.firm_id AS "firmId", r.seq, count(*)::int AS n,
            encode(sha256(s.prev_digest || convert_to(
              string_agg(r.enc, '' ORDER BY r.created_at, r.id), 'UTF8')), 'hex') AS digest
       FROM r JOIN s ON s.firm_id = r.firm_id AND s.seq = r.seq
      GROUP BY r.firm_id, r.seq, s.prev_digest`,
    [
      log,
      [...seqs].flatMap(([firm, list]) => list.map(() => firm)),
      [...seqs.values()].flat(),
      skip,
      seqs.size === 1 ? [...seqs.keys()][0] : null,
    ],
  );
}
