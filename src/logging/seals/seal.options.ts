import type { SealableLog } from './seal-encoding.js';
import type { Seal, SealRun } from './seal.types.js';

/**
 * Options of the seals over the logs (`seals` in `LoggingModule.forRoot`). See
 * docs/tamper-evidence.md.
 */
export interface SealOptions {
  /** The logs sealed by `seal()` and in the background. Default: `['audit_log', 'llm_usage_log']`. */
  logs?: SealableLog[];
  /**
   * Seal in the background every this many milliseconds, at most one sealer at a time across
   * processes (a PostgreSQL advisory lock). Default: `null`, no background sealing.
   */
  intervalMs?: number | null;
  /** Only rows older than this (by the database clock) are sealed. Default: `5000`. */
  settleMs?: number;
  /**
   * A row that appears in an already sealed range is taken into the next seal as a late arrival when
   * its `created_at` is less than this much before the last seal was made; otherwise `verify`
   * reports it as inserted. Default: `3_600_000` (one hour).
   */
  lateWindowMs?: number;
  /**
   * Most rows in one seal; a larger backlog gets several seals. At most `1_000_000`: verification
   * hashes one seal's encodings as one PostgreSQL value. Default: `100_000`.
   */
  maxRowsPerSeal?: number;
  /**
   * Background sealing gives way to this process's writer: before it starts and between chunks of
   * rows it waits while the writer has rows queued or in flight, but for at most this many
   * milliseconds in one run, after which it seals the rest without waiting, so sealing never
   * starves. `0`: never wait. `seal()` called explicitly never waits. Default: `60_000`.
   */
  maxDeferMs?: number;
  /**
   * Called with each new seal after it is committed, in chain order: publish its digest outside the
   * database (logs, object storage with a retention lock, mail to the auditor). Default: none.
   */
  onSeal?: (seal: Seal) => void | Promise<void>;
  /**
   * Called with each run after it is committed, after `onSeal` of its seals: publish its digest
   * too. A run covers every firm up to its cutoff, the idle ones included; its digest commits to
   * every firm's last seal, so publishing runs keeps the time of idle firms evident. Default: none.
   */
  onRun?: (run: SealRun) => void | Promise<void>;
}

/** Defaults of {@link SealOptions}. */
export const SEAL_DEFAULTS = {
  logs: ['audit_log', 'llm_usage_log'] as SealableLog[],
  intervalMs: null as number | null,
  settleMs: 5000,
  lateWindowMs: 3_600_000,
  maxRowsPerSeal: 100_000,
  maxDeferMs: 60_000,
};

/** The most rows one seal may hold: its encodings are hashed as one value by the SQL verifier. */
export const MAX_ROWS_PER_SEAL = 1_000_000;

export type ResolvedSealOptions = typeof SEAL_DEFAULTS &
  Pick<SealOptions, 'onSeal' | 'onRun'>;

/** Merges `options` over the defaults, refusing values that cannot work with a message naming them. */
export function resolveSealOptions(
  options: SealOptions = {},
): ResolvedSealOptions {
  const resolved = { ...SEAL_DEFAULTS, ...options } as ResolvedSealOptions;
  const bad = (field: string, rule: string, value: unknown) =>
    new Error(
      `LoggingModule: seals.${field} must be ${rule}, got ${JSON.stringify(value)}`,
    );
  const count = (
    field: 'settleMs' | 'lateWindowMs' | 'maxRowsPerSeal' | 'maxDeferMs',
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ) => {
    const value = resolved[field];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw bad(
        field,
        max === Number.MAX_SAFE_INTEGER
          ? `an integer of at least ${min}`
          : `an integer from ${min} to ${max}`,
        value,
      );
    }
  };
  count('settleMs', 0);
  count('lateWindowMs', 0);
  count('maxRowsPerSeal', 1, MAX_ROWS_PER_SEAL);
  count('maxDeferMs', 0);
  if (
    resolved.intervalMs !== null &&
    (!Number.isInteger(resolved.intervalMs) || resolved.intervalMs < 100)
  ) {
    throw bad(
      'intervalMs',
      'null or an integer of at least 100',
      resolved.intervalMs,
    );
  }
  if (
    !Array.isArray(resolved.logs) ||
    resolved.logs.some((log) => log !== 'audit_log' && log !== 'llm_usage_log')
  ) {
    throw bad(
      'logs',
      "a list of 'audit_log' and 'llm_usage_log'",
      resolved.logs,
    );
  }
  for (const hook of ['onSeal', 'onRun'] as const) {
    if (resolved[hook] !== undefined && typeof resolved[hook] !== 'function') {
      throw bad(hook, 'a function', typeof resolved[hook]);
    }
  }
  return resolved;
}
