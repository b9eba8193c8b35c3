#!/usr/bin/env node
// Recomputes the seal digests of one firm's audit trail (or LLM usage log) from the rows, without
// the LoggingModule: plain Node and the `pg` driver, following the canonical encoding written down
// in docs/tamper-evidence.md. Every value is read as PostgreSQL's text output and canonicalized here.
//
//   npm install pg
//   node verify-audit-seals.mjs --url postgres://auditor@db/app --firm <uuid> [--log llm_usage_log]
//
// Prints each seal's recomputed digest beside the stored one, then a verdict; exits 1 on a mismatch,
// 3 when none but rows after the last seal (or all rows, without seals) are not sealed yet.
// Under encoding 2 a user or project deleted (ON DELETE SET NULL) is reported as reference-erased.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';

const COLUMNS = {
  audit_log: [
    ['id', 'uuid'],
    ['firm_id', 'uuid'],
    ['user_id', 'uuid'],
    ['action', 'text'],
    ['entity_type', 'text'],
    ['entity_id', 'uuid'],
    ['metadata', 'jsonb'],
    ['ip_address', 'text'],
    ['created_at', 'instant'],
  ],
  llm_usage_log: [
    ['id', 'uuid'],
    ['firm_id', 'uuid'],
    ['cma_project_id', 'uuid'],
    ['model', 'text'],
    ['task_type', 'text'],
    ['input_tokens', 'integer'],
    ['output_tokens', 'integer'],
    ['cost_usd', 'numeric'],
    ['latency_ms', 'integer'],
    ['success', 'boolean'],
    ['error_message', 'text'],
    ['created_at', 'instant'],
  ],
};

/** The column a foreign key sets to NULL when the row it references is deleted, and its table. */
const REFERENCE = {
  audit_log: { column: 'user_id', table: 'users' },
  llm_usage_log: { column: 'cma_project_id', table: 'cma_projects' },
};

/** `2026-11-29 08:51:46.0123+00` (TimeZone UTC) → microseconds since the Unix epoch, as text. */
export function instantMicros(text) {
  const m =
    /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\+00$/.exec(
      text,
    );
  if (!m)
    throw new Error(
      `unexpected timestamptz text ${text}: run with TimeZone UTC`,
    );
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return (BigInt(ms) * 1000n + BigInt((m[7] ?? '').padEnd(6, '0'))).toString();
}

