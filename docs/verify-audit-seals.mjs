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
//
// With --archive it checks an archive of a closed month (docs/archives.md) offline, with plain
// Node alone: no database, no package.
//
//   node verify-audit-seals.mjs --archive <dir> [--anchors <published seals, JSON lines>]
//                               [--manifest-digest <hex>] [--json]
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

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

// ---------------------------------------------------------------------------------------------
// Archives (docs/archives.md): rows.jsonl holds each row's columns as their canonical text, in the
// encoding's column order; seals.jsonl the month's seals; manifest.json commits to both and to
// itself. Everything is recomputed here from the files.

const ZEROS = '0'.repeat(64);
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The lines of a file with their numbers, its bytes hashed into `hash`. */
async function* linesOf(path, hash) {
  let rest = Buffer.alloc(0);
  let n = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk);
    let data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let at;
    while ((at = data.indexOf(0x0a)) >= 0) {
      yield [data.toString('utf8', 0, at), ++n];
      data = data.subarray(at + 1);
    }
    rest = data;
  }
  if (rest.length) yield [rest.toString('utf8'), n + 1];
}

const json = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};
const UUID_RE =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX_RE = /^[0-9a-f]{64}$/;
const US_RE = /^-?\d+$/;

/** A row line of `log`: every column, each a string or null (id, firm_id, created_at never null). */
function rowShape(log, row) {
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    return false;
  const columns = COLUMNS[log];
  if (Object.keys(row).length !== columns.length) return false;
  return columns.every(([column]) => {
    const v = row[column];
    if (column === 'id' || column === 'firm_id') return UUID_RE.test(v ?? '');
    if (column === 'created_at') return US_RE.test(v ?? '');
    return v === null || typeof v === 'string';
  });
}

/** A seal line: the columns of log_seal, instants in µs, digests in hex. */
function sealShape(s) {
  const int = (v) => Number.isSafeInteger(v) && v >= 0;
  const all = (v, test) => Array.isArray(v) && v.every(test);
  const uuid = (v) => typeof v === 'string' && UUID_RE.test(v);
  const hex = (v) => typeof v === 'string' && HEX_RE.test(v);
  const us = (v) => typeof v === 'string' && US_RE.test(v);
  return (
    typeof s === 'object' &&
    s !== null &&
    uuid(s.firm_id) &&
    int(s.seq) &&
    (s.kind === 'seal' || s.kind === 'tombstone') &&
    (s.from_created_at === null
      ? s.from_id === null
      : us(s.from_created_at) && uuid(s.from_id)) &&
    us(s.to_created_at) &&
    uuid(s.to_id) &&
    int(s.range_count) &&
    all(s.late_ids, uuid) &&
    int(s.row_count) &&
    hex(s.prev_digest) &&
    hex(s.digest) &&
    (s.encoding === 1 || s.encoding === 2) &&
    all(s.ref_ids, (e) => e === null || uuid(e)) &&
    all(s.ref_rows, int) &&
    all(s.ref_digests, hex) &&
    (s.snapshot === null || typeof s.snapshot === 'string') &&
    us(s.sealed_at) &&
    (s.run_seq === null || int(s.run_seq))
  );
}

/** (created_at µs, id) after the end of `seal`'s range? */
const pastEnd = (us, id, seal) => {
  const end = BigInt(seal.to_created_at);
  return us > end || (us === end && id > seal.to_id);
};

/** The first seal of `chain` (in seq order) whose range ends at or after the row, by bisection. */
function firstEndingAtOrAfter(chain, us, id) {
  let lo = 0;
  let hi = chain.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pastEnd(us, id, chain[mid])) lo = mid + 1;
    else hi = mid;
  }
  return chain[lo];
}

/** One seal's digest as it is being recomputed from its rows, in file order. */
class Recompute {
  constructor(log, seal) {
    this.log = log;
    this.seal = seal;
    this.hash = createHash('sha256').update(
      Buffer.from(seal.prev_digest, 'hex'),
    );
    this.rows = [];
  }
  add(row) {
    // the canonical text is stored: each field is `<UTF-8 length>:<text>`, `-` for NULL
    this.hash.update(encodeRowText(this.log, row, this.seal.encoding), 'utf8');
    this.rows.push({ id: row.id, ref: row[REFERENCE[this.log].column] });
  }
  digest() {
    if (this.seal.encoding === 2) {
      const stored = this.seal.ref_ids.map((ref, i) => ({
        ref,
        rows: this.seal.ref_rows[i],
        digest: this.seal.ref_digests[i],
      }));
      this.hash.update(`|${encodeGroups(stored)}`, 'utf8');
    }
    return this.hash.digest('hex');
  }
}

