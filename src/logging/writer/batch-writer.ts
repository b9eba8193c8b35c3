import { performance } from 'node:perf_hooks';
import {
  columnArrays,
  insertStatement,
  type LogTable,
  type QueryExecutor,
  RESTAMP_AFTER_MS,
  stampCreatedAt,
  type WriterLogger,
} from './log-table.js';
import { nextMicros, nextRecordStamp, uuidV7 } from './record-clock.js';

import {
  LogBufferFullError,
  LogWriteError,
  LogWriterClosedError,
} from './writer.errors.js';
import type {
  Durability,
  LogWriterStats,
  ResolvedWriterOptions,
} from './writer.options.js';
import type { TableMetrics } from './writer.telemetry.js';
import {
  describeDatabaseError as describe,
  isRowError,
  isTransientError,
} from './database-errors.js';

interface Pending {
  row: unknown[];
  /** When its created_at was stamped, in ms since the epoch; 0 before its batch is formed. */
  stamped: number;
  durability: Durability;
  /** When it was queued, in ms since the epoch. */
  at: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

const noop = () => undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The batched writer behind both log services. Rows for a table queue up and leave as one
 * statement when a batch fills, `maxDelayMs` after the first `'await'` row arrived, or
 * `bufferedDelayMs` after the first `'buffered'` one, with up to `concurrency` statements in flight
 * per table. `'await'` callers resolve once their statement has
 * committed, so concurrent callers share one commit; `'buffered'` callers resolve at once.
 *
 * Failures: an unreachable database is retried with exponential backoff; once `retry.attempts`
 * tries are spent the rows fail. A row that is bad in itself (a firm that does not exist) is found
 * by splitting its batch and fails alone. Every failed row is counted and logged, and its `'await'`
 * caller gets the error.
 */
export class BatchWriter<Entry> {
  private readonly sql: string;
  private readonly width: number;
  /** Where created_at sits in a row: the writer stamps it when the row's batch is formed. */
  private readonly createdAtColumn: number;
  private readonly queue: Pending[] = [];
  private inFlightRows = 0;
  private inFlightBatches = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** When the timer fires, in ms since the epoch. */
  private timerDue = 0;
  /** `'await'` rows in `queue`: while there are any, the short delay applies. */
  private awaitQueued = 0;
  private readonly roomWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly table: LogTable<Entry>,
    private readonly execute: QueryExecutor,
    private readonly options: ResolvedWriterOptions,
    private readonly stats: LogWriterStats,
    private readonly logger: WriterLogger,
    /** The table's metrics, when the host's OpenTelemetry is on; set at module init. */
    public metrics?: TableMetrics,
  ) {
    this.sql = insertStatement(table);
    this.width = table.columns.length;
    this.createdAtColumn = table.columns.findIndex(
      ([name]) => name === 'created_at',
    );
    if (this.createdAtColumn < 0) {
      throw new Error(`${table.name}: a log table needs a created_at column`);
    }
  }

  /** The name of the table this writer writes. */
  get tableName(): string {
    return this.table.name;
  }

  /** Rows queued or in flight: what counts against `bufferSize`. */
  get depth(): number {
    return this.queue.length + this.inFlightRows;
  }

  /**
   * Queues one validated entry and returns its id once the durability allows: at once for
   * `'buffered'`, after the commit for `'await'`.
   */
  async write(entry: Entry, durability: Durability): Promise<string> {
    if (this.closed) throw new LogWriterClosedError(this.table.name);
    while (this.depth >= this.options.bufferSize) {
      if (this.options.onFullBuffer === 'reject') {
        this.stats.rowsRejected++;
        this.metrics?.rejected('buffer_full');
        throw new LogBufferFullError(this.table.name, this.options.bufferSize);
      }
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      if (this.closed) throw new LogWriterClosedError(this.table.name);
    }
    // The id keeps the order rows were recorded in; created_at is stamped when the batch is formed.
    const id = uuidV7(nextMicros());
    const row = this.table.values(entry, id, '');
    const at = Date.now();
    this.metrics?.queued(1);
    if (durability === 'buffered') {
      this.enqueue({
        row,
        stamped: 0,
        durability,
        at,
        resolve: noop,
        reject: noop,
      });
      return id;
    }
    await new Promise<void>((resolve, reject) =>
      this.enqueue({ row, stamped: 0, durability, at, resolve, reject }),
    );
    return id;
  }

  /** Writes one validated entry now, through the caller's transaction. */
  async writeWith(execute: QueryExecutor, entry: Entry): Promise<string> {
    const { id, createdAt } = nextRecordStamp();
    const row = this.table.values(entry, id, createdAt);
    try {
      await this.timed(() =>
        execute(this.sql, columnArrays([row], this.width)),
      );
    } catch (error) {
      this.stats.rowsFailed++;
      this.metrics?.failed(1);
      throw new LogWriteError(this.table.name, 1, error);
    }
    this.stats.rowsWritten++;
    this.metrics?.written(1);
    this.stats.batches++;
    return id;
  }

