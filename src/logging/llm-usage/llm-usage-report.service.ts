import { Inject, Injectable } from '@nestjs/common';
import {
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsUUID,
  Max,
  Min,
} from 'class-validator';
import type { DataSource } from 'typeorm';
import {
  LLM_USAGE_LOG_TABLE,
  LOGGING_DATA_SOURCE,
} from '../core/logging.constants.js';
import { LogQueryError, queryViolations } from '../core/entry-validation.js';
import { IsInstant, IsLaterThan, toInstant } from '../core/validation-rules.js';
import { idCondition, layoutOf, queryOf } from '../core/log-partitions.js';
import { everyDay, rollupSummaryStatement } from './rollup-summary.js';
import {
  USAGE_REPORT_GROUPS,
  type UsageReportGroup,
  MOST_EXPENSIVE_MAX_LIMIT,
  MOST_EXPENSIVE_DEFAULT_LIMIT,
  type ReportInstant,
  type UsageSummaryQuery,
  type UsageSummaryRow,
  type ExpensiveCallsQuery,
  type ExpensiveCall,
  type ReportStatement,
} from './usage-report.types.js';

/**
 * A report query broke one or more rules. Nothing was queried. `violations` names every bad field
 * with the rule it broke; values are never echoed.
 */
export class UsageReportQueryError extends LogQueryError {
  override readonly name = 'UsageReportQueryError';

  /** The report asked for: `usage summary` or `most expensive calls`. */
  get report(): string {
    return this.query;
  }
}

const GROUPS_RULE = `groupBy values must be among ${USAGE_REPORT_GROUPS.join(', ')}`;
const LIMIT_RULE = `limit must be an integer from 1 to ${MOST_EXPENSIVE_MAX_LIMIT}`;

/** The validation rules of {@link UsageSummaryQuery}. */
export class UsageSummaryQueryDto {
  @IsUUID('all', { message: 'firmId must be a UUID' })
  firmId: string;

  @IsInstant()
  from: ReportInstant;

  @IsInstant()
  @IsLaterThan('from')
  to: ReportInstant;

  @IsOptional()
  @IsArray({ message: 'groupBy must be an array' })
  @ArrayUnique({ message: 'groupBy must not name a group twice' })
  @IsIn(USAGE_REPORT_GROUPS, { each: true, message: GROUPS_RULE })
  groupBy?: UsageReportGroup[];
}

/** The validation rules of {@link ExpensiveCallsQuery}. */
export class ExpensiveCallsQueryDto {
  @IsUUID('all', { message: 'firmId must be a UUID' })
  firmId: string;

  @IsOptional()
  @IsInstant()
  from?: ReportInstant;

  @IsOptional()
  @IsInstant()
  @IsLaterThan('from')
  to?: ReportInstant;

  @IsOptional()
  @IsInt({ message: LIMIT_RULE })
  @Min(1, { message: LIMIT_RULE })
  @Max(MOST_EXPENSIVE_MAX_LIMIT, { message: LIMIT_RULE })
  limit?: number;
}

function validQuery<T extends object>(
  Query: new () => T,
  report: string,
  input: unknown,
): T {
  const { instance, violations } = queryViolations(Query, input);
  if (violations.length) throw new UsageReportQueryError(report, violations);
  return instance;
}

/** The group key columns: the SQL expression and the row field each group adds. */
const GROUP_COLUMNS: Record<
  UsageReportGroup,
  { expression: string; field: string; order: string }
> = {
  day: {
    expression: `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
    field: 'day',
    order: `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  },
  // Text keys are ordered byte-wise (COLLATE "C"), the same whatever the database's collation.
  model: { expression: 'model', field: 'model', order: 'model COLLATE "C"' },
  taskType: {
    expression: 'task_type',
    field: 'taskType',
    order: 'task_type COLLATE "C"',
  },
  project: {
    expression: 'cma_project_id',
    field: 'cmaProjectId',
    order: 'cma_project_id NULLS LAST',
  },
};

