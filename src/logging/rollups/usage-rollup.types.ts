import { IsOptional, IsUUID } from 'class-validator';
import { LogQueryError } from '../core/entry-validation.js';
import { IsInstant, IsLaterThan } from '../core/validation-rules.js';

/** Options of the rollups, `LoggingModule.forRoot({ rollups })`. */
export interface UsageRollupOptions {
  /**
   * How often the module folds the rollups' insert-only deltas into one row per key
   * (`UsageRollupService.compact()`), in milliseconds; `0` turns it off (run
   * `SELECT logging_rollup_compact()` from a job of your own then). Default: `60000`.
   */
  compactIntervalMs?: number;
}

export const ROLLUP_DEFAULTS = { compactIntervalMs: 60_000 } as const;

/** The rollups: `llm_usage_daily`, `llm_usage_daily_project`, `audit_log_daily`. */
export type RollupTableName =
  'llm_usage_daily' | 'llm_usage_daily_project' | 'audit_log_daily';

/** A range of whole UTC days: `from` is taken back to its day's start, `to` on to the next. */
export interface RollupRange {
  /** Only this firm's rows. Default: every firm. */
  firmId?: string;
  /** A `Date` or ISO 8601 date or date-time; its UTC day is the first one. */
  from: Date | string;
  /** A `Date` or ISO 8601 date or date-time, later than `from`; days up to it, excluded. */
  to: Date | string;
}

/** One key where a rollup and the raw rows disagree. */
export interface RollupDifference {
  rollup: RollupTableName;
  /** The key, camelCase: `{ firmId, day, model, taskType }`, `cmaProjectId` or `action`. */
  key: Record<string, string>;
  /** The sums from the raw rows; `null` where there are none. */
  expected: Record<string, string> | null;
  /** The sums in the rollup; `null` where it has no row. */
  actual: Record<string, string> | null;
}

/** What `reconcile` compared, and every difference it found. */
export interface RollupReconciliation {
  /** Per rollup, the days compared: after the retention horizon of its log. */
  checked: { rollup: RollupTableName; from: string; to: string }[];
  differences: RollupDifference[];
}

/** What `rebuild` did. */
export interface RollupRebuild {
  /** The days recomputed, `'YYYY-MM-DD'`, first and last included. */
  from: string;
  to: string;
  days: number;
  /** Rollup rows written. */
  rows: number;
}

/** The validation rules of {@link RollupRange}. */
export class RollupRangeDto {
  @IsOptional()
  @IsUUID('all', { message: 'firmId must be a UUID' })
  firmId?: string;

  @IsInstant()
  from: Date | string;

  @IsInstant()
  @IsLaterThan('from')
  to: Date | string;
}

/** A reconcile, rebuild or purge was asked with bad arguments. Nothing was read or changed. */
export class RollupQueryError extends LogQueryError {
  override readonly name = 'RollupQueryError';
}

/**
 * A rebuild was asked for days retention has already purged from the raw log: recomputing them
 * would erase billing history. Nothing was changed.
 */
export class RollupRetentionError extends Error {
  override readonly name = 'RollupRetentionError';

  constructor(
    readonly table: string,
    readonly purgedBefore: Date,
  ) {
    super(
      `rebuild: ${table} was purged before ${purgedBefore.toISOString()}; rebuild only days from ` +
        `${nextDay(purgedBefore)} on, where the raw rows are complete`,
    );
  }
}

/** `'YYYY-MM-DD'` of the first UTC day starting at or after `instant`. */
export function nextDay(instant: Date): string {
  const day = new Date(
    Date.UTC(
      instant.getUTCFullYear(),
      instant.getUTCMonth(),
      instant.getUTCDate(),
    ),
  );
  if (day.getTime() < instant.getTime()) day.setUTCDate(day.getUTCDate() + 1);
  return day.toISOString().slice(0, 10);
}

/** `'YYYY-MM-DD'` of the UTC day holding `instant`. */
export function dayOf(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}
