import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeDatabaseError as describe,
  isAnswer,
  isRowError,
  isTransientError,
} from './database-errors.js';
import {
  columnArrays,
  insertStatement,
  type LogTable,
  packedInsertStatement,
  type QueryExecutor,
  RESTAMP_AFTER_MS,
  type StatementControl,
  stampCreatedAt,
  type WriterLogger,
} from './log-table.js';
import { nextRecordStamp } from './record-clock.js';
import { LogWriteError, LogWriterClosedError } from './writer.errors.js';
import type {
  Durability,
  LogWriterStats,
  ResolvedWriterOptions,
} from './writer.options.js';
import type { TableMetrics } from './writer.telemetry.js';

/** One accepted row, from the queue until it is settled. */
export interface Pending {
  /** Accepted order: `flush()` waits for the rows accepted before it was called. */
  seq: number;
  /** The row packed as JSON ({@link packRow}), or its column values when it could not be. */
  row: string | unknown[];
  /** Its created_at, stamped when its batch is formed (`stampCreatedAt`); '' until then. */
  createdAt: string;
  /** When its created_at was stamped, in ms since the epoch; 0 before its batch is formed. */
  stamped: number;
  durability: Durability;
  /** When it was queued, in ms since the epoch. */
  at: number;
  /** Written, failed, or given up at the shutdown deadline. */
  settled: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Rows that left the queue together, from then until each of them is settled. */
export interface Batch {
  rows: Pending[];
  /** The rows of a statement sent and not answered yet. */
  sending: Pending[] | undefined;
  /**
   * A statement of these rows was sent and never answered (its connection broke, or it timed out):
   * it may have been committed.
   */
  unsure: boolean;
  /** Given up at the shutdown deadline: reported already, never tried again. */
  abandoned: boolean;
}

/** A batch of `rows`, just formed. */
export const batchOf = (rows: Pending[]): Batch => ({
  rows,
  sending: undefined,
  unsure: false,
  abandoned: false,
});

/** Waits `ms`, or less when `signal` aborts. */
const pause = (ms: number, signal: AbortSignal) =>
  sleep(ms, undefined, { signal }).catch(() => undefined);

/**
 * The statements of one table's writer: a batch's INSERT, and a row written at once through a
 * caller's transaction. An unreachable database is retried with exponential backoff; once
 * `retry.attempts` tries are spent the rows fail. A row that is bad in itself (a firm that does not
 * exist) is found by splitting its batch and fails alone. Every row written or failed is counted,
 * every failed one logged, and its `'await'` caller gets the error.
 */
export class BatchSender<Entry> {
  private readonly sql: string;
  /** The statement of a batch whose rows are all packed. */
  private readonly packedSql: string;
  private readonly width: number;
  /** Where created_at sits in a row: the writer stamps it when the row's batch is formed. */
  private readonly createdAtColumn: number;
  /** The table's metrics, when the host's OpenTelemetry is on; set at module init. */
  metrics?: TableMetrics;

