import {
  LogPartitionError,
  PARTITIONABLE_LOGS,
  type PartitionedLogName,
} from '../core/log-partitions.js';
import { isIntegerIn } from '../core/option-check.js';

/** Options of {@link partitionLogs}; every field is optional. */
export interface PartitionConversionOptions {
  /** The logs to convert. Default: both, `['audit_log', 'llm_usage_log']`. */
  logs?: PartitionedLogName[];
  /** Rows copied per statement, each in a transaction of its own. Default: `2000`; 100 to 100,000. */
  batchSize?: number;
  /**
   * The share of the time the copy of the rows there before may take: after a batch that took `t`
   * ms, the conversion pauses at least `t × (1 − copyShare) / copyShare` ms, leaving the rest to the
   * application's writes. The rows the application writes meanwhile are copied as they come,
   * without a pause, so the conversion ends whatever their rate. `1`: no pause but `pauseMs`.
   * Default: `0.25`; 0.01 to 1.
   */
  copyShare?: number;
  /** The shortest pause after each batch, in milliseconds. Default: `0`; 0 to 60,000. */
  pauseMs?: number;
  /** Month partitions made ahead of the current month. Default: `3`; 0 to 120. */
  monthsAhead?: number;
  /**
   * The longest the conversion waits for a lock on a log (to install its copy trigger, and for the
   * swap); the application's statements on the log wait behind it at most this long, plus the
   * swap itself. A lock not granted in time is let go and asked for again. Default: `500`; 50 to
   * 10,000.
   */
  lockTimeoutMs?: number;
  /** How many times a lock is asked for before the conversion gives up. Default: `40`; 1 to 1,000. */
  lockAttempts?: number;
  /**
   * Keep the unpartitioned table, renamed `<log>__unpartitioned` (its indexes too), instead of
   * dropping it once the swap is committed. Default: `false`.
   */
  keepUnpartitioned?: boolean;
  /** Called after each batch and each phase. Default: none. */
  onProgress?: (progress: PartitionConversionProgress) => void;
}

/** Where a conversion stands. */
export interface PartitionConversionProgress {
  log: PartitionedLogName;
  phase: 'prepared' | 'copying' | 'swapped' | 'done';
  /** Rows copied so far: by id range, then from the queue of rows inserted meanwhile. */
  copied: number;
  queued: number;
}

/** What {@link partitionLogs} did to one log. */
export interface PartitionConversionResult {
  log: PartitionedLogName;
  /** False when the log was partitioned already: nothing was done. */
  converted: boolean;
  /** Rows copied by id range, in batches. */
  copied: number;
  /** Rows inserted during the conversion, copied from the queue the copy trigger fills. */
  queued: number;
  /** Month partitions made. */
  months: number;
  /** Tries of the swap: 1 unless its lock was not granted in time. */
  swapAttempts: number;
  /** How long the swap held the log, in milliseconds (its lock wait excluded). */
  swapMs: number;
  /** The whole conversion of the log, in milliseconds. */
  ms: number;
  /** The unpartitioned table, when kept. */
  keptAs?: string;
}

/** Defaults of {@link PartitionConversionOptions}. */
export const CONVERSION_DEFAULTS = {
  logs: [...PARTITIONABLE_LOGS],
  batchSize: 2000,
  copyShare: 0.25,
  pauseMs: 0,
  monthsAhead: 3,
  lockTimeoutMs: 500,
  lockAttempts: 40,
  keepUnpartitioned: false,
};

export type ResolvedConversionOptions = typeof CONVERSION_DEFAULTS &
  Pick<PartitionConversionOptions, 'onProgress'>;

/** Merges `options` over the defaults; a bad one throws a LogPartitionError naming it and its rule. */
export function resolveConversionOptions(
  options: PartitionConversionOptions = {},
): ResolvedConversionOptions {
  const resolved = {
    ...CONVERSION_DEFAULTS,
    ...options,
  } as ResolvedConversionOptions;
  const check = (ok: boolean, field: string, rule: string, value: unknown) => {
    if (!ok) {
      throw new LogPartitionError(
        `partitionLogs: ${field} must be ${rule}, got ${JSON.stringify(value)}`,
      );
    }
  };
  const { logs } = resolved;
  check(
    Array.isArray(logs) &&
      logs.length > 0 &&
      logs.every((log) => PARTITIONABLE_LOGS.includes(log)) &&
      new Set(logs).size === logs.length,
    'logs',
    "a non-empty list of distinct 'audit_log' and 'llm_usage_log'",
    logs,
  );
  const ranges = [
    ['batchSize', 100, 100_000],
    ['pauseMs', 0, 60_000],
    ['monthsAhead', 0, 120],
    ['lockTimeoutMs', 50, 10_000],
    ['lockAttempts', 1, 1000],
  ] as const;
  for (const [field, min, max] of ranges) {
    const value = resolved[field];
    check(
      isIntegerIn(value, min, max),
      field,
      `an integer from ${min} to ${max}`,
      value,
    );
  }
  check(
    typeof resolved.copyShare === 'number' &&
      resolved.copyShare >= 0.01 &&
      resolved.copyShare <= 1,
    'copyShare',
    'a number from 0.01 to 1',
    resolved.copyShare,
  );
  check(
    typeof resolved.keepUnpartitioned === 'boolean',
    'keepUnpartitioned',
    'a boolean',
    resolved.keepUnpartitioned,
  );
  check(
    resolved.onProgress === undefined ||
      typeof resolved.onProgress === 'function',
    'onProgress',
    'a function',
    typeof resolved.onProgress,
  );
  return resolved;
}
