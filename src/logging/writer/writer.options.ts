import { isIntegerIn, optionCheck } from '../core/option-check.js';

/**
 * When `record()` resolves. `'await'`: once the row is committed (concurrent callers share one
 * commit). `'buffered'`: at once; the row waits in the bounded buffer and is written within
 * `bufferedDelayMs` or when a batch fills, and failures are counted and logged.
 */
export type Durability = 'await' | 'buffered';

/** What a write does when the buffer is full: wait for room, or fail with `LogBufferFullError`. */
export type FullBufferPolicy = 'wait' | 'reject';

/** Options of the batched writer, `LoggingModule.forRoot({ writer: {...} })`. */
export interface LogWriterOptions {
  /** Rows per INSERT statement at most. Default: `1000`. */
  batchSize?: number;
  /**
   * Longest an `'await'` row waits for its batch to fill before it is sent anyway, in ms: its
   * caller waits too. `0`: sent once the I/O callbacks of the current turn have run, so rows
   * arriving together share a statement, and rows arriving while every connection is busy share
   * the next one. Default: `0`.
   */
  maxDelayMs?: number;
  /**
   * Longest a `'buffered'` row waits for its batch to fill, in ms. Nobody waits for it, and fuller
   * batches cost less per row; it is also how long a crash (not a graceful shutdown, which flushes)
   * can cost buffered rows. Default: `50`.
   */
  bufferedDelayMs?: number;
  /** Statements in flight at once per table, each on a connection of the writer's pool. Default: `2`. */
  concurrency?: number;
  /**
   * Connections of the writer's own pool, opened with the host DataSource's settings (its
   * credentials, SSL, `extra`, hooks) and used for the writer's statements only: whatever the
   * database does to them, the host's pool is not drawn on. A statement that times out has its
   * connection closed and given back. Default: `concurrency` × 2 (the two log tables), `4`.
   */
  poolSize?: number;
  /** Rows queued or in flight per table before `onFullBuffer` applies. Default: `10000`. */
  bufferSize?: number;
  /** Default: `'wait'`. */
  onFullBuffer?: FullBufferPolicy;
  /** Durability of a `record()` call that does not choose one. Default: `'await'`. */
  durability?: Durability;
  /**
   * Retries of a batch while the database is unreachable: `attempts` tries in all, waiting
   * `baseDelayMs`, then twice that, and so on up to `maxDelayMs` (with jitter). Defaults: `8`,
   * `100`, `5000`, about 11 seconds in all.
   */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /**
   * Longest the writer waits for one INSERT statement, in ms, before it counts the database as
   * unreachable and retries the batch on another connection (`0`: no limit). A connection gone
   * half-open (bytes stop, no FIN or reset reaches the app) would otherwise hold the batch, and its
   * `'await'` callers, until the operating system gives up on the socket, many minutes later. A
   * statement that did commit after all is not written twice (`ON CONFLICT (id) DO NOTHING`).
   * Default: `30000`.
   */
  statementTimeoutMs?: number;
  /**
   * Longest the writer's part of a shutdown takes, in ms, counted from the first shutdown hook Nest
   * calls on it (`onModuleDestroy`). When it passes, the writer refuses new rows and reports every
   * row it accepted and did not write: an error line per table with the counts, `rowsUnwritten` in
   * `stats()` and the `rows.unwritten` metric. Keep it below the time the platform allows for a
   * shutdown (Kubernetes' `terminationGracePeriodSeconds`, 30 s by default), less what the rest of
   * the app needs to close. Default: `10000`.
   */
  shutdownTimeoutMs?: number;
}

export interface ResolvedWriterOptions {
  batchSize: number;
  maxDelayMs: number;
  bufferedDelayMs: number;
  concurrency: number;
  poolSize: number;
  bufferSize: number;
  onFullBuffer: FullBufferPolicy;
  durability: Durability;
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  statementTimeoutMs: number;
  shutdownTimeoutMs: number;
}

