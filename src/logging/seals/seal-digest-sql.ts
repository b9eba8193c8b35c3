import type { EntityManager, QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import {
  SEAL_COLUMNS,
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
 * `<UTF-8 byte length>:<text>`, or `-` for NULL, in {@link SEAL_COLUMNS} order, without the
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

/**
 * SQL of a row's encoding in three parts, the fields before the reference, the reference's field
 * and those after it: encoding 1 is all three, encoding 2 the first and the last.
 */
function encodingPartsSql(log: SealableLog, utf8: boolean) {
  const columns = SEAL_COLUMNS[log];
  const at = columns.findIndex(([c]) => c === SEAL_REFERENCES[log].column);
  return {
    before: fieldsSql(columns.slice(0, at), utf8),
    reference: fieldsSql(columns.slice(at, at + 1), utf8),
    after: fieldsSql(columns.slice(at + 1), utf8),
  };
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
  const parts = encodingPartsSql(log, utf8);
  // each ordered group's rows are sorted once; in memory up to this much, on disk beyond
  await manager.query(`SET LOCAL work_mem = '256MB'`);
  const found = await manager.query<(ReferenceDeltaRow | SealDigestRow)[]>(
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
       SELECT a.firm_id, a.created_at, a.id, a.${SEAL_REFERENCES[log].column} AS ref,
              ${parts.before} AS enc_a, ${parts.reference} AS enc_r, ${parts.after} AS enc_b,
              coalesce(late.seq, f.seqs[width_bucket(${keySql('a.created_at', 'a.id')}, f.bounds) + 1]) AS seq
         FROM ${log} a JOIN f ON f.firm_id = a.firm_id
         LEFT JOIN late ON late.id = a.id AND late.firm_id = a.firm_id
        WHERE (late.id IS NOT NULL
               OR (f.from_at IS NULL OR (a.created_at, a.id) > (f.from_at, f.from_id))
                  AND (a.created_at, a.id) <= (f.to_at, f.to_id))
          AND a.id <> ALL ($4::uuid[])
          -- one firm: let the planner read it through its index
          AND ($5::uuid IS NULL OR a.firm_id = $5::uuid)),
     ${referenceGroupsSql()}`,
    [
      log,
      [...seqs].flatMap(([firm, list]) => list.map(() => firm)),
      [...seqs.values()].flat(),
      skip,
      seqs.size === 1 ? [...seqs.keys()][0] : null,
    ],
  );
  return collect(found);
}

/** A row of {@link sealRows}' query: one seal's digest, or one group that differs. */
type SealDigestRow = Omit<SealRows, 'references'> & { part: 'seal' };
type ReferenceDeltaRow = {
  firmId: string;
  seq: number;
  part: 'now' | 'sealed';
  ref: string | null;
  n: number;
  digest: string;
};

/** Each seal's digest with the groups that differ from those it stored. */
function collect(found: (ReferenceDeltaRow | SealDigestRow)[]): SealRows[] {
  const seals = new Map<string, SealRows>();
  for (const row of found) {
    if (row.part !== 'seal') continue;
    const { firmId, seq, n, digest } = row;
    seals.set(`${firmId}:${seq}`, { firmId, seq, n, digest, references: [] });
  }
  for (const row of found) {
    if (row.part === 'seal') continue;
    seals.get(`${row.firmId}:${row.seq}`)?.references.push({
      side: row.part,
      ref: row.ref,
      rows: row.n,
      digest: row.digest,
    });
  }
  return [...seals.values()];
}

/**
 * The end of {@link sealRows}' query, over the CTEs `s` (the seals) and `r` (their rows, each with
 * its seal's `seq`, its `ref` and its encoding in parts `enc_a`, `enc_r`, `enc_b`). In `g`, each
 * row counts once towards its seal's digest and, when the seal has encoding 2, once more towards
 * its reference group (ids only), so one sort serves both. Then `g`'s groups are matched against
 * those the seal stored (`sg`): one `seal` row per seal, and a `now` or `sealed` row for each group
 * that has no equal on the other side.
 */
function referenceGroupsSql(): string {
  const piece = `CASE WHEN p.refs THEN r.id::text
                      WHEN s.encoding = 1 THEN r.enc_a || r.enc_r || r.enc_b
                      ELSE r.enc_a || r.enc_b END`;
  const agg = `string_agg(${piece}, '' ORDER BY r.created_at, r.id)`;
  const stored = `(SELECT ${STORED_GROUPS_SQL}
                     FROM ${LOG_SEAL_TABLE} y, unnest(y.ref_ids, y.ref_rows, y.ref_digests) AS x(ref, n, d)
                    WHERE y.log = $1 AND y.firm_id = r.firm_id AND y.seq = r.seq)`;
  return `g AS (
       SELECT r.firm_id, r.seq, p.refs, CASE WHEN p.refs THEN r.ref END AS ref, count(*)::int AS n,
              CASE WHEN p.refs THEN encode(sha256(convert_to(${agg}, 'UTF8')), 'hex')
                   ELSE encode(sha256(s.prev_digest || convert_to(${agg} || CASE WHEN s.encoding = 2
                          THEN '${GROUPS_SEPARATOR}' || ${stored} ELSE '' END, 'UTF8')), 'hex') END AS digest
         FROM r JOIN s ON s.firm_id = r.firm_id AND s.seq = r.seq
        CROSS JOIN (VALUES (false), (true)) AS p(refs)
        WHERE NOT p.refs OR s.encoding = 2
        GROUP BY r.firm_id, r.seq, p.refs, CASE WHEN p.refs THEN r.ref END, s.prev_digest, s.encoding),
     sg AS (
       SELECT s.firm_id, s.seq, true AS refs, x.ref, x.n, encode(x.d, 'hex') AS digest
         FROM s, unnest(s.ref_ids, s.ref_rows, s.ref_digests) AS x(ref, n, d)
        WHERE s.encoding = 2)
     SELECT coalesce(g.firm_id, sg.firm_id) AS "firmId", coalesce(g.seq, sg.seq) AS seq,
            CASE WHEN g.refs IS NULL THEN 'sealed' WHEN g.refs THEN 'now' ELSE 'seal' END AS part,
            coalesce(g.ref, sg.ref) AS ref, coalesce(g.n, sg.n) AS n,
            coalesce(g.digest, sg.digest) AS digest
       FROM g FULL JOIN sg
         ON sg.firm_id = g.firm_id AND sg.seq = g.seq AND sg.refs = g.refs
        AND coalesce(sg.ref::text, '-') = coalesce(g.ref::text, '-')
        AND sg.n = g.n AND sg.digest = g.digest
      WHERE g.refs IS NOT TRUE OR sg.seq IS NULL`;
}
