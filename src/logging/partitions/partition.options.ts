import { isIntegerIn } from '../core/option-check.js';
import { RETIRE_DEFAULTS } from '../core/log-partitions.js';

/**
 * Options of the partitioned layout (`partitions` in `LoggingModule.forRoot`); they apply only to
 * logs converted with `partitionLogs()` (docs/partitions.md). On logs kept as one table, the
 * module reads at startup that they are not partitioned, and does nothing more.
 */
export interface PartitionOptions {
  /**
   * Month partitions kept ready ahead of the current UTC month, made at startup and every
   * `intervalMs`: rows of a month without its partition would land in the default partition.
   * Default: `3`; 0 to 120.
   */
  monthsAhead?: number;
  /**
   * How often, in milliseconds, the module makes the months ahead that are missing; `null`: at
   * startup only (a host's own job calls `LogPartitionService.ensure()`). Default: `21_600_000`
   * (six hours); at least 60,000.
   */
  intervalMs?: number | null;
  /**
   * The longest a month's retirement waits for each lock on the log (its detach takes the log for
   * a few milliseconds): the application's statements wait behind it at most this long. A lock not
   * granted in time is let go and asked for again, 10 times. Default: `1000`; 50 to 60,000.
   */
  lockTimeoutMs?: number;
}

/** Defaults of {@link PartitionOptions}. */
export const PARTITION_DEFAULTS = {
  monthsAhead: 3,
  intervalMs: 21_600_000 as number | null,
  lockTimeoutMs: RETIRE_DEFAULTS.lockTimeoutMs as number,
};

export type ResolvedPartitionOptions = typeof PARTITION_DEFAULTS;

/** Merges `options` over the defaults, refusing values that cannot work with a message naming them. */
export function resolvePartitionOptions(
  options: PartitionOptions = {},
): ResolvedPartitionOptions {
  const resolved = { ...PARTITION_DEFAULTS, ...options };
  const check = (ok: boolean, field: string, rule: string, value: unknown) => {
    if (!ok) {
      throw new Error(
        `LoggingModule: partitions.${field} must be ${rule}, got ${JSON.stringify(value)}`,
      );
    }
  };
  check(
    isIntegerIn(resolved.monthsAhead, 0, 120),
    'monthsAhead',
    'an integer from 0 to 120',
    resolved.monthsAhead,
  );
  check(
    resolved.intervalMs === null || isIntegerIn(resolved.intervalMs, 60_000),
    'intervalMs',
    'null or an integer of at least 60000',
    resolved.intervalMs,
  );
  check(
    isIntegerIn(resolved.lockTimeoutMs, 50, 60_000),
    'lockTimeoutMs',
    'an integer from 50 to 60000',
    resolved.lockTimeoutMs,
  );
  return resolved;
}