/**
 * The raw-row summary: the same answer `summary` gives from the rollups, read from `llm_usage_log`
 * alone. Group keys come first, in the order given; rows are ordered by them. `ids`, on the
 * partitioned layout: the condition on id of the range's rows (`idCondition`). Internal, exported
 * for the tests and the benchmark (its baseline).
 */
export function summaryStatement(
  query: UsageSummaryQuery,
  ids?: string,
): ReportStatement {
  const groups = query.groupBy ?? [];
  const keys = groups.map(
    (group) =>
      `${GROUP_COLUMNS[group].expression} AS "${GROUP_COLUMNS[group].field}"`,
  );
  const positions = groups.map((_, i) => String(i + 1));
  const order = groups.map((group) => GROUP_COLUMNS[group].order);
  const sql = [
    `SELECT ${[
      ...keys,
      'count(*)::text AS "calls"',
      'count(*) FILTER (WHERE success = false)::text AS "failures"',
      'coalesce(sum(input_tokens), 0)::text AS "inputTokens"',
      'coalesce(sum(output_tokens), 0)::text AS "outputTokens"',
      'round(coalesce(sum(cost_usd), 0), 6)::text AS "costUsd"',
    ].join(', ')}`,
    `FROM ${LLM_USAGE_LOG_TABLE}`,
    `WHERE firm_id = $1 AND created_at >= $2 AND created_at < $3${ids ? ` AND ${ids}` : ''}`,
    ...(positions.length
      ? [`GROUP BY ${positions.join(', ')}`, `ORDER BY ${order.join(', ')}`]
      : []),
  ].join('\n');
  return {
    sql,
    parameters: [
      query.firmId,
      toInstant(query.from)!.toISOString(),
      toInstant(query.to)!.toISOString(),
    ],
  };
}

/**
 * The statement `mostExpensive` runs, for a valid query: cost descending, then newest first, then
 * id (so ties are ordered deterministically). Internal, exported for the query-plan tests and the
 * benchmark.
 */
export function mostExpensiveStatement(
  query: ExpensiveCallsQuery,
  ids?: string,
): ReportStatement {
  const parameters: unknown[] = [query.firmId];
  const where = ['firm_id = $1', ...(ids ? [ids] : [])];
  if (query.from !== undefined && query.from !== null) {
    parameters.push(toInstant(query.from)!.toISOString());
    where.push(`created_at >= $${parameters.length}`);
  }
  if (query.to !== undefined && query.to !== null) {
    parameters.push(toInstant(query.to)!.toISOString());
    where.push(`created_at < $${parameters.length}`);
  }
  parameters.push(query.limit ?? MOST_EXPENSIVE_DEFAULT_LIMIT);
  const sql = [
    'SELECT id, created_at AS "createdAt", model, task_type AS "taskType",',
    '  cma_project_id AS "cmaProjectId", input_tokens AS "inputTokens",',
    '  output_tokens AS "outputTokens", cost_usd::text AS "costUsd",',
    '  latency_ms AS "latencyMs", success',
    `FROM ${LLM_USAGE_LOG_TABLE}`,
    `WHERE ${where.join(' AND ')}`,
    'ORDER BY cost_usd DESC, created_at DESC NULLS LAST, id DESC',
    `LIMIT $${parameters.length}`,
  ].join('\n');
  return { sql, parameters };
}

interface SummaryRecord {
  calls: string;
  failures: string;
  inputTokens: string;
  outputTokens: string;
  costUsd: string;
  [key: string]: unknown;
}

/**
 * Reports over `llm_usage_log`, always for one firm: every statement filters on `firm_id = $1`.
 * Sums are done by PostgreSQL and come back as exact decimal strings, never JavaScript floats.
 * Queries are checked at the edge: a bad one is refused with one {@link UsageReportQueryError}
 * naming every bad field, and nothing is queried.
 */