/** A row of the archive encoded: its columns' stored canonical text, the reference left out under encoding 2. */
function encodeRowText(log, row, encoding) {
  return COLUMNS[log]
    .filter(([column]) => encoding === 1 || column !== REFERENCE[log].column)
    .map(([column]) => field(row[column]))
    .join('');
}

/**
 * The references of a seal's rows against the groups it stored, its digest matching: nothing, an
 * erasure ({ erased, references }: every row of groups whose referenced row is taken as deleted is
 * NULL now, and nothing else moved), or { changed }. Offline, every vanished reference is taken as
 * deleted; the manifest records which seals had erasures when the archive was made.
 */
function referencesOf(log, rows, seal) {
  const { column } = REFERENCE[log];
  const stored = seal.ref_ids.map((ref, i) => ({
    ref,
    rows: seal.ref_rows[i],
    digest: seal.ref_digests[i],
  }));
  const now = groupsOf(
    rows.map((r) => ({ id: r.id, [column]: r.ref })),
    column,
  );
  const key = (g) => `${g.ref}|${g.rows}|${g.digest}`;
  const nowDiff = now.filter((g) => !stored.some((s) => key(s) === key(g)));
  const storedDiff = stored.filter((g) => !now.some((s) => key(s) === key(g)));
  if (!nowDiff.length && !storedDiff.length) return {};
  if (nowDiff.some((g) => g.ref !== null)) return { changed: true };
  const vanished = storedDiff.filter((g) => g.ref !== null);
  const erased = vanished.reduce((sum, g) => sum + g.rows, 0);
  const nullNow = nowDiff.find((g) => g.ref === null)?.rows;
  const nullSealed = storedDiff.find((g) => g.ref === null)?.rows ?? 0;
  if (erased === 0 || nullNow !== nullSealed + erased) return { changed: true };
  return { erased, references: vanished.length };
}

/**
 * Verifies the archive in `dir`. Returns { ok, problems, lines, firms, seals, rows, manifestDigest }:
 * problems as { kind, file, firmId?, seq?, line?, rows?, message }, the first the one to report;
 * lines, one per seal with its recomputed digest.
 */
