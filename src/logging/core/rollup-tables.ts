/**
 * The daily rollups as data: each names its table, its key columns and its summed columns, and how
 * a raw row maps onto them. Compaction, rebuild and reconcile are generated from these, so they can
 * never disagree about a column. The migration that created the tables is fixed text;
 * `migrations/rollup-migration.spec.ts` holds it to these descriptions.
 */
import {
  AUDIT_LOG_DAILY_TABLE,
  AUDIT_LOG_TABLE,
  LLM_USAGE_DAILY_PROJECT_TABLE,
  LLM_USAGE_DAILY_TABLE,
  LLM_USAGE_LOG_TABLE,
} from './logging.constants.js';

export interface RollupTable {
  /** The rollup table. */
  table: string;
  /** The raw log it sums. */
  source: string;
  /** Key columns, `day` included (the UTC calendar day of `created_at`). */
  keys: string[];
  /** Key expressions over the raw row, in the order of `keys`. */
  keyExpressions: string[];
  /** Summed columns and the raw expression each sums. */
  sums: { column: string; raw: string }[];
  /** Raw rows the rollup counts, besides `created_at IS NOT NULL`. */
  where?: string;
}

/** The UTC calendar day of a raw row. */
export const DAY_OF_CREATED_AT = `(created_at AT TIME ZONE 'UTC')::date`;

const USAGE_SUMS = [
  { column: 'calls', raw: 'count(*)' },
  { column: 'failures', raw: 'count(*) FILTER (WHERE success = false)' },
  { column: 'input_tokens', raw: 'sum(input_tokens)' },
  { column: 'output_tokens', raw: 'sum(output_tokens)' },
  { column: 'cost_usd', raw: 'sum(cost_usd)' },
];

export const LLM_USAGE_DAILY: RollupTable = {
  table: LLM_USAGE_DAILY_TABLE,
  source: LLM_USAGE_LOG_TABLE,
  keys: ['firm_id', 'day', 'model', 'task_type'],
  keyExpressions: ['firm_id', DAY_OF_CREATED_AT, 'model', 'task_type'],
  sums: USAGE_SUMS,
};

/**
 * Only calls with a project: the calls without one are the firm's totals minus these, so a
 * project's delete (its rows here cascade away) moves its usage to "no project", as the raw rows'
 * ON DELETE SET NULL does, and never changes the firm's totals.
 */
export const LLM_USAGE_DAILY_PROJECT: RollupTable = {
  table: LLM_USAGE_DAILY_PROJECT_TABLE,
  source: LLM_USAGE_LOG_TABLE,
  keys: ['firm_id', 'cma_project_id', 'day', 'model', 'task_type'],
  keyExpressions: [
    'firm_id',
    'cma_project_id',
    DAY_OF_CREATED_AT,
    'model',
    'task_type',
  ],
  sums: USAGE_SUMS,
  where: 'cma_project_id IS NOT NULL',
};

export const AUDIT_LOG_DAILY: RollupTable = {
  table: AUDIT_LOG_DAILY_TABLE,
  source: AUDIT_LOG_TABLE,
  keys: ['firm_id', 'day', 'action'],
  keyExpressions: ['firm_id', DAY_OF_CREATED_AT, 'action'],
  sums: [{ column: 'events', raw: 'count(*)' }],
};

export const ROLLUP_TABLES = [
  LLM_USAGE_DAILY,
  LLM_USAGE_DAILY_PROJECT,
  AUDIT_LOG_DAILY,
];

/** The advisory lock compaction and rebuild take, so neither sees the other half done. */
export const ROLLUP_LOCK_SQL = `pg_advisory_xact_lock(hashtext('logging_rollups'))`;

/**
 * `INSERT INTO rollup SELECT <keys>, <sums> FROM <rows> WHERE ... GROUP BY <keys>`: the raw rows of
 * `from` (a table or transition table), extra conditions in `where`, as rows `compacted` or not.
 */
export function insertFromRaw(
  rollup: RollupTable,
  from: string,
  where: string[],
  compacted: boolean,
): string {
  const columns = [...rollup.keys, ...rollup.sums.map((s) => s.column)];
  const conditions = [
    'created_at IS NOT NULL',
    ...(rollup.where ? [rollup.where] : []),
    ...where,
  ];
  return [
    `INSERT INTO "${rollup.table}" (${columns.join(', ')}, compacted)`,
    `SELECT ${[...rollup.keyExpressions, ...rollup.sums.map((s) => s.raw)].join(', ')}, ${compacted}`,
    `FROM ${from}`,
    `WHERE ${conditions.join(' AND ')}`,
    `GROUP BY ${rollup.keys.map((_, i) => i + 1).join(', ')}`,
  ].join('\n');
}

/**
 * One statement that folds up to `$1` keys with uncompacted rows into one compacted row each, and
 * returns nothing; its row count is the keys folded.
 */
export function compactStatement(rollup: RollupTable): string {
  const keys = rollup.keys.join(', ');
  const match = rollup.keys.map((k) => `t.${k} = p.${k}`).join(' AND ');
  const sums = rollup.sums.map((s) => `sum(${s.column})`).join(', ');
  return `
    WITH pending AS (
      SELECT DISTINCT ${keys} FROM "${rollup.table}" WHERE NOT compacted LIMIT $1
    ), folded AS (
      DELETE FROM "${rollup.table}" t USING pending p WHERE ${match}
      RETURNING t.*
    )
    INSERT INTO "${rollup.table}" (${keys}, ${rollup.sums.map((s) => s.column).join(', ')}, compacted)
    SELECT ${keys}, ${sums}, true FROM folded GROUP BY ${keys}`;
}
