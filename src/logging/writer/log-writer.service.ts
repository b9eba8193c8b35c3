import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import {
  LOGGING_DATA_SOURCE,
  WRITER_OPTIONS,
} from '../core/logging.constants.js';
import {
  LogEntryValidationError,
  validateEntry,
} from '../core/entry-validation.js';
import { BatchWriter, type QueryExecutor } from './batch-writer.js';
import type { LogTable } from './log-table.js';
import { LogStatementTimeoutError } from './writer.errors.js';
import type {
  Durability,
  LogWriterStats,
  ResolvedWriterOptions,
} from './writer.options.js';

/** How one `record()` call is written. */
export interface RecordOptions {
  /** Default: the module's `writer.durability` (`'await'` unless configured). */
  durability?: Durability;
  /**
   * Write through this EntityManager now, inside its transaction: the row commits or rolls back
   * with the change it describes. `durability` does not apply.
   */
  manager?: EntityManager;
}

/** The write path of one registered table, from {@link LogWriterService.register}. */
export interface TableWriter<Entry> {
  /**
   * Checks `input` against the table's entry class and writes it; resolves with the row's id.
   *
   * @throws LogEntryValidationError naming every bad field; nothing is written
   */
  record(input: unknown, options?: RecordOptions): Promise<string>;
  /** Writes an entry built from values already checked; resolves with the row's id. */
  write(entry: Entry, options?: RecordOptions): Promise<string>;
}

/**
 * The one write path of every log: each feature registers its table ({@link LogTable}) and writes
 * through the {@link TableWriter} it gets back, one batched writer per table. Inject it to read
 * the counters (`stats()`) or to flush on demand.
 */
@Injectable()
export class LogWriterService
  implements BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('LoggingModule');
  private readonly counters: LogWriterStats = {
    rowsWritten: 0,
    batches: 0,
    retries: 0,
    rowsFailed: 0,
    rowsRejected: 0,
    bufferDepth: {},
  };
  private readonly execute: QueryExecutor;
  private readonly writers = new Map<string, TableWriter<never>>();
  private readonly batchWriters: BatchWriter<never>[] = [];

  constructor(
    @Inject(LOGGING_DATA_SOURCE) dataSource: DataSource,
    /** The writer options in force, defaults merged. */
    @Inject(WRITER_OPTIONS) readonly options: ResolvedWriterOptions,
  ) {
    this.execute = withTimeout(
      (sql, parameters) => dataSource.query(sql, parameters),
      this.options.statementTimeoutMs,
    );
  }

  /**
   * The write path of `table`, made on the first call for its name and shared by later ones. The
   * module's features register their tables when they are constructed.
   */
  register<Entry extends object>(table: LogTable<Entry>): TableWriter<Entry> {
    const known = this.writers.get(table.name);
    if (known) return known;
    const batches = new BatchWriter<Entry>(
      table,
      this.execute,
      this.options,
      this.counters,
      this.logger,
    );
    this.batchWriters.push(batches as BatchWriter<never>);
    const writer: TableWriter<Entry> = {
      record: (input, options = {}) =>
        this.write(batches, this.validate(table, input), options),
      write: (entry, options = {}) => this.write(batches, entry, options),
    };
    this.writers.set(table.name, writer);
    return writer;
  }

  /** A copy of the counters. */
  stats(): Readonly<LogWriterStats> {
    return {
      ...this.counters,
      bufferDepth: { ...this.counters.bufferDepth },
    };
  }

  /** Writes everything accepted so far and resolves once it is settled. */
  async flush(): Promise<void> {
    await Promise.all(this.batchWriters.map((writer) => writer.flush()));
  }

  /**
   * Flushes buffered rows while the DataSource is still open, and keeps accepting rows: the HTTP
   * server closes only after this hook, and requests still in flight may record yet. Needs
   * `app.enableShutdownHooks()` for signals to reach it.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  /** Refuses new rows and flushes the rest, before TypeORM closes the DataSource. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.batchWriters.map((writer) => writer.close()));
  }

  private validate<Entry extends object>(
    table: LogTable<Entry>,
    input: unknown,
  ): Entry {
    try {
      return validateEntry(table.entryClass, table.name, input);
    } catch (error) {
      if (error instanceof LogEntryValidationError) {
        this.counters.rowsRejected++;
        this.logger.warn(
          `${table.name}: entry rejected, fields ${error.violations.map((v) => `${v.field} (${v.rule})`).join(', ')}`,
        );
      }
      throw error;
    }
  }

  private write<Entry>(
    writer: BatchWriter<Entry>,
    entry: Entry,
    { durability, manager }: RecordOptions,
  ): Promise<string> {
    if (manager) {
      return writer.writeWith(
        (sql, parameters) => manager.query(sql, parameters),
        entry,
      );
    }
    return writer.write(entry, durability ?? this.options.durability);
  }
}

/**
 * `execute`, failing with `LogStatementTimeoutError` after `timeoutMs` without an answer. The
 * statement itself is not cancelled (its connection may be dead): its late outcome is ignored.
 */
function withTimeout(execute: QueryExecutor, timeoutMs: number): QueryExecutor {
  if (timeoutMs === 0) return execute;
  return (sql, parameters) => {
    const statement = execute(sql, parameters);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new LogStatementTimeoutError(timeoutMs)),
        timeoutMs,
      );
    });
    statement.catch(() => undefined);
    return Promise.race([statement, timeout]).finally(() =>
      clearTimeout(timer),
    );
  };
}