export async function verifyArchive(
  dir,
  { anchors = [], manifestDigest } = {},
) {
  const problems = [];
  const lines = [];
  const done = (extra = {}) => ({
    ok: problems.length === 0,
    problems,
    lines,
    ...extra,
  });
  let text;
  try {
    text = readFileSync(join(dir, 'manifest.json'), 'utf8');
  } catch {
    problems.push({
      kind: 'seal-removed',
      file: 'manifest.json',
      message: `${dir} holds no manifest.json`,
    });
    return done();
  }
  const manifest = json(text);
  const at = text.lastIndexOf('"manifestDigest": "');
  if (
    at < 0 ||
    !manifest ||
    manifest.format !== 'cma-logging-archive' ||
    manifest.formatVersion !== 1 ||
    !COLUMNS[manifest.log] ||
    !Array.isArray(manifest.firms) ||
    !Array.isArray(manifest.erasures) ||
    typeof manifest.files?.['rows.jsonl']?.sha256 !== 'string' ||
    typeof manifest.files?.['seals.jsonl']?.sha256 !== 'string'
  ) {
    problems.push({
      kind: 'seal-edited',
      file: 'manifest.json',
      message: 'manifest.json is no longer an archive manifest',
    });
    return done();
  }
  const log = manifest.log;
  const start = at + '"manifestDigest": "'.length;
  const computed = sha256(
    Buffer.from(text.slice(0, start) + ZEROS + text.slice(start + 64), 'utf8'),
  );
  const first = [];
  if (computed !== text.slice(start, start + 64)) {
    first.push({
      kind: 'seal-edited',
      file: 'manifest.json',
      message: 'manifest.json was changed: it no longer matches its own digest',
    });
  }
  if (manifestDigest && manifestDigest.toLowerCase() !== computed) {
    first.push({
      kind: 'seal-edited',
      file: 'manifest.json',
      message: 'manifest.json no longer has the digest published for it',
    });
  }

  const later = [];
  const sealsHash = createHash('sha256');
  const seals = [];
  let sealLines = 0;
  try {
    for await (const [line, n] of linesOf(
      join(dir, 'seals.jsonl'),
      sealsHash,
    )) {
      sealLines = n;
      const seal = json(line);
      if (sealShape(seal)) seals.push(seal);
      else
        later.push({
          kind: 'seal-edited',
          file: 'seals.jsonl',
          line: n,
          message: `line ${n} of seals.jsonl is no longer a seal`,
        });
    }
  } catch {
    first.push({
      kind: 'seal-removed',
      file: 'seals.jsonl',
      message: `${dir} holds no seals.jsonl`,
    });
  }
  const chains = new Map();
  const lateOf = new Map();
  for (const seal of seals) {
    if (!chains.has(seal.firm_id)) chains.set(seal.firm_id, []);
    chains.get(seal.firm_id).push(seal);
    for (const id of seal.late_ids) lateOf.set(`${seal.firm_id}:${id}`, seal);
  }

  const rowsHash = createHash('sha256');
  const recomputed = new Map();
  const unheld = new Map();
  let rowLines = 0;
  let rows = 0;
  try {
    for await (const [line, n] of linesOf(join(dir, 'rows.jsonl'), rowsHash)) {
      rowLines = n;
      const row = json(line);
      if (!rowShape(log, row)) {
        later.push({
          kind: 'row-edited',
          file: 'rows.jsonl',
          line: n,
          message: `line ${n} of rows.jsonl is no longer a row of ${log}`,
        });
        continue;
      }
      rows++;
      const chain = chains.get(row.firm_id) ?? [];
      const us = BigInt(row.created_at);
      let seal = lateOf.get(`${row.firm_id}:${row.id}`);
      if (!seal && chain.length) {
        const head = chain[0];
        const beforeStart =
          head.from_created_at !== null &&
          !pastEnd(us, row.id, {
            to_created_at: head.from_created_at,
            to_id: head.from_id,
          });
        if (!beforeStart) seal = firstEndingAtOrAfter(chain, us, row.id);
      }
      if (!seal) {
        unheld.set(row.firm_id, (unheld.get(row.firm_id) ?? 0) + 1);
        continue;
      }
      const key = `${seal.firm_id}:${seal.seq}`;
      if (!recomputed.has(key)) recomputed.set(key, new Recompute(log, seal));
      recomputed.get(key).add(row);
    }
  } catch {
    first.push({
      kind: 'row-missing',
      file: 'rows.jsonl',
      message: `${dir} holds no rows.jsonl`,
    });
  }

  /** `items` grouped by `key`. */
  const byFirm = (items, key) => {
    const groups = new Map();
    for (const item of items) {
      if (!groups.has(key(item))) groups.set(key(item), []);
      groups.get(key(item)).push(item);
    }
    return groups;
  };
  const entries = new Map(manifest.firms.map((c) => [c.firmId, c]));
  const erasuresOf = byFirm(manifest.erasures, (e) => e.firmId);
  const anchorsOf = byFirm(
    anchors.filter((a) => !a.log || a.log === log),
    (a) => a.firmId,
  );
  const semantic = [];
  const firms = [
    ...new Set([
      ...manifest.firms.map((c) => c.firmId),
      ...chains.keys(),
      ...unheld.keys(),
    ]),
  ].sort();
  for (const firmId of firms) {
    const entry = entries.get(firmId);
    const chain = chains.get(firmId) ?? [];
    const found = [];
    const note = (seq, kind, message, extra = {}) =>
      found.push({
        kind,
        file: kind.startsWith('row') ? 'rows.jsonl' : 'seals.jsonl',
        firmId,
        seq,
        ...extra,
        message,
      });
    const given = anchorsOf.get(firmId) ?? [];
    // the manifest's head counts as a published digest: the archive's seals must end with it
    const checks = [
      ...(entry ? [[entry.lastSeq, entry.digest]] : []),
      ...given.map((a) => [a.seq, a.digest.toLowerCase()]),
    ];
    const anchorOf = new Map(checks);
    const erasures = [];
    let previous =
      entry && entry.firstSeq > 1
        ? {
            seq: entry.firstSeq - 1,
            digest: entry.prevDigest,
            to_created_at: entry.fromCreatedAt,
          }
        : undefined;
    if (
      entry &&
      previous &&
      anchorOf.has(previous.seq) &&
      anchorOf.get(previous.seq) !== entry.prevDigest
    ) {
      found.push({
        kind: 'seal-edited',
        file: 'manifest.json',
        firmId,
        seq: previous.seq,
        message: `the chain no longer enters the month from the digest published for seal ${previous.seq}`,
      });
    }
    for (const [i, seal] of chain.entries()) {
      const expected = previous ? previous.seq + 1 : 1;
      if (seal.seq !== expected) {
        note(
          expected,
          'seal-removed',
          `seal ${expected} is missing from the chain`,
        );
        break;
      }
      const linked = previous
        ? seal.prev_digest === previous.digest &&
          seal.from_created_at === previous.to_created_at
        : seal.kind === 'seal' &&
          seal.prev_digest === ZEROS &&
          seal.from_created_at === null;
      if (!linked) {
        note(
          seal.seq,
          'seal-edited',
          `seal ${seal.seq} no longer links to the seal before it`,
        );
        break;
      }
      const next = chain[i + 1];
      if (
        next?.seq === seal.seq + 1 &&
        next.from_created_at !== seal.to_created_at
      ) {
        note(
          seal.seq,
          'seal-edited',
          `seal ${seal.seq}'s range no longer ends where seal ${next.seq} starts`,
        );
        break;
      }
      previous = seal;
      if (seal.kind === 'tombstone') continue;
      const r =
        recomputed.get(`${firmId}:${seal.seq}`) ?? new Recompute(log, seal);
      const digest = r.digest();
      const n = r.rows.length;
      lines.push(
        `seal ${seal.seq} of firm ${firmId}: ${digest === seal.digest && n === seal.row_count ? 'ok' : 'FAIL'}, ${n} rows, digest ${digest}`,
      );
      if (digest === seal.digest) {
        if (n !== seal.row_count) {
          note(
            seal.seq,
            'seal-edited',
            `seal ${seal.seq}'s row count was changed: its rows still match its digest`,
          );
          break;
        }
        if (seal.encoding === 2) {
          const refs = referencesOf(log, r.rows, seal);
          if (refs.changed) {
            note(
              seal.seq,
              'row-edited',
              `the ${REFERENCE[log].column} of rows sealed by seal ${seal.seq} was changed`,
            );
            break;
          }
          if (refs.erased)
            erasures.push({
              seq: seal.seq,
              rows: refs.erased,
              references: refs.references,
            });
        }
      } else if (n < seal.row_count) {
        note(
          seal.seq,
          'row-missing',
          `${seal.row_count - n} row(s) sealed by seal ${seal.seq} are missing`,
          { rows: seal.row_count - n },
        );
        break;
      } else if (n > seal.row_count) {
        note(
          seal.seq,
          'row-inserted',
          `${n - seal.row_count} row(s) were inserted into the range of seal ${seal.seq}`,
          { rows: n - seal.row_count },
        );
        break;
      } else if (
        digest === next?.prev_digest ||
        digest === anchorOf.get(seal.seq)
      ) {
        note(
          seal.seq,
          'seal-edited',
          `seal ${seal.seq}'s digest was changed: its rows still match the digest published for it`,
        );
        break;
      } else {
        note(
          seal.seq,
          'row-edited',
          `a row sealed by seal ${seal.seq} was changed`,
        );
        break;
      }
    }
    const bySeq = new Map(chain.map((s) => [s.seq, s]));
    for (const [seq, digest] of checks) {
      if (!entry || seq < entry.firstSeq || seq > entry.lastSeq) continue;
      const seal = bySeq.get(seq);
      if (!seal)
        note(
          seq,
          'seal-removed',
          `seal ${seq}, published with digest ${digest.slice(0, 16)}…, is gone from the archive`,
        );
      else if (seal.digest !== digest)
        note(
          seq,
          'seal-edited',
          `seal ${seq} no longer has the digest published for it`,
        );
    }
    if (!entry && chain.length) {
      note(
        chain[0].seq,
        'seal-edited',
        `firm ${firmId} has seals in the archive but no chain in the manifest`,
      );
    }
    const badSeq = found.length
      ? Math.min(...found.map((p) => p.seq))
      : Infinity;
    const key = (e) => `${e.seq}:${e.rows}:${e.references}`;
    const recorded = erasuresOf.get(firmId) ?? [];
    const differs = [
      ...erasures.filter((e) => !recorded.some((r) => key(r) === key(e))),
      ...recorded.filter((r) => !erasures.some((e) => key(e) === key(r))),
    ]
      .map((e) => e.seq)
      .filter((seq) => seq < badSeq)
      .sort((a, b) => a - b)[0];
    if (differs !== undefined) {
      note(
        differs,
        'row-edited',
        `the references of rows sealed by seal ${differs} are not those exported`,
      );
    }
    if (unheld.get(firmId)) {
      const n = unheld.get(firmId);
      note(
        (entry?.lastSeq ?? chain.at(-1)?.seq ?? 0) + 1,
        'row-inserted',
        `${n} row(s) are held by no seal of the archive`,
        { rows: n },
      );
    }
    found.sort((a, b) => a.seq - b.seq);
    if (found.length) semantic.push(found[0]);
  }

  const rowsIntact =
    rowsHash.digest('hex') === manifest.files['rows.jsonl'].sha256;
  const sealsIntact =
    sealsHash.digest('hex') === manifest.files['seals.jsonl'].sha256;
  if (rowsIntact && !sealsIntact) {
    // the rows still have the digest the manifest records: what reads as a change of rows is one
    // of the seals
    for (const p of semantic.filter((p) => p.file === 'rows.jsonl'))
      Object.assign(p, {
        kind: 'seal-edited',
        file: 'seals.jsonl',
        message: `seals.jsonl was changed: ${p.message}`,
      });
  }
  const files = [];
  if (
    rows !== manifest.rows?.total ||
    rowLines !== manifest.files['rows.jsonl'].lines
  ) {
    files.push({
      kind: rows < manifest.rows?.total ? 'row-missing' : 'row-inserted',
      file: 'rows.jsonl',
      message: `rows.jsonl holds ${rows} row(s), the manifest ${manifest.rows?.total}`,
    });
  }
  if (
    seals.length !== manifest.seals ||
    sealLines !== manifest.files['seals.jsonl'].lines
  ) {
    files.push({
      kind: seals.length < manifest.seals ? 'seal-removed' : 'seal-edited',
      file: 'seals.jsonl',
      message: `seals.jsonl holds ${seals.length} seal(s), the manifest ${manifest.seals}`,
    });
  }
  if (!rowsIntact)
    files.push({
      kind: 'row-edited',
      file: 'rows.jsonl',
      message: 'rows.jsonl no longer has the digest the manifest records',
    });
  if (!sealsIntact)
    files.push({
      kind: 'seal-edited',
      file: 'seals.jsonl',
      message: 'seals.jsonl no longer has the digest the manifest records',
    });
  problems.push(...first, ...semantic, ...later, ...files);
  return done({
    log,
    month: manifest.month,
    firms: firms.length,
    seals: seals.length,
    rows,
    manifestDigest: computed,
  });
}