/** The log tables the writer serves: `poolSize` defaults to a connection per statement in flight. */
const LOG_TABLES = 2;

export const WRITER_DEFAULTS: ResolvedWriterOptions = {
  batchSize: 1000,
  maxDelayMs: 0,
  bufferedDelayMs: 50,
  concurrency: 2,
  poolSize: 2 * LOG_TABLES,
  bufferSize: 10_000,
  onFullBuffer: 'wait',
  durability: 'await',
  retry: { attempts: 8, baseDelayMs: 100, maxDelayMs: 5000 },
  statementTimeoutMs: 30_000,
  shutdownTimeoutMs: 10_000,
};

const check = optionCheck('writer');
const integer = isIntegerIn;

/** Merges the defaults and checks every value, naming the field and the rule it breaks. */
export function resolveWriterOptions(
  options: LogWriterOptions = {},
): ResolvedWriterOptions {
  const resolved: ResolvedWriterOptions = {
    ...WRITER_DEFAULTS,
    ...options,
    poolSize:
      options.poolSize ??
      (options.concurrency ?? WRITER_DEFAULTS.concurrency) * LOG_TABLES,
    retry: { ...WRITER_DEFAULTS.retry, ...options.retry },
  };
  check(
    integer(resolved.batchSize, 1),
    'batchSize',
    'an integer of at least 1',
  );
  check(
    integer(resolved.maxDelayMs, 0),
    'maxDelayMs',
    'an integer of at least 0',
  );
  check(
    integer(resolved.bufferedDelayMs, 0),
    'bufferedDelayMs',
    'an integer of at least 0',
  );
  check(
    integer(resolved.concurrency, 1),
    'concurrency',
    'an integer of at least 1',
  );
  check(integer(resolved.poolSize, 1), 'poolSize', 'an integer of at least 1');
  check(
    integer(resolved.bufferSize, resolved.batchSize),
    'bufferSize',
    `an integer of at least batchSize (${resolved.batchSize})`,
  );
  check(
    ['wait', 'reject'].includes(resolved.onFullBuffer),
    'onFullBuffer',
    `'wait' or 'reject'`,
  );
  check(
    ['await', 'buffered'].includes(resolved.durability),
    'durability',
    `'await' or 'buffered'`,
  );
  check(
    integer(resolved.retry.attempts, 1),
    'retry.attempts',
    'an integer of at least 1',
  );
  check(
    integer(resolved.retry.baseDelayMs, 0),
    'retry.baseDelayMs',
    'an integer of at least 0',
  );
  check(
    integer(resolved.retry.maxDelayMs, resolved.retry.baseDelayMs),
    'retry.maxDelayMs',
    'an integer of at least retry.baseDelayMs',
  );
  check(
    integer(resolved.statementTimeoutMs, 0),
    'statementTimeoutMs',
    'an integer of at least 0',
  );
  check(
    integer(resolved.shutdownTimeoutMs, 1),
    'shutdownTimeoutMs',
    'an integer of at least 1',
  );
  return resolved;
}

/** Counters of the writer, read with `LogWriterService.stats()`. They only grow, except `bufferDepth`. */
export interface LogWriterStats {
  /** Rows confirmed written (committed, or written inside a caller's transaction). */
  rowsWritten: number;
  /** INSERT statements that succeeded. */
  batches: number;
  /** Batch retries after the database was unreachable. */
  retries: number;
  /** Rows the database refused or that stayed unwritten past the retries. */
  rowsFailed: number;
  /**
   * Entries refused before queueing: invalid, the buffer was full with `'reject'`, or the writer was
   * shut down (`LogWriterClosedError`).
   */
  rowsRejected: number;
  /**
   * Rows accepted and neither written nor failed when `shutdownTimeoutMs` passed: reported, never
   * tried again. Some whose statement was out without an answer may have been committed.
   */
  rowsUnwritten: number;
  /** Rows queued or in flight now, per table. */
  bufferDepth: Record<string, number>;
}