  constructor(
    private readonly table: LogTable<Entry>,
    private readonly execute: QueryExecutor,
    private readonly options: ResolvedWriterOptions,
    private readonly stats: LogWriterStats,
    private readonly logger: WriterLogger,
  ) {
    this.sql = insertStatement(table);
    this.packedSql = packedInsertStatement(table);
    this.width = table.columns.length;
    this.createdAtColumn = table.columns.findIndex(
      ([name]) => name === 'created_at',
    );
    if (this.createdAtColumn < 0) {
      throw new Error(`${table.name}: a log table needs a created_at column`);
    }
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

  /** Writes a batch's rows, retrying while the database is unreachable and isolating bad rows. */
  async send(
    batch: Batch,
    signal: AbortSignal,
    rows = batch.rows,
  ): Promise<void> {
    const { attempts, baseDelayMs, maxDelayMs } = this.options.retry;
    for (let attempt = 1; !batch.abandoned; attempt++) {
      if (Date.now() - rows[0].stamped > RESTAMP_AFTER_MS) {
        stampCreatedAt(rows);
      }
      const control = { signal, sent: () => (batch.sending = rows) };
      try {
        await this.timed(() => this.statement(rows, control));
      } catch (error) {
        if (batch.sending && !isAnswer(error)) batch.unsure = true;
        batch.sending = undefined;
        if (batch.abandoned) return;
        if (isRowError(error)) {
          if (rows.length === 1) return this.fail(rows, error);
          const half = Math.ceil(rows.length / 2);
          await this.send(batch, signal, rows.slice(0, half));
          await this.send(batch, signal, rows.slice(half));
          return;
        }
        if (!isTransientError(error) || attempt >= attempts) {
          return this.fail(rows, error);
        }
        this.stats.retries++;
        this.metrics?.retried(rows.length);
        const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        this.logger.warn(
          `${this.table.name}: writing ${rows.length} row(s) failed (${describe(error)}); ` +
            `try ${attempt + 1} of ${attempts} in ${backoff} ms`,
        );
        await pause(backoff * (0.5 + Math.random() / 2), signal);
        continue;
      }
      batch.sending = undefined;
      this.stats.batches++;
      this.stats.rowsWritten += rows.length;
      this.metrics?.written(rows.length);
      if (batch.abandoned) {
        this.logger.warn(
          `${this.table.name}: ${rows.length} row(s) reported as not written at the shutdown deadline were written after all`,
        );
        return;
      }
      for (const pending of rows) {
        pending.settled = true;
        pending.resolve();
      }
      return;
    }
  }

  /**
   * Runs the INSERT of `rows`: one JSON parameter when every row is packed, else column arrays
   * (a packed row read back from its JSON, which holds only strings, numbers, booleans and nulls).
   */
  private statement(
    rows: readonly Pending[],
    control: StatementControl,
  ): Promise<unknown> {
    const stamps = new Array<string>(rows.length);
    let json = '[';
    let packed = true;
    for (let i = 0; i < rows.length; i++) {
      const { row, createdAt } = rows[i];
      stamps[i] = createdAt;
      if (typeof row !== 'string') packed = false;
      else json += i === 0 ? row : `,${row}`;
    }
    if (packed) {
      return this.execute(this.packedSql, [`${json}]`, stamps], control);
    }
    const values = rows.map(({ row, createdAt }) => {
      const copy: unknown[] =
        typeof row === 'string' ? (JSON.parse(row) as unknown[]) : [...row];
      copy[this.createdAtColumn] = createdAt;
      return copy;
    });
    return this.execute(this.sql, columnArrays(values, this.width), control);
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

  /**
   * Reports rows given up at the shutdown deadline: one error line with their counts (still
   * queued; tried and refused, so never committed; sent without an answer, so perhaps committed),
   * `rowsUnwritten` and the metric. Their `'await'` callers get a `LogWriteError` whose cause is a
   * `LogWriterClosedError`.
   */
  giveUp(
    rows: Pending[],
    queued: number,
    unanswered: number,
    shutdownTimeoutMs: number,
  ): void {
    if (rows.length === 0) return;
    this.stats.rowsUnwritten += rows.length;
    this.metrics?.unwritten(rows.length);
    const { name } = this.table;
    const buffered = rows.filter((p) => p.durability === 'buffered').length;
    const refused = rows.length - queued - unanswered;
    this.logger.error(
      `${name}: ${rows.length} accepted row(s) not written by the shutdown deadline ` +
        `(writer.shutdownTimeoutMs, ${shutdownTimeoutMs} ms): ${queued} queued, ${refused} tried and ` +
        `refused, ${unanswered} sent without an answer (these may have been committed)` +
        (buffered
          ? `; ${buffered} of them buffered: no caller is waiting for them`
          : ''),
    );
    const error = new LogWriteError(
      name,
      rows.length,
      new LogWriterClosedError(name, shutdownTimeoutMs),
    );
    for (const pending of rows) {
      pending.settled = true;
      pending.reject(error);
    }
  }

  private fail(rows: Pending[], cause: unknown): void {
    this.stats.rowsFailed += rows.length;
    this.metrics?.failed(rows.length);
    const error = new LogWriteError(this.table.name, rows.length, cause);
    const buffered = rows.filter((p) => p.durability === 'buffered').length;
    this.logger.error(
      `${error.message}${buffered ? ` (${buffered} of them buffered: no caller is waiting for them)` : ''}`,
    );
    for (const pending of rows) {
      pending.settled = true;
      pending.reject(error);
    }
  }
}