/** The published seals of an anchors file: JSON lines of { firmId, seq, digest[, log] }. */
function readAnchors(path) {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const a = JSON.parse(line);
      return { firmId: a.firmId, seq: a.seq, digest: a.digest, log: a.log };
    });
}

/** Verifies the archive behind --archive; prints the verdict; 0 when it verifies, 1 otherwise. */
async function archiveMain(values) {
  const verdict = await verifyArchive(values.archive, {
    anchors: values.anchors ? readAnchors(values.anchors) : [],
    manifestDigest: values['manifest-digest'],
  });
  if (values.json) {
    console.log(JSON.stringify(verdict));
  } else {
    for (const line of verdict.lines) console.log(line);
    const p = verdict.problems[0];
    console.log(
      verdict.ok
        ? `VERIFIED: archive of ${verdict.log} ${verdict.month}, ${verdict.seals} seal(s) of ${verdict.firms} firm(s) match their ${verdict.rows} row(s); manifest ${verdict.manifestDigest}`
        : `TAMPERED: ${p.kind} in ${p.file}${p.line ? ` line ${p.line}` : ''}${p.firmId ? `, firm ${p.firmId}` : ''}${p.seq !== undefined ? ` seal ${p.seq}` : ''}: ${p.message}`,
    );
  }
  return verdict.ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      firm: { type: 'string' },
      log: { type: 'string' },
      archive: { type: 'string' },
      anchors: { type: 'string' },
      'manifest-digest': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  process.exitCode = values.archive
    ? await archiveMain(values)
    : await databaseMain(values);
}

/** Verifies one firm's chains in the database behind --url. */
async function databaseMain(values) {
  const url = values.url ?? process.env.DATABASE_URL;
  if (!url || !values.firm) {
    console.error(
      'usage: node verify-audit-seals.mjs --url <postgres url> --firm <uuid> [--log audit_log|llm_usage_log]\n' +
        '       node verify-audit-seals.mjs --archive <dir> [--anchors <file>] [--manifest-digest <hex>] [--json]',
    );
    return 2;
  }
  const { default: pg } = await import('pg');
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
    return !ok ? 1 : unsealed ? 3 : 0;
  } finally {
    await client.end();
  }
}
