import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditLogEntryDto } from '../audit/audit-log-entry.js';
import { LlmUsageEntryDto } from '../llm-usage/llm-usage-entry.js';
import { LOGGING_DATA_SOURCE } from '../logging.constants.js';
import { LOGGING_MODULE_OPTIONS } from '../logging.module-definition.js';
import type { LoggingModuleOptions } from '../logging.options.js';
import {
  LogEntryValidationError,
  validateEntry,
} from '../validation/entry-validation.js';
import { BatchWriter, type QueryExecutor } from './batch-writer.js';
import { AUDIT_TABLE, LLM_USAGE_TABLE } from './log-table.js';
import { LogStatementTimeoutError } from './writer.errors.js';
import {
  type Durability,
  type LogWriterStats,
  type ResolvedWriterOptions,
  resolveWriterOptions,
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

/**
 * The one write path of both logs: validates entries at the edge and hands them to a batched writer
 * per table. Inject it to read the counters (`stats()`) or to flush on demand.
 */
@Injectable()
export class LogWriter
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
  /** The writer options in force, defaults merged. */
  readonly options: ResolvedWriterOptions;
  private readonly usage: BatchWriter<LlmUsageEntryDto>;
  private readonly audit: BatchWriter<AuditLogEntryDto>;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) dataSource: DataSource,
    @Inject(LOGGING_MODULE_OPTIONS) moduleOptions: LoggingModuleOptions,
  ) {
    this.options = resolveWriterOptions(moduleOptions.writer);
    const execute = withTimeout(
      (sql, parameters) => dataSource.query(sql, parameters),
      this.options.statementTimeoutMs,
    );
    this.usage = new BatchWriter(
      LLM_USAGE_TABLE,
      execute,
      this.options,
      this.counters,
      this.logger,
    );
    this.audit = new BatchWriter(
      AUDIT_TABLE,
      execute,
      this.options,
      this.counters,
      this.logger,
    );
  }

  /** Validates and writes one `llm_usage_log` entry; resolves with the row's id. */
  recordUsage(entry: unknown, options: RecordOptions = {}): Promise<string> {
    const dto = this.validate(LlmUsageEntryDto, 'llm_usage_log', entry);
    return this.write(this.usage, dto, options);
  }

  /** Validates and writes one `audit_log` entry; resolves with the row's id. */
  recordAudit(entry: unknown, options: RecordOptions = {}): Promise<string> {
    const dto = this.validate(AuditLogEntryDto, 'audit_log', entry);
    return this.write(this.audit, dto, options);
  }

  /**
   * @internal Writes an `audit_log` entry the module built itself from values it has checked
   * (`AuditRunner`): the edge validation would only repeat those checks.
   */
  recordCheckedAudit(
    entry: AuditLogEntryDto,
    options: RecordOptions = {},
  ): Promise<string> {
    return this.write(this.audit, entry, options);
  }

  /** A copy of the counters. */
  stats(): LogWriterStats {
    return {
      ...this.counters,
      bufferDepth: { ...this.counters.bufferDepth },
    };
  }

  /** Writes everything accepted so far and resolves once it is settled. */
  async flush(): Promise<void> {
    await Promise.all([this.usage.flush(), this.audit.flush()]);
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
    await Promise.all([this.usage.close(), this.audit.close()]);
  }

  private validate<T extends object>(
    Entry: new () => T,
    entryType: string,
    input: unknown,
  ): T {
    try {
      return validateEntry(Entry, entryType, input);
    } catch (error) {
      if (error instanceof LogEntryValidationError) {
        this.counters.rowsRejected++;
        this.logger.warn(
          `${entryType}: entry rejected, fields ${error.violations.map((v) => `${v.field} (${v.rule})`).join(', ')}`,
        );
      }
      throw error;
    }
  }

  private write<T>(
    writer: BatchWriter<T>,
    dto: T,
    { durability, manager }: RecordOptions,
  ): Promise<string> {
    if (manager) {
      return writer.writeWith(
        (sql, parameters) => manager.query(sql, parameters),
        dto,
      );
    }
    return writer.write(dto, durability ?? this.options.durability);
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