  /** Sends everything queued now and resolves once nothing is queued or in flight. */
  async flush(): Promise<void> {
    this.drain(true);
    if (this.depth === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new rows, then flushes what was accepted. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    // Writers still waiting for room are refused rather than left hanging.
    this.roomWaiters.splice(0).forEach((wake) => wake());
  }

  private enqueue(pending: Pending): void {
    this.queue.push(pending);
    if (pending.durability === 'await') this.awaitQueued++;
    this.updateDepth();
    if (this.queue.length >= this.options.batchSize) {
      this.drain(false);
    } else {
      this.armTimer();
    }
  }

  /**
   * Sends whatever is queued when its oldest row has waited long enough: `maxDelayMs` while an
   * `'await'` row waits, else `bufferedDelayMs`. An earlier timer already set stays.
   */
  private armTimer(): void {
    if (this.queue.length === 0) return;
    const due =
      this.awaitQueued > 0
        ? Date.now() + this.options.maxDelayMs
        : this.queue[0].at + this.options.bufferedDelayMs;
    if (this.immediate) return;
    if (this.timer) {
      if (this.timerDue <= due) return;
      this.cancelTimer();
    }
    const delay = due - Date.now();
    if (delay <= 0) {
      // After the I/O callbacks of this turn, so rows arriving together share a batch.
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.drain(true);
      });
      return;
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain(true);
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** Starts batches while there are free slots: full ones, or any when `all` is set. */
  private drain(all: boolean): void {
    if ((this.timer || this.immediate) && (all || this.queue.length === 0)) {
      this.cancelTimer();
    }
    while (
      this.queue.length > 0 &&
      this.inFlightBatches < this.options.concurrency &&
      (all || this.queue.length >= this.options.batchSize)
    ) {
      const batch = this.queue.splice(0, this.options.batchSize);
      if (this.awaitQueued > 0) {
        for (const pending of batch) {
          if (pending.durability === 'await') this.awaitQueued--;
        }
      }
      this.inFlightBatches++;
      this.inFlightRows += batch.length;
      void this.send(batch).finally(() => {
        this.inFlightBatches--;
        this.inFlightRows -= batch.length;
        this.afterBatch();
      });
    }
    if (
      this.queue.length > 0 &&
      this.inFlightBatches < this.options.concurrency
    ) {
      this.armTimer();
    }
  }

  private afterBatch(): void {
    this.updateDepth();
    // 'await' rows that piled up while every slot was busy have waited long enough; 'buffered'
    // ones keep waiting for a full batch or their delay.
    this.drain(this.awaitQueued > 0);
    while (this.roomWaiters.length && this.depth < this.options.bufferSize) {
      this.roomWaiters.shift()!();
    }
    if (this.depth === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
  }

  private updateDepth(): void {
    this.stats.bufferDepth[this.table.name] = this.depth;
  }

  /** Writes a batch, retrying while the database is unreachable and isolating bad rows. */
  private async send(batch: Pending[]): Promise<void> {
    const { attempts, baseDelayMs, maxDelayMs } = this.options.retry;
    for (let attempt = 1; ; attempt++) {
      if (Date.now() - batch[0].stamped > RESTAMP_AFTER_MS) {
        stampCreatedAt(batch, this.createdAtColumn);
      }
      try {
        await this.timed(() =>
          this.execute(
            this.sql,
            columnArrays(
              batch.map((p) => p.row),
              this.width,
            ),
          ),
        );
        this.stats.batches++;
        this.stats.rowsWritten += batch.length;
        this.metrics?.written(batch.length);
        batch.forEach((p) => p.resolve());
        return;
      } catch (error) {
        if (isRowError(error)) {
          if (batch.length === 1) return this.fail(batch, error);
          const half = Math.ceil(batch.length / 2);
          await this.send(batch.slice(0, half));
          await this.send(batch.slice(half));
          return;
        }
        if (!isTransientError(error) || attempt >= attempts) {
          return this.fail(batch, error);
        }
        this.stats.retries++;
        this.metrics?.retried(batch.length);
        const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        this.logger.warn(
          `${this.table.name}: writing ${batch.length} row(s) failed (${describe(error)}); ` +
            `try ${attempt + 1} of ${attempts} in ${backoff} ms`,
        );
        await sleep(backoff * (0.5 + Math.random() / 2));
      }
    }
  }

  /** Runs one statement, timing it when there are metrics. */
  private async timed(statement: () => Promise<unknown>): Promise<void> {
    const metrics = this.metrics;
    if (!metrics) {
      await statement();
      return;
    }
    const started = performance.now();
    try {
      await statement();
    } finally {
      metrics.statement((performance.now() - started) / 1000);
    }
  }

  private fail(batch: Pending[], cause: unknown): void {
    this.stats.rowsFailed += batch.length;
    this.metrics?.failed(batch.length);
    const error = new LogWriteError(this.table.name, batch.length, cause);
    const buffered = batch.filter((p) => p.durability === 'buffered').length;
    this.logger.error(
      `${error.message}${buffered ? ` (${buffered} of them buffered: no caller is waiting for them)` : ''}`,
    );
    batch.forEach((p) => p.reject(error));
  }
}