/** JSON text → canonical text: keys by UTF-8 length then bytes, `", "` and `": "`, numbers as written. */
export function canonicalJson(text) {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries = [];
      ws();
      if (text[i] === '}') {
        i++;
        return '{}';
      }
      for (;;) {
        ws();
        const key = string();
        ws();
        i++; // ':'
        entries.push([key, value()]);
        ws();
        if (text[i++] === '}') break; // else ','
      }
      const bytes = (s) => Buffer.from(s, 'utf8');
      entries.sort(
        ([a], [b]) =>
          bytes(a).length - bytes(b).length ||
          Buffer.compare(bytes(a), bytes(b)),
      );
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`;
    }
    if (c === '[') {
      i++;
      const items = [];
      ws();
      if (text[i] === ']') {
        i++;
        return '[]';
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i++] === ']') break;
      }
      return `[${items.join(', ')}]`;
    }
    if (c === '"') return JSON.stringify(string());
    const m = /^(true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(
      text.slice(i),
    );
    if (!m) throw new Error(`bad JSON at ${i}: ${text}`);
    i += m[0].length;
    return m[0];
  };
  const string = () => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i));
  };
  return value();
}

/** One column's canonical text, from PostgreSQL's text output of it (null stays null). */
function canonical(kind, text) {
  if (text === null) return null;
  if (kind === 'instant') return instantMicros(text);
  if (kind === 'boolean')
    return text === 't' || text === 'true' ? 'true' : 'false';
  if (kind === 'jsonb') return canonicalJson(text);
  return text;
}

/** One field: `<UTF-8 byte length>:<text>`, NULL as `-`. */
const field = (v) =>
  v === null ? '-' : `${Buffer.byteLength(v, 'utf8')}:${v}`;

/**
 * The canonical encoding of a row: each column as a field, in order; encoding 2 leaves out the
 * log's reference column.
 */
export function encodeRow(log, row, encoding = 1) {
  return COLUMNS[log]
    .filter(([column]) => encoding === 1 || column !== REFERENCE[log].column)
    .map(([column, kind]) => field(canonical(kind, row[column])))
    .join('');
}

/** Encoding 2: each reference group as 3 fields, ref rows digest; the NULL group first, then by ref. */
export function encodeGroups(groups) {
  return [...groups]
    .sort((a, b) => ((a.ref ?? '') < (b.ref ?? '') ? -1 : 1))
    .map((g) => field(g.ref) + field(String(g.rows)) + field(g.digest))
    .join('');
}

/** The reference groups of rows in (created_at, id) order: rows and SHA-256 of the ids per value. */
function groupsOf(rows, column) {
  const groups = new Map();
  for (const row of rows) {
    const ref = row[column];
    if (!groups.has(ref)) groups.set(ref, { ref, ids: [] });
    groups.get(ref).ids.push(row.id);
  }
  return [...groups.values()].map(({ ref, ids }) => ({
    ref,
    rows: ids.length,
    digest: createHash('sha256').update(ids.join(''), 'utf8').digest('hex'),
  }));
}

/**
 * Compares the reference groups of a seal's rows (in order) now with those it stored, its digest
 * matching: {} when equal, { erased, references } when the only change is the one ON DELETE SET
 * NULL makes (every row of a group whose referenced row is gone is NULL now), else { changed: why }.
 */
async function judgeReferences(client, log, rows, stored) {
  const { column, table } = REFERENCE[log];
  const now = groupsOf(rows, column);
  const key = (g) => `${g.ref}|${g.rows}|${g.digest}`;
  const storedKeys = new Set(stored.map(key));
  const nowKeys = new Set(now.map(key));
  const nowDiff = now.filter((g) => !storedKeys.has(key(g)));
  const storedDiff = stored.filter((g) => !nowKeys.has(key(g)));
  if (!nowDiff.length && !storedDiff.length) return {};
  const moved = nowDiff.find((g) => g.ref !== null);
  if (moved)
    return {
      changed: `the rows whose ${column} is ${moved.ref} are not the rows sealed with it`,
    };
  const vanished = storedDiff.filter((g) => g.ref !== null);
  const { rows: present } = await client.query(
    `SELECT id::text AS id FROM ${table} WHERE id = ANY ($1::uuid[])`,
    [vanished.map((g) => g.ref)],
  );
  if (present.length) {
    return {
      changed: `rows sealed with ${column} ${present[0].id} no longer have it, yet ${table} still holds that row`,
    };
  }
  const erased = vanished.reduce((sum, g) => sum + g.rows, 0);
  const nullNow = nowDiff.find((g) => g.ref === null)?.rows;
  const nullSealed = storedDiff.find((g) => g.ref === null)?.rows ?? 0;
  if (erased === 0 || nullNow !== nullSealed + erased) {
    return {
      changed: `the rows without a ${column} are not those sealed without one plus those whose ${table} row was deleted`,
    };
  }
  return { erased, references: vanished.length };
}

/** Verifies every seal of `firm` over `log`; returns the report lines and whether all matched. */
export async function verifySeals(client, log, firm) {
  if (!COLUMNS[log])
    throw new Error(`--log must be audit_log or llm_usage_log`);
  await client.query(`SET TimeZone = 'UTC'`);
  const { rows: seals } = await client.query(
    `SELECT seq, kind, from_created_at::text AS from_at, from_id::text, to_created_at::text AS to_at,
            to_id::text, late_ids::text[] AS late, row_count::text, encode(prev_digest, 'hex') AS prev,
            encode(digest, 'hex') AS digest, encoding, ref_ids::text[] AS ref_ids, ref_rows,
            ARRAY(SELECT encode(d, 'hex') FROM unnest(ref_digests) WITH ORDINALITY AS u(d, i)
                   ORDER BY i) AS ref_digests
       FROM log_seal WHERE log = $1 AND firm_id = $2 ORDER BY seq`,
    [log, firm],
  );
  // every value as PostgreSQL's text: this script, not the server, makes it canonical
  const columns = COLUMNS[log].map(([c]) => `${c}::text`).join(', ');
  const lines = [];
  let ok = true;
  let erasures = 0;
  let previous;
  for (const [index, seal] of seals.entries()) {
    const fail = (why) => {
      ok = false;
      lines.push(`seal ${seal.seq}: FAIL ${why}`);
    };
    if (
      previous &&
      (seal.seq !== previous.seq + 1 || seal.prev !== previous.digest)
    ) {
      fail(`does not follow seal ${previous.seq}`);
    }
    previous = seal;
    if (seal.kind === 'tombstone') {
      lines.push(
        `seal ${seal.seq}: tombstone for ${seal.row_count} purged rows, digest ${seal.digest}`,
      );
      continue;
    }
    const laterLate = seals.slice(index + 1).flatMap((s) => s.late);
    const { rows } = await client.query(
      `SELECT ${columns} FROM ${log}
        WHERE firm_id = $1
          AND (($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
               AND (created_at, id) <= ($4, $5::uuid) AND NOT (id = ANY ($6::uuid[]))
               OR id = ANY ($7::uuid[]))`,
      [
        firm,
        seal.from_at,
        seal.from_id,
        seal.to_at,
        seal.to_id,
        laterLate,
        seal.late,
      ],
    );
    const keyed = rows.map((r) => [
      BigInt(instantMicros(r.created_at)),
      r.id,
      r,
    ]);
    keyed.sort(([a, x], [b, y]) =>
      a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0,
    );
    const ordered = keyed.map(([, , row]) => row);
    const hash = createHash('sha256').update(Buffer.from(seal.prev, 'hex'));
    for (const row of ordered)
      hash.update(encodeRow(log, row, seal.encoding), 'utf8');
    const stored = seal.ref_ids.map((ref, i) => ({
      ref,
      rows: seal.ref_rows[i],
      digest: seal.ref_digests[i],
    }));
    if (seal.encoding === 2) hash.update(`|${encodeGroups(stored)}`, 'utf8');
    const digest = hash.digest('hex');
    if (digest !== seal.digest || String(rows.length) !== seal.row_count) {
      fail(
        `${rows.length} rows (sealed ${seal.row_count}), recomputed ${digest}, stored ${seal.digest}`,
      );
      continue;
    }
    const line = `seal ${seal.seq}: ok, ${rows.length} rows, digest ${digest}`;
    const refs =
      seal.encoding === 2
        ? await judgeReferences(client, log, ordered, stored)
        : {};
    const { column, table } = REFERENCE[log];
    if (refs.changed) {
      fail(`${column} changed: ${refs.changed}`);
    } else if (refs.erased) {
      erasures++;
      lines.push(
        `${line}; reference-erased: ${refs.erased} row(s) have ${column} NULL since ${refs.references} ${table} row(s) were deleted`,
      );
    } else {
      lines.push(line);
    }
  }
  // rows after the last seal (every row, without one): no seal holds them, so nothing verifies them
  const last = seals.at(-1);
  const {
    rows: [{ unsealed }],
  } = await client.query(
    `SELECT count(*)::int AS unsealed FROM ${log}
      WHERE firm_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))`,
    [firm, last?.to_at ?? null, last?.to_id ?? null],
  );
  return { ok, lines, seals: seals.length, erasures, unsealed };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      firm: { type: 'string' },
      log: { type: 'string' },
    },
  });
  const url = values.url ?? process.env.DATABASE_URL;
  if (!url || !values.firm) {
    console.error(
      'usage: node verify-audit-seals.mjs --url <postgres url> --firm <uuid> [--log audit_log|llm_usage_log]',
    );
    process.exit(2);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { ok, lines, seals, erasures, unsealed } = await verifySeals(
      client,
      values.log ?? 'audit_log',
      values.firm,
    );
    for (const line of lines) console.log(line);
    if (!ok) console.log('TAMPERED: see FAIL above');
    else if (seals || !unsealed) {
      console.log(
        `VERIFIED: ${seals} seal(s) match their rows${erasures ? ` (${erasures} with references erased by ON DELETE SET NULL)` : ''}`,
      );
    }
    if (unsealed) {
      console.log(
        `UNSEALED: ${unsealed} row(s) ${seals ? 'after the last seal' : 'and no seal at all'}: not verified until a seal holds them`,
      );
    }
    process.exitCode = !ok ? 1 : unsealed ? 3 : 0;
  } finally {
    await client.end();
  }
}
