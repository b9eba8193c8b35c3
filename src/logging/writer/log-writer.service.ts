import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import {
  LOGGING_DATA_SOURCE,
  TELEMETRY_OPTIONS,
  WRITER_OPTIONS,
} from '../core/logging.constants.js';
import { otelFor } from '../core/otel.js';
import type { LoggingTelemetryOptions } from '../core/telemetry.options.js';
import {
  LogEntryValidationError,
  validateEntry,
} from '../core/entry-validation.js';
import { BatchWriter } from './batch-writer.js';
import type { LogTable, QueryExecutor } from './log-table.js';
import { LogStatementTimeoutError } from './writer.errors.js';
import type {
  Durability,
  LogWriterStats,
  ResolvedWriterOptions,
} from './writer.options.js';
import { type TableMetrics, WriterMetrics } from './writer.telemetry.js';
import {
  clockOffsetMicros,
  followClock,
  processMicros,
} from './record-clock.js';

/** How often the record clock is set again to the database's. */
const CLOCK_CHECK_MS = 300_000;
/** A reading whose round trip took longer says too little about the offset. */
const CLOCK_MAX_ROUND_TRIP_MS = 250;
/** The longest startup waits for the clock reading. */
const CLOCK_MAX_WAIT_MS = 2000;

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
  implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown
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
  private readonly tableMetrics = new Map<string, TableMetrics>();
  private metrics: WriterMetrics | undefined;
  private clockTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    /** The writer options in force, defaults merged. */
    @Inject(WRITER_OPTIONS) readonly options: ResolvedWriterOptions,
    @Optional()
    @Inject(TELEMETRY_OPTIONS)
    private readonly telemetry?: LoggingTelemetryOptions,
  ) {
    this.execute = withTimeout(
      (sql, parameters) => dataSource.query(sql, parameters),
      this.options.statementTimeoutMs,
    );
  }

  /**
   * Sets the record clock to the database's (then every 5 minutes), and starts the writer's
   * metrics when the host's OpenTelemetry is on.
   */
  async onModuleInit(): Promise<void> {
    await this.followDatabaseClock(true);
    this.clockTimer = setInterval(
      () => void this.followDatabaseClock(false),
      CLOCK_CHECK_MS,
    );
    this.clockTimer.unref();
    const otel = await otelFor(this.telemetry);
    if (!otel) return;
    this.metrics = new WriterMetrics(otel, () =>
      this.batchWriters.map((writer) => [writer.tableName, writer.depth]),
    );
    for (const writer of this.batchWriters) {
      writer.metrics = this.metrics.forTable(writer.tableName);
      this.tableMetrics.set(writer.tableName, writer.metrics);
    }
  }

  /**
   * The write path of `table`, made on the first call for its name and shared by later ones. The
   * module's features register their tables when they are constructed.
   */
  register<Entry extends object>(table: LogTable<Entry>): TableWriter<Entry> {
    const known = this.writers.get(table.name);
    if (known) return known;
    const metrics = this.metrics?.forTable(table.name);
    if (metrics) this.tableMetrics.set(table.name, metrics);
    const batches = new BatchWriter<Entry>(
      table,
      this.execute,
      this.options,
      this.counters,
      this.logger,
      metrics,
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

  /**
   * Measures how far the database's clock is from this process's (one `clock_timestamp()`, taken
   * as read at the middle of its round trip) and makes the record clock follow it: the database
   * refuses rows dated more than 5 s from its own clock. Warns once, at startup, when the clocks are
   * more than a second apart. A database out of reach leaves the clock as it was.
   */
  private async followDatabaseClock(startup: boolean): Promise<void> {
    try {
      const sent = processMicros();
      // A half-open connection never answers: startup does not wait for it.
      const [{ micros }] = await withTimeout(
        (sql) => this.dataSource.query(sql),
        CLOCK_MAX_WAIT_MS,
      )(
        `SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text AS micros`,
        [],
      ).then((rows) => rows as { micros: string }[]);
      const received = processMicros();
      if (received - sent > CLOCK_MAX_ROUND_TRIP_MS * 1000) return;
      followClock(Number(micros) - (sent + received) / 2);
      const offsetMs = Math.round(clockOffsetMicros() / 1000);
      if (startup && Math.abs(offsetMs) > 1000) {
        this.logger.warn(
          `the database clock is ${Math.abs(offsetMs)} ms ${offsetMs > 0 ? 'ahead of' : 'behind'} this process's: ` +
            'rows are dated by the database clock (keep both in sync with NTP)',
        );
      }
    } catch {
      // out of reach: the writer retries its statements; the clock is set again in 5 minutes
    }
  }

  /** Refuses new rows and flushes the rest, before TypeORM closes the DataSource. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.clockTimer);
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
        this.tableMetrics.get(table.name)?.rejected('invalid');
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
