/**
 * The usage summary over the daily rollups: whole UTC days from `llm_usage_daily` (and
 * `llm_usage_daily_project` when grouped by project), the partial days at either end of
 * [from, to) from the raw rows; summed together in one statement, so the result is exactly the
 * raw-row summary's, formats included.
 */
import {
  LLM_USAGE_DAILY_PROJECT_TABLE,
  LLM_USAGE_DAILY_TABLE,
  LLM_USAGE_LOG_TABLE,
} from '../core/logging.constants.js';
import { toInstant } from '../core/validation-rules.js';
import type {
  ReportStatement,
  UsageReportGroup,
  UsageSummaryQuery,
  UsageSummaryRow,
} from './usage-report.types.js';

const GROUP_KEYS: Record<
  UsageReportGroup,
  { expression: string; field: string; order: string }
> = {
  day: {
    expression: `to_char(day, 'YYYY-MM-DD')`,
    field: 'day',
    order: `to_char(day, 'YYYY-MM-DD')`,
  },
  model: { expression: 'model', field: 'model', order: 'model COLLATE "C"' },
  taskType: {
    expression: 'task_type',
    field: 'taskType',
    order: 'task_type COLLATE "C"',
  },
  project: {
    expression: 'project',
    field: 'cmaProjectId',
    order: 'project NULLS LAST',
  },
};

const DAY_MS = 86_400_000;
const startOfDay = (t: number) => t - (((t % DAY_MS) + DAY_MS) % DAY_MS);

/** The whole UTC days inside [from, to), and the raw-row edges around them. */
export function splitRange(from: Date, to: Date) {
  const firstWhole = startOfDay(from.getTime() + DAY_MS - 1);
  const lastWhole = startOfDay(to.getTime());
  if (firstWhole >= lastWhole) {
    // No whole day: the raw rows answer it all.
    return { head: [from, to], tail: [to, to], days: [to, to] } as const;
  }
  return {
    head: [from, new Date(firstWhole)],
    tail: [new Date(lastWhole), to],
    days: [new Date(firstWhole), new Date(lastWhole)],
  } as const;
}

const SUMS = 'calls, failures, input_tokens, output_tokens, cost_usd';
const NEGATED_SUMS =
  '-calls, -failures, -input_tokens, -output_tokens, -cost_usd';

/**
 * The statement `summary` runs, for a valid query. Parameters: `$1` firm, `$2`-`$5` the raw edges,
 * `$6`-`$7` the whole days; `ids`, on the partitioned layout, the condition on id of the range's
 * rows (`idCondition`). Internal, exported for the tests and the benchmark.
 */
export function rollupSummaryStatement(
  query: UsageSummaryQuery,
  ids?: string,
): ReportStatement {
  const groups = query.groupBy ?? [];
  const byProject = groups.includes('project');
  const raw = (range: string) =>
    `SELECT (created_at AT TIME ZONE 'UTC')::date AS day, model, task_type, cma_project_id AS project,
       1::bigint AS calls, CASE WHEN success = false THEN 1 ELSE 0 END::bigint AS failures,
       input_tokens::bigint AS input_tokens, output_tokens::bigint AS output_tokens, cost_usd::numeric AS cost_usd
     FROM ${LLM_USAGE_LOG_TABLE} WHERE firm_id = $1 AND ${range}${ids ? ` AND ${ids}` : ''}`;
  const rolled = (table: string, project: string, sums: string) =>
    `SELECT day, model, task_type, ${project} AS project, ${sums}
     FROM ${table} WHERE firm_id = $1 AND day >= $6 AND day < $7`;
  const facts = [
    raw('created_at >= $2 AND created_at < $3'),
    raw('created_at >= $4 AND created_at < $5'),
    rolled(LLM_USAGE_DAILY_TABLE, 'NULL::uuid', SUMS),
    // By project: the project rollup, and the calls without one as the firm's totals minus it.
    ...(byProject
      ? [
          rolled(LLM_USAGE_DAILY_PROJECT_TABLE, 'cma_project_id', SUMS),
          rolled(LLM_USAGE_DAILY_PROJECT_TABLE, 'NULL::uuid', NEGATED_SUMS),
        ]
      : []),
  ];
  const keys = groups.map(
    (g) => `${GROUP_KEYS[g].expression} AS "${GROUP_KEYS[g].field}"`,
  );
  const positions = groups.map((_, i) => String(i + 1));
  const sql = [
    `WITH facts AS (${facts.join('\nUNION ALL\n')})`,
    `SELECT ${[
      ...keys,
      'coalesce(sum(calls), 0)::text AS "calls"',
      'coalesce(sum(failures), 0)::text AS "failures"',
      'coalesce(sum(input_tokens), 0)::text AS "inputTokens"',
      'coalesce(sum(output_tokens), 0)::text AS "outputTokens"',
      'round(coalesce(sum(cost_usd), 0), 6)::text AS "costUsd"',
    ].join(', ')}`,
    'FROM facts',
    ...(positions.length
      ? [
          `GROUP BY ${groups.map((g) => GROUP_KEYS[g].expression).join(', ')}`,
          // A group of the firm-minus-projects difference that nets to nothing has no calls.
          'HAVING sum(calls) > 0',
          `ORDER BY ${groups.map((g) => GROUP_KEYS[g].order).join(', ')}`,
        ]
      : []),
  ].join('\n');
  const { head, tail, days } = splitRange(
    toInstant(query.from)!,
    toInstant(query.to)!,
  );
  const iso = (d: Date) => d.toISOString();
  return {
    sql,
    parameters: [
      query.firmId,
      iso(head[0]),
      iso(head[1]),
      iso(tail[0]),
      iso(tail[1]),
      iso(days[0]).slice(0, 10),
      iso(days[1]).slice(0, 10),
    ],
  };
}

/** `rows` by day, with a row of zeros for every UTC day of [from, to) that has none. */
export function everyDay(
  rows: UsageSummaryRow[],
  from: Date,
  to: Date,
): UsageSummaryRow[] {
  const byDay = new Map(rows.map((row) => [row.day, row]));
  const series: UsageSummaryRow[] = [];
  for (let t = startOfDay(from.getTime()); t < to.getTime(); t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    series.push(
      byDay.get(day) ?? {
        day,
        calls: 0,
        failures: 0,
        inputTokens: '0',
        outputTokens: '0',
        costUsd: '0.000000',
      },
    );
  }
  return series;
}