@Injectable()
export class LlmUsageReportService {
  /** Whether llm_usage_log is partitioned by month: its reads of a range then bound the id. */
  private readonly partitioned: () => Promise<boolean>;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {
    this.partitioned = layoutOf(queryOf(dataSource), LLM_USAGE_LOG_TABLE);
  }

  /**
   * On the partitioned layout, the condition on id of the rows dated in [from, to)
   * (docs/partitions.md, "Reading a few months"); nothing on one table, or for a whole history.
   */
  private async ids(
    from: ReportInstant | null | undefined,
    to: ReportInstant | null | undefined,
  ): Promise<string | undefined> {
    if (from === undefined || from === null || !(await this.partitioned())) {
      return undefined;
    }
    return idCondition(
      queryOf(this.dataSource),
      LLM_USAGE_LOG_TABLE,
      toInstant(from)!,
      to === undefined || to === null ? null : toInstant(to)!,
    );
  }

  /**
   * Usage of one firm over [`from`, `to`), grouped by any combination of `'day'` (UTC),
   * `'model'`, `'taskType'` and `'project'`, ordered by the group keys. Without groups, one row
   * (zeros when nothing was used). Whole UTC days are read from the daily rollups, so months whose
   * raw rows retention has purged still report; the partial days at either end from the raw rows.
   *
   * @throws UsageReportQueryError naming every bad field; nothing is queried
   * @example
   * await reports.summary({ firmId, from: '2026-03-01', to: '2026-04-01', groupBy: ['day', 'model'] });
   * // [{ day: '2026-03-01', model: 'gemini-3-flash', calls: 42, failures: 1,
   * //    inputTokens: '50400', outputTokens: '12600', costUsd: '0.063000' }, ...]
   */
  async summary(query: UsageSummaryQuery): Promise<UsageSummaryRow[]> {
    const valid = validQuery(UsageSummaryQueryDto, 'usage summary', query);
    const { sql, parameters } = rollupSummaryStatement(
      valid,
      await this.ids(valid.from, valid.to),
    );
    const rows: SummaryRecord[] = await this.dataSource.query(sql, parameters);
    return rows.map((row) => ({
      ...row,
      calls: Number(row.calls),
      failures: Number(row.failures),
    }));
  }

  /**
   * One row per UTC day that [`from`, `to`) touches, oldest first, zeros on days without calls: a
   * series for charts. Days are `summary({ groupBy: ['day'] })`'s.
   *
   * @throws UsageReportQueryError naming every bad field; nothing is queried
   */
  async dailySeries(
    query: Omit<UsageSummaryQuery, 'groupBy'>,
  ): Promise<UsageSummaryRow[]> {
    const rows = await this.summary({ ...query, groupBy: ['day'] });
    return everyDay(rows, toInstant(query.from)!, toInstant(query.to)!);
  }

  /**
   * The firm's most expensive calls, optionally within [`from`, `to`): cost descending, then newest
   * first; `limit` rows (default 10, at most 1000). Read from the raw rows (a call is not in the
   * rollups): without `from`, it reads every raw row of the firm that retention has kept, so the raw
   * retention window bounds its cost; pass `from` for a fast answer.
   *
   * @throws UsageReportQueryError naming every bad field; nothing is queried
   */
  async mostExpensive(query: ExpensiveCallsQuery): Promise<ExpensiveCall[]> {
    const valid = validQuery(
      ExpensiveCallsQueryDto,
      'most expensive calls',
      query,
    );
    const { sql, parameters } = mostExpensiveStatement(
      valid,
      await this.ids(valid.from, valid.to),
    );
    return this.dataSource.query(sql, parameters);
  }
}

export {
  USAGE_REPORT_GROUPS,
  type UsageReportGroup,
  MOST_EXPENSIVE_MAX_LIMIT,
  MOST_EXPENSIVE_DEFAULT_LIMIT,
  type ReportInstant,
  type UsageSummaryQuery,
  type UsageSummaryRow,
  type ExpensiveCallsQuery,
  type ExpensiveCall,
  type ReportStatement,
};
