import type { DataSource } from 'typeorm';
import { arrayLiteral, type StatementControl } from './log-table.js';
import { LogStatementTimeoutError } from './writer.errors.js';
import { isAnswer } from './database-errors.js';

/**
 * What the writer uses of node-postgres, typed here: the module does not depend on `pg`, it takes
 * the driver TypeORM loaded for the host's DataSource.
 */
interface PgClient {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
  release(error?: Error): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

interface PgPool {
  connect(): Promise<PgClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** The parts of TypeORM's PostgresDriver read here, both public properties of it. */
interface PostgresDriverParts {
  /** The node-postgres module (or its native binding) TypeORM loaded. */
  postgres?: { Pool?: new (config: Record<string, unknown>) => PgPool };
  /** The host's pool, whose settings the writer's pool copies. */
  master?: { options?: Record<string, unknown> };
}

/** The writer gave a statement up: its deadline passed, or the shutdown deadline did. */
class GivenUp extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message, { cause });
  }
}

/** What the writer is told: why it gave up, or the driver's own error. */
const reason = (error: unknown) =>
  error instanceof GivenUp ? error.cause : error;

/**
 * The writer's own small pool, on the host DataSource's database with the host pool's settings
 * (credentials, SSL, `extra`, `onConnect` hooks), so that nothing the database does to the writer's
 * statements takes connections from the host's pool. A statement given up (no answer within its
 * timeout, or aborted) has its connection closed and given back at once: a connection gone
 * half-open never holds a slot, and the next try takes a fresh one.
 */
export class WriterPool {
  private pool: PgPool | undefined;
  private ended = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly size: number,
    /** Longest wait for a new connection when the host's pool sets none (0: none). */
    private readonly connectTimeoutMs: number,
  ) {}

  /**
   * Opens the pool (connections open as statements need them).
   *
   * @throws Error when the DataSource is not node-postgres' or not initialized
   */
  open(): PgPool {
    if (this.pool) return this.pool;
    if (this.ended) throw new Error('the log writer is shut down');
    const driver = this.dataSource.driver as unknown as PostgresDriverParts;
    const Pool = driver.postgres?.Pool;
    const settings = driver.master?.options;
    if (!Pool || !settings) {
      throw new Error(
        `LoggingModule: the writer opens its connections with the DataSource's node-postgres driver, ` +
          `and found none (type '${this.dataSource.options.type}'${this.dataSource.isInitialized ? '' : ', not initialized'})`,
      );
    }
    const hostTimeout = Number(settings.connectionTimeoutMillis) || 0;
    const timeouts = [hostTimeout, this.connectTimeoutMs].filter(
      (ms) => ms > 0,
    );
    this.pool = new Pool({
      ...settings,
      // kept out of the enumerable settings by pg-pool
      password: settings.password,
      max: this.size,
      min: 0,
      connectionTimeoutMillis: timeouts.length ? Math.min(...timeouts) : 0,
      // idle connections of the writer never keep the process alive
      allowExitOnIdle: true,
    });
    // An idle connection that breaks is dropped by the pool; the writer learns of trouble from its
    // statements, which it retries, counts and logs.
    this.pool.on('error', () => undefined);
    return this.pool;
  }

  /**
   * Runs one statement on a connection of the pool and resolves with the driver's result. Array
   * parameters go as their array literals, as node-postgres would write them. Fails
   * with `LogStatementTimeoutError` after `timeoutMs` without an answer (connection included; 0: no
   * limit), or when `control.signal` aborts; the connection is then closed, and a late answer
   * ignored. `control.sent()` is called when the statement leaves on its connection.
   */
  async execute(
    sql: string,
    parameters: unknown[],
    timeoutMs: number,
    control?: StatementControl,
  ): Promise<unknown> {
    const pool = this.open();
    const stop = stopper(timeoutMs, control?.signal);
    const connecting = pool.connect();
    let client: PgClient;
    try {
      client = await Promise.race([connecting, stop.given]);
    } catch (error) {
      stop.clear();
      // a connection that comes after the writer gave up goes straight back
      connecting.then(
        (late) => late.release(),
        () => undefined,
      );
      throw reason(error);
    }
    let broken: Error | undefined;
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    const statement = client.query(sql, parameters.map(literalOf));
    statement.catch(() => undefined);
    control?.sent();
    try {
      return await Promise.race([statement, stop.given]);
    } catch (error) {
      // An error the server answered with leaves the connection usable; anything else closes it.
      if (!isAnswer(error)) broken ??= error as Error;
      throw reason(error);
    } finally {
      stop.clear();
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** Closes the pool; waits for it at most `waitMs` (a half-open connection never says goodbye). */
  async close(waitMs: number): Promise<void> {
    this.ended = true;
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pool.end().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
  }
}

/** An array parameter as its array literal (`arrayLiteral`), anything else as it is. */
function literalOf(parameter: unknown): unknown {
  return Array.isArray(parameter)
    ? (arrayLiteral(parameter) ?? parameter)
    : parameter;
}

/** A promise that rejects with a `GivenUp` after `timeoutMs` (0: never) or when `signal` aborts. */
function stopper(timeoutMs: number, signal: AbortSignal | undefined) {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const given = new Promise<never>((_, reject) => {
    const giveUp = (cause: Error) => reject(new GivenUp(cause));
    if (timeoutMs > 0) {
      timer = setTimeout(
        () => giveUp(new LogStatementTimeoutError(timeoutMs)),
        timeoutMs,
      );
    }
    if (signal) {
      onAbort = () => giveUp(new Error('given up at the shutdown deadline'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  given.catch(() => undefined);
  return {
    given,
    clear() {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    },
  };
}
