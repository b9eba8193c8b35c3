import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
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
import type {
  Durability,
  LogWriterStats,
  ResolvedWriterOptions,
} from './writer.options.js';
import { type TableMetrics, WriterMetrics } from './writer.telemetry.js';
import { WriterPool } from './writer-pool.js';
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
  /**
   * {@link write}, with the id of a `'buffered'` row taken into the queue at once given back as it
   * is, not in a promise (every other case, a promise as from `write`).
   */
  take(entry: Entry, options?: RecordOptions): string | Promise<string>;
}

/**
 * The one write path of every log: each feature registers its table ({@link LogTable}) and writes
 * through the {@link TableWriter} it gets back, one batched writer per table, on a small pool of
 * connections of its own (`writer.poolSize`). Inject it to read the counters (`stats()`) or to
 * flush on demand.
 *
 * Shutdown, bounded by `writer.shutdownTimeoutMs` from the first hook: `onModuleDestroy` starts the
 * clock and sends every queued row at once; rows are still accepted while Nest closes the servers;
 * `onApplicationShutdown` refuses new rows and waits for the accepted ones; at the deadline, those
 * not written are reported and counted.
 */
@Injectable()
export class LogWriterService
  implements
    OnModuleInit,
    OnModuleDestroy,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly logger = new Logger('LoggingModule');
  private readonly counters: LogWriterStats = {
    rowsWritten: 0,
    batches: 0,
    retries: 0,
    rowsFailed: 0,
    rowsRejected: 0,
    rowsUnwritten: 0,
    bufferDepth: {},
  };
  private readonly pool: WriterPool;
  private readonly execute: QueryExecutor;
  private readonly writers = new Map<string, TableWriter<never>>();
  private readonly batchWriters: BatchWriter<never>[] = [];
  private readonly tableMetrics = new Map<string, TableMetrics>();
  private metrics: WriterMetrics | undefined;
  private clockTimer: NodeJS.Timeout | undefined;
  /** Set when shutdown begins: when the deadline passes, and the promise that says it has. */
  private shutdown:
    | { deadline: number; timer: NodeJS.Timeout; passed: Promise<void> }
    | undefined;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    /** The writer options in force, defaults merged. */
    @Inject(WRITER_OPTIONS) readonly options: ResolvedWriterOptions,
    @Optional()
    @Inject(TELEMETRY_OPTIONS)
    private readonly telemetry?: LoggingTelemetryOptions,
  ) {
    this.pool = new WriterPool(
      dataSource,
      options.poolSize,
      options.statementTimeoutMs,
    );
    this.execute = (sql, parameters, control) =>
      this.pool.execute(sql, parameters, options.statementTimeoutMs, control);
  }

  /**
   * Opens the writer's pool (a DataSource that is not node-postgres' stops the app here), sets the
   * record clock to the database's (then every 5 minutes), and starts the writer's metrics when
   * the host's OpenTelemetry is on.
   */
  async onModuleInit(): Promise<void> {
    if (this.dataSource.isInitialized) this.pool.open();
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
      writer.sender.metrics = this.metrics.forTable(writer.tableName);
      this.tableMetrics.set(writer.tableName, writer.sender.metrics);
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
      record: (input, options = {}) => {
        const taken = this.write(batches, this.validate(table, input), options);
        return typeof taken === 'string' ? Promise.resolve(taken) : taken;
      },
      write: (entry, options = {}) => {
        const taken = this.write(batches, entry, options);
        return typeof taken === 'string' ? Promise.resolve(taken) : taken;
      },
      take: (entry, options = {}) => this.write(batches, entry, options),
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

  /**
   * Sends the rows accepted so far without waiting for their batches to fill, and resolves once
   * each is settled (written, failed, or reported at the shutdown deadline). Rows accepted after
   * the call do not hold it.
   */
  async flush(): Promise<void> {
    await Promise.all(this.batchWriters.map((writer) => writer.flush()));
  }

  /**
   * Begins the writer's shutdown: `writer.shutdownTimeoutMs` starts, and every queued row leaves
   * at once. Rows are still accepted: Nest closes the HTTP, microservice and WebSocket servers
   * after `beforeApplicationShutdown`, and requests still in flight may record yet. Needs
   * `app.enableShutdownHooks()` for signals to reach it.
   */
  onModuleDestroy(): void {
    this.beginShutdown();
  }

  /** Begins the writer's shutdown, when `onModuleDestroy` did not; returns at once. */
  beforeApplicationShutdown(): void {
    this.beginShutdown();
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
      const { rows } = (await this.pool.execute(
        `SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text AS micros`,
        [],
        CLOCK_MAX_WAIT_MS,
      )) as { rows: { micros: string }[] };
      const [{ micros }] = rows;
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

  /**
   * The servers are closed: refuses new rows (`LogWriterClosedError`) and callers still waiting
   * for buffer room, waits for the rows accepted until the deadline, and closes the writer's pool.
   * At the deadline, each table's unwritten rows are reported (one error line with the counts) and
   * counted in `rowsUnwritten`.
   */
  async onApplicationShutdown(): Promise<void> {
    const { deadline, timer, passed } = this.beginShutdown();
    await Promise.race([
      Promise.all(this.batchWriters.map((writer) => writer.close())),
      passed,
    ]);
    clearTimeout(timer);
    await this.pool.close(Math.max(0, deadline - Date.now()));
  }

  /** Starts the shutdown deadline, once, and sends every queued row at once. */
  private beginShutdown() {
    if (this.shutdown) return this.shutdown;
    clearInterval(this.clockTimer);
    const timeoutMs = this.options.shutdownTimeoutMs;
    let timer!: NodeJS.Timeout;
    const passed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const writer of this.batchWriters) writer.abandon(timeoutMs);
        resolve();
      }, timeoutMs);
    });
    this.shutdown = { deadline: Date.now() + timeoutMs, timer, passed };
    for (const writer of this.batchWriters) writer.beginShutdown();
    return this.shutdown;
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

  /** The id of a `'buffered'` row taken at once, else a promise of it. */
  private write<Entry>(
    writer: BatchWriter<Entry>,
    entry: Entry,
    { durability, manager }: RecordOptions,
  ): string | Promise<string> {
    if (manager) {
      return writer.sender.writeWith(
        (sql, parameters) => manager.query(sql, parameters),
        entry,
      );
    }
    return writer.take(entry, durability ?? this.options.durability);
  }
}
