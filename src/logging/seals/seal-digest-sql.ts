import type { EntityManager, QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import {
  SEAL_REFERENCES,
  canonicalText,
  sealColumns,
  type Kind,
  type SealableLog,
  type SealEncoding,
} from './seal-encoding.js';
import {
  GROUPS_SEPARATOR,
  STORED_GROUPS_SQL,
  type GroupDelta,
} from './seal-references.js';

/** SQL of the fields of `columns` of row `a`, concatenated; `''` when there are none. */
function fieldsSql(columns: readonly [string, Kind][], utf8: boolean): string {
  if (!columns.length) return `''`;
  return columns
    .map(([column, kind]) => {
      const text = canonicalText(column, kind);
      const bytes = utf8
        ? `octet_length(${text})`
        : `octet_length(convert_to(${text}, 'UTF8'))`;
      return `coalesce(${bytes}::text || ':' || ${text}, '-')`;
    })
    .join(' || ');
}

/**
 * SQL of a row's canonical encoding (alias `a`, docs/tamper-evidence.md): each column's text as
 * `<UTF-8 byte length>:<text>`, or `-` for NULL, in `SEAL_COLUMNS` order, without the
 * reference under encoding 2. `utf8` tells whether the database encoding is UTF-8 (then a text's
 * octet length is its UTF-8 length).
 */
export function encodingSql(
  log: SealableLog,
  utf8: boolean,
  encoding: SealEncoding,
): string {
  return fieldsSql(sealColumns(log, encoding), utf8);
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
  /** Encoding 2: where the rows' reference groups differ from those the seal stored. */
  references: GroupDelta[];
}

/**
 * Recomputes, inside PostgreSQL and in one pass over `log`, the digest of the rows each seal of
 * `seqs` (firm → seqs, each firm's in order and contiguous) holds now, with the count. A row
 * belongs to the seal that lists it as a late arrival, else to the first of its firm's seals whose
 * range ends at or after it (found by `width_bucket` over the bounds); rows of `skip` (late
 * arrivals not sealed yet) are left out. Seals without rows are absent from the result.
 *
 * Each row is encoded as its seal's `encoding` says. For encoding 2 the same pass also groups the
 * seal's rows by reference ({@link referenceGroupsSql}) and returns the groups that differ from
 * those the seal stored.
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
  // Many firms: the log in heap order, as the sealer reads it; one firm: through its index.
  if (seqs.size > 1) await manager.query(`SET LOCAL enable_indexscan = off`);
  const found = await manager.query<SealRowsRow[]>(
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
       SELECT a.*, a.${SEAL_REFERENCES[log].column} AS ref,
              coalesce(late.seq, f.seqs[width_bucket(${keySql('a.created_at', 'a.id')}, f.bounds) + 1]) AS seq
         FROM ${log} a JOIN f ON f.firm_id = a.firm_id
         LEFT JOIN late ON late.id = a.id AND late.firm_id = a.firm_id
        WHERE (late.id IS NOT NULL
               OR (f.from_at IS NULL OR (a.created_at, a.id) > (f.from_at, f.from_id))
                  AND (a.created_at, a.id) <= (f.to_at, f.to_id))
          AND a.id <> ALL ($4::uuid[])
          -- one firm: let the planner read it through its index
          AND ($5::uuid IS NULL OR a.firm_id = $5::uuid)
       OFFSET 0),
     ${referenceGroupsSql(encodingSql(log, utf8, 1), encodingSql(log, utf8, 2))}`,
    [
      log,
      [...seqs].flatMap(([firm, list]) => list.map(() => firm)),
      [...seqs.values()].flat(),
      skip,
      seqs.size === 1 ? [...seqs.keys()][0] : null,
    ],
  );
  return found.map((row) => ({ ...row, references: row.references ?? [] }));
}

/** A row of {@link sealRows}' query. */
type SealRowsRow = Omit<SealRows, 'references'> & {
  references: GroupDelta[] | null;
};

/**
 * The end of {@link sealRows}' query, over the CTEs `s` (the seals) and `r` (their rows, each with
 * its seal's `seq` and its reference as `ref`). `r` is fenced (`OFFSET 0`): each row's seal is
 * found once, in one pass over the log, before anything is joined to it (the planner, which cannot
 * count the seals, would otherwise read each firm's rows once per seal). `g` sorts the rows once,
 * by seal then `(created_at, id)`, and aggregates per seal their encodings (`v1` or `v2`, as the
 * seal's `encoding` says) and, for encoding 2, their references and ids in that order. Then per
 * seal, from its own row of `log_seal` (read per seal: a join could repeat the aggregate), the
 * digest (encoding 2: with the groups the seal stored), and the groups of its rows now matched
 * against the stored ones: `references` lists those without an equal on the other side, null when
 * there are none.
 */
function referenceGroupsSql(v1: string, v2: string): string {
  const now = `SELECT u.ref, count(*)::int AS n,
                      encode(sha256(convert_to(string_agg(u.id::text, '' ORDER BY u.o), 'UTF8')), 'hex') AS digest
                 FROM unnest(g.refs, g.ids) WITH ORDINALITY AS u(ref, id, o) GROUP BY u.ref`;
  const seal = `${LOG_SEAL_TABLE} s WHERE s.log = $1 AND s.firm_id = g.firm_id AND s.seq = g.seq`;
  const stored = `SELECT x.ref, x.n, encode(x.d, 'hex') AS digest
                    FROM unnest(s.ref_ids, s.ref_rows, s.ref_digests) AS x(ref, n, d)`;
  return `e AS (
       SELECT r.*, s.encoding FROM r JOIN s ON s.firm_id = r.firm_id AND s.seq = r.seq),
     g AS (
       SELECT a.firm_id, a.seq, count(*)::int AS n,
              string_agg(CASE WHEN a.encoding = 1 THEN ${v1} ELSE ${v2} END, '' ORDER BY a.created_at, a.id) AS txt,
              array_agg(a.ref ORDER BY a.created_at, a.id) FILTER (WHERE a.encoding = 2) AS refs,
              array_agg(a.id ORDER BY a.created_at, a.id) FILTER (WHERE a.encoding = 2) AS ids
         FROM e a GROUP BY a.firm_id, a.seq)
     SELECT g.firm_id AS "firmId", g.seq, g.n,
            (SELECT encode(sha256(s.prev_digest || convert_to(g.txt || CASE WHEN s.encoding = 2
                      THEN '${GROUPS_SEPARATOR}' || (SELECT ${STORED_GROUPS_SQL}
                                    FROM unnest(s.ref_ids, s.ref_rows, s.ref_digests) AS x(ref, n, d))
                      ELSE '' END, 'UTF8')), 'hex')
               FROM ${seal}) AS digest,
            (SELECT (SELECT jsonb_agg(jsonb_build_object(
                              'side', CASE WHEN st.n IS NULL THEN 'now' ELSE 'sealed' END,
                              'ref', coalesce(c.ref, st.ref), 'rows', coalesce(c.n, st.n),
                              'digest', coalesce(c.digest, st.digest)))
                       FROM (${now}) c FULL JOIN (${stored}) st
                         ON coalesce(c.ref::text, '-') = coalesce(st.ref::text, '-')
                        AND c.n = st.n AND c.digest = st.digest
                      WHERE c.n IS NULL OR st.n IS NULL)
               FROM ${seal} AND s.encoding = 2) AS "references"
       FROM g`;
}
