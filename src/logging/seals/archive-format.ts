import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AuditSealQueryError } from './seal.errors.js';
import {
  encodeField,
  SEAL_COLUMNS,
  SEAL_REFERENCES,
  sealColumns,
  type SealableLog,
  type SealEncoding,
} from './seal-encoding.js';
import type { ArchiveManifest } from './archive.types.js';

/**
 * The archive's files (docs/archives.md): `rows.jsonl`, one JSON object per row whose keys are
 * the log's columns in canonical encoding order and whose values are each column's canonical text
 * (or null); `seals.jsonl`, one JSON object per seal with the columns of `log_seal`; and
 * `manifest.json`, which commits to both and to itself.
 */
export const ARCHIVE_FORMAT = 'cma-logging-archive';
export const ARCHIVE_FORMAT_VERSION = 1;
export const ROWS_FILE = 'rows.jsonl';
export const SEALS_FILE = 'seals.jsonl';
export const MANIFEST_FILE = 'manifest.json';

/** A UTC month: `YYYY-MM` and its bounds in µs since 1970 (the first µs, and the next month's). */
export interface Month {
  month: string;
  fromUs: bigint;
  toUs: bigint;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The month `month` names, or an error naming the field and the rule. */
export function parseMonth(method: string, month: unknown): Month {
  const m = typeof month === 'string' ? MONTH.exec(month) : null;
  if (!m) {
    throw new AuditSealQueryError(
      `${method}: month must be a UTC month written YYYY-MM, got ${JSON.stringify(month)}`,
    );
  }
  const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
  const end = Date.UTC(Number(m[1]), Number(m[2]), 1);
  return {
    month: month as string,
    fromUs: BigInt(start) * 1000n,
    toUs: BigInt(end) * 1000n,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX = /^[0-9a-f]{64}$/;
const US = /^-?\d+$/;

/** A row of the archive: the canonical text of each column (null for NULL), by column name. */
export type ArchiveRow = Record<string, string | null>;

/**
 * Whether `value` has exactly the shape of a row of `log` in `rows.jsonl`: every column, each a
 * string or null; the id and the firm UUIDs, `created_at` an integer.
 */
export function isArchiveRow(log: SealableLog, value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false;
  }
  const row = value as Record<string, unknown>;
  const columns = SEAL_COLUMNS[log];
  return (
    Object.keys(row).length === columns.length &&
    columns.every(([column]) => {
      const v = row[column];
      if (column === 'id' || column === 'firm_id') {
        return typeof v === 'string' && UUID.test(v);
      }
      if (column === 'created_at') return typeof v === 'string' && US.test(v);
      return v === null || typeof v === 'string';
    })
  );
}

/** The canonical encoding of an archive row under `encoding`: what its seal's digest hashes. */
export function encodeArchiveRow(
  log: SealableLog,
  encoding: SealEncoding,
  row: ArchiveRow,
): string {
  let encoded = '';
  for (const [column] of sealColumns(log, encoding)) {
    encoded += encodeField(row[column]);
  }
  return encoded;
}

/** The erasable reference of an archive row (`user_id`, `cma_project_id`). */
export const referenceOf = (log: SealableLog, row: ArchiveRow) =>
  row[SEAL_REFERENCES[log].column];

/** A seal as `seals.jsonl` holds it: the columns of `log_seal`, instants in µs since 1970. */
export interface ArchiveSeal {
  firm_id: string;
  seq: number;
  kind: 'seal' | 'tombstone';
  from_created_at: string | null;
  from_id: string | null;
  to_created_at: string;
  to_id: string;
  range_count: number;
  late_ids: string[];
  row_count: number;
  prev_digest: string;
  digest: string;
  encoding: SealEncoding;
  ref_ids: (string | null)[];
  ref_rows: number[];
  ref_digests: string[];
  snapshot: string | null;
  sealed_at: string;
  run_seq: number | null;
}

/** Whether `value` has the shape of a line of `seals.jsonl`. */
export function isArchiveSeal(value: unknown): value is ArchiveSeal {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  const int = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const arrayOf = (v: unknown, test: (e: unknown) => boolean) =>
    Array.isArray(v) && v.every(test);
  const uuid = (v: unknown) => typeof v === 'string' && UUID.test(v);
  const hex = (v: unknown) => typeof v === 'string' && HEX.test(v);
  const us = (v: unknown) => typeof v === 'string' && US.test(v);
  return (
    uuid(s.firm_id) &&
    int(s.seq) &&
    (s.kind === 'seal' || s.kind === 'tombstone') &&
    (s.from_created_at === null
      ? s.from_id === null
      : us(s.from_created_at) && uuid(s.from_id)) &&
    us(s.to_created_at) &&
    uuid(s.to_id) &&
    int(s.range_count) &&
    arrayOf(s.late_ids, uuid) &&
    int(s.row_count) &&
    hex(s.prev_digest) &&
    hex(s.digest) &&
    (s.encoding === 1 || s.encoding === 2) &&
    arrayOf(s.ref_ids, (e) => e === null || uuid(e)) &&
    arrayOf(s.ref_rows, int) &&
    arrayOf(s.ref_digests, hex) &&
    (s.snapshot === null || typeof s.snapshot === 'string') &&
    us(s.sealed_at) &&
    (s.run_seq === null || int(s.run_seq))
  );
}

/** The placeholder of `manifestDigest` while the manifest's own digest is computed. */
const ZEROS = '0'.repeat(64);

/** `manifest` as the bytes of `manifest.json`, its `manifestDigest` computed over them. */
export function manifestText(manifest: ArchiveManifest): string {
  const draft = `${JSON.stringify({ ...manifest, manifestDigest: ZEROS }, null, 2)}\n`;
  const digest = createHash('sha256').update(draft, 'utf8').digest('hex');
  return draft.replace(
    `"manifestDigest": "${ZEROS}"`,
    `"manifestDigest": "${digest}"`,
  );
}

/**
 * The digest of `manifest.json`'s text: SHA-256 of its bytes with the value of its last
 * `"manifestDigest"` member written as 64 zeros. Null when there is no such member.
 */
export function manifestDigestOf(
  text: string,
): { stored: string; computed: string } | null {
  const at = text.lastIndexOf('"manifestDigest": "');
  if (at < 0) return null;
  const start = at + '"manifestDigest": "'.length;
  const stored = text.slice(start, start + 64);
  const blanked = text.slice(0, start) + ZEROS + text.slice(start + 64);
  return {
    stored,
    computed: createHash('sha256').update(blanked, 'utf8').digest('hex'),
  };
}

/** The name and version of the installed module, from its package.json. */
export function moduleVersion(): { name: string; version: string } {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(
        readFileSync(join(dir, 'package.json'), 'utf8'),
      ) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === '@cma/logging') {
        return { name: pkg.name, version: pkg.version ?? 'unknown' };
      }
    } catch {
      // no package.json here: look further up
    }
    if (dirname(dir) === dir)
      return { name: '@cma/logging', version: 'unknown' };
  }
}

/** µs since 1970 (decimal) as ISO 8601 UTC with microseconds. */
export function isoOfUs(us: string | bigint): string {
  const n = BigInt(us);
  const ms = n / 1000n - (n % 1000n < 0n ? 1n : 0n);
  const micros = ((n % 1_000_000n) + 1_000_000n) % 1_000_000n;
  return `${new Date(Number(ms)).toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}Z`;
}
