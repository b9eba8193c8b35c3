import type { LlmTaskType } from '../core/logging.constants.js';

/** What a usage summary can be grouped by. */
export const USAGE_REPORT_GROUPS = [
  'day',
  'model',
  'taskType',
  'project',
] as const;

/** One of {@link USAGE_REPORT_GROUPS}. */
export type UsageReportGroup = (typeof USAGE_REPORT_GROUPS)[number];

/** Most rows `mostExpensive` returns; {@link MOST_EXPENSIVE_DEFAULT_LIMIT} when not asked. */
export const MOST_EXPENSIVE_MAX_LIMIT = 1000;
export const MOST_EXPENSIVE_DEFAULT_LIMIT = 10;

/** An instant: a `Date`, or an ISO 8601 date (`'2026-03-01'`, midnight UTC) or zoned date-time. */
export type ReportInstant = Date | string;

/** The arguments of {@link LlmUsageReportService.summary}. */
export interface UsageSummaryQuery {
  /** The one firm reported on. Required. */
  firmId: string;
  /** Start of the range, included. */
  from: ReportInstant;
  /** End of the range, excluded; later than `from`. */
  to: ReportInstant;
  /** Any subset of {@link USAGE_REPORT_GROUPS}, in any order, without duplicates. Default: `[]`. */
  groupBy?: readonly UsageReportGroup[];
}

/** One row of a usage summary: the requested group keys, then the totals of the group. */
export interface UsageSummaryRow {
  /** With `'day'`: the UTC calendar day, `'YYYY-MM-DD'`. */
  day?: string;
  /** With `'model'`. */
  model?: string;
  /** With `'taskType'`. */
  taskType?: LlmTaskType;
  /** With `'project'`: `cma_project_id`, `null` for calls without a project. */
  cmaProjectId?: string | null;
  /** Calls in the group. */
  calls: number;
  /** Calls with `success = false`. */
  failures: number;
  /** Exact decimal string of the SQL sum of `input_tokens`. */
  inputTokens: string;
  /** Exact decimal string of the SQL sum of `output_tokens`. */
  outputTokens: string;
  /** Exact decimal string of the SQL sum of `cost_usd`, always 6 fractional digits: `'0.000372'`. */
  costUsd: string;
}

/** The arguments of {@link LlmUsageReportService.mostExpensive}. */
export interface ExpensiveCallsQuery {
  /** The one firm reported on. Required. */
  firmId: string;
  /** Start of the range, included. Default: no lower bound. */
  from?: ReportInstant;
  /** End of the range, excluded. Default: no upper bound. */
  to?: ReportInstant;
  /** 1 to {@link MOST_EXPENSIVE_MAX_LIMIT}; default {@link MOST_EXPENSIVE_DEFAULT_LIMIT}. */
  limit?: number;
}

/** One call, as `mostExpensive` returns it. */
export interface ExpensiveCall {
  id: string;
  createdAt: Date | null;
  model: string;
  taskType: LlmTaskType;
  cmaProjectId: string | null;
  inputTokens: number;
  outputTokens: number;
  /** Exact decimal string, 6 fractional digits. */
  costUsd: string;
  latencyMs: number | null;
  success: boolean | null;
}

/** A parameterised statement. */
export interface ReportStatement {
  sql: string;
  parameters: unknown[];
}
