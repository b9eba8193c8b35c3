import type { DataSource } from 'typeorm';
import { canonicalNeedle, type Probe } from './evasion-corpus.js';

/**
 * The logging tables read back as text, every column a caller's data can reach: `audit_log`
 * (action, entity type, metadata), `credit_transaction` (idempotency key, metadata) and
 * `llm_usage_log` (model, error message). UUIDs are masked before the search (a random UUID holds
 * six given hex digits often enough to make a search for an amount flaky); a probe shaped as an id
 * (`exact`) is searched unmasked, whole.
 */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * `text` with every UUID blanked: row ids and request ids are stored by design, and a random one
 * holds a given run of hex digits (`500`, `-2500`) often enough to make a search for an amount flaky.
 */
export function maskUuids(text: string): string {
  return text.replace(new RegExp(UUID, 'gi'), '<uuid>');
}

const TABLE_TEXT = `
  WITH t AS (
    SELECT concat_ws(' ', action, entity_type, metadata::text) AS text FROM audit_log
    UNION ALL SELECT concat_ws(' ', idempotency_key, metadata::text) FROM credit_transaction
    UNION ALL SELECT concat_ws(' ', model, error_message) FROM llm_usage_log
  ), m AS (
    SELECT lower(text) AS raw,
           regexp_replace(lower(text), '${UUID}', ' ', 'g') AS masked
      FROM t
  ), s AS MATERIALIZED (
    SELECT raw, masked, regexp_replace(masked, '[^a-z0-9]', '', 'g') AS stripped FROM m
  )`;

/**
 * The probes found in the tables: as written (lowercase), as their letters and digits only (so
 * `2345 6789 0123` and `२३४५...` are found as `234567890123`), or, for id-shaped probes, whole.
 */
export async function leaks(
  dataSource: DataSource,
  probes: readonly (Probe & { exact?: boolean })[],
): Promise<string[]> {
  if (probes.length === 0) return [];
  const rows = await dataSource.query<{ i: string }[]>(
    `${TABLE_TEXT}
     SELECT p.i FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS p(needle, canon, exact, i)
      WHERE EXISTS (
        SELECT 1 FROM s
         WHERE strpos(s.masked, p.needle) > 0
            OR strpos(s.stripped, p.canon) > 0
            OR (p.exact <> '' AND strpos(s.raw, p.exact) > 0))`,
    [
      probes.map((p) => p.needle.toLowerCase()),
      probes.map((p) => canonicalNeedle(p.needle)),
      probes.map((p) => (p.exact ? p.value.toLowerCase() : '')),
    ],
  );
  return rows.map((row) => probes[Number(row.i) - 1].label);
}
