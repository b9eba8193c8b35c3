/** The statements reconcile and rebuild run, generated from a {@link RollupTable}. */
import { insertFromRaw, type RollupTable } from '../core/rollup-tables.js';

const camel = (column: string) =>
  column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Rows of the rollup that differ from a GROUP BY over the raw rows, for the raw rows in [`$1`,
 * `$2`) and the rollup days in [`$3`, `$4`), optionally of firm `$5`. Each row: the key as JSON
 * (camelCase), `expected` (from the raw rows) and `actual` (the rollup), sums as decimal strings,
 * either null where that side has no row.
 */
export function reconcileStatement(
  rollup: RollupTable,
  oneFirm: boolean,
): string {
  const firm = oneFirm ? ' AND firm_id = $5' : '';
  const keys = rollup.keys.join(', ');
  const sums = rollup.sums.map((s) => s.column);
  const raw = [
    `SELECT ${rollup.keyExpressions.map((e, i) => `${e} AS ${rollup.keys[i]}`).join(', ')},`,
    `  ${rollup.sums.map((s) => `${s.raw}::numeric AS ${s.column}`).join(', ')}`,
    `FROM "${rollup.source}"`,
    `WHERE created_at >= $1 AND created_at < $2${rollup.where ? ` AND ${rollup.where}` : ''}${firm}`,
    `GROUP BY ${rollup.keys.map((_, i) => i + 1).join(', ')}`,
  ].join('\n');
  const rolled = [
    `SELECT ${keys}, ${sums.map((c) => `sum(${c})::numeric AS ${c}`).join(', ')}`,
    `FROM "${rollup.table}"`,
    `WHERE day >= $3 AND day < $4${firm}`,
    `GROUP BY ${keys}`,
  ].join('\n');
  const side = (alias: string) =>
    `CASE WHEN ${alias}.${sums[0]} IS NULL THEN NULL ELSE json_build_object(${sums
      .map((c) => `'${camel(c)}', ${alias}.${c}::text`)
      .join(', ')}) END`;
  const keyJson = `json_build_object(${rollup.keys
    .map(
      (k) => `'${camel(k)}', ${k === 'day' ? `to_char(day, 'YYYY-MM-DD')` : k}`,
    )
    .join(', ')})`;
  return [
    `WITH raw AS (${raw}), rolled AS (${rolled})`,
    `SELECT ${keyJson} AS key, ${side('raw')} AS expected, ${side('rolled')} AS actual`,
    `FROM raw FULL JOIN rolled USING (${keys})`,
    `WHERE (${sums.map((c) => `raw.${c}`).join(', ')}) IS DISTINCT FROM (${sums.map((c) => `rolled.${c}`).join(', ')})`,
    `ORDER BY ${rollup.keys.map((k) => (k === 'day' || k.endsWith('_id') ? k : `${k} COLLATE "C"`)).join(', ')}`,
  ].join('\n');
}

/**
 * Replaces the rollup's rows of day `$1` (optionally of firm `$4`) with one compacted row per key
 * recomputed from the raw rows in [`$2`, `$3`), in one statement: one snapshot, so a delta
 * committed meanwhile is either deleted and recounted or kept and not recounted, never both.
 */
export function rebuildStatement(
  rollup: RollupTable,
  oneFirm: boolean,
): string {
  const firm = oneFirm ? ' AND firm_id = $4' : '';
  return [
    `WITH replaced AS (DELETE FROM "${rollup.table}" WHERE day = $1${firm})`,
    insertFromRaw(
      rollup,
      `"${rollup.source}"`,
      [
        'created_at >= $2',
        'created_at < $3',
        ...(oneFirm ? ['firm_id = $4'] : []),
      ],
      true,
    ),
  ].join('\n');
}
