import { Inject, Injectable, Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  AUDIT_LOG_TABLE,
  LLM_USAGE_LOG_TABLE,
  LOGGING_DATA_SOURCE,
} from '../core/logging.constants.js';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { retireMonthsBefore } from '../core/log-partitions.js';

/** The tables `LogRetentionService.purge` can delete from. */
export type LogTableName = typeof LLM_USAGE_LOG_TABLE | typeof AUDIT_LOG_TABLE;

export interface PurgeOptions {
  /** Rows per DELETE, each in a transaction of its own. Default: 10,000; 1 to 1,000,000. */
  batchSize?: number;
}

/** A purge was asked for with bad arguments; nothing was deleted. */
export class LogRetentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogRetentionError';
  }
}

/**
 * The one way log rows leave other than with their firm: the database refuses every other UPDATE,
 * DELETE and TRUNCATE of `llm_usage_log` and `audit_log` (migrations `AppendOnlyLogs1795305720000`
 * and `DatabaseGuarantees1795305840000`). The purge runs with the schema owner's rights
 * (`logging_purge_batch()` is SECURITY DEFINER): the application's role needs no DELETE.
 */
@Injectable()
export class LogRetentionService {
  private readonly logger = new Logger('LoggingModule');

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  /**
   * Deletes the rows of `table` created before `olderThan`, oldest first, `batchSize` at a time
   * (`logging_purge_batch()`, one transaction per batch, so locks and WAL stay small), and resolves
   * with how many it deleted. Rows written while it runs are not touched unless older than the
   * cutoff. Safe to run again after an interruption: what is deleted stays deleted.
   *
   * On a partitioned log (docs/partitions.md) the whole months before the cutoff leave first, each
   * by detaching and dropping its partition (`logging_partition_retire()`), and only the rows of
   * the partial month after them are deleted in batches; the count includes both.
   *
   * @throws LogRetentionError for a table that is not a log, a cutoff that is not a valid Date, a
   *   bad batch size, a cutoff inside the table's retention floor ({@link floors}), or a log with
   *   sealed rows before the cutoff (those go with `AuditSealService.purge`, by whole seals); the
   *   database refuses the last two itself, whatever calls `logging_purge_batch()`
   * @example
   * // keep 400 days of audit trail
   * await retention.purge('audit_log', new Date(Date.now() - 400 * 86_400_000));
   */
  async purge(
    table: LogTableName,
    olderThan: Date,
    { batchSize = 10_000 }: PurgeOptions = {},
  ): Promise<number> {
    const name: unknown = table;
    if (name !== LLM_USAGE_LOG_TABLE && name !== AUDIT_LOG_TABLE) {
      throw new LogRetentionError(
        `purge: table must be '${LLM_USAGE_LOG_TABLE}' or '${AUDIT_LOG_TABLE}', got ${JSON.stringify(name)}`,
      );
    }
    if (!(olderThan instanceof Date) || Number.isNaN(olderThan.getTime())) {
      throw new LogRetentionError('purge: olderThan must be a valid Date');
    }
    if (
      !Number.isInteger(batchSize) ||
      batchSize < 1 ||
      batchSize > 1_000_000
    ) {
      throw new LogRetentionError(
        `purge: batchSize must be an integer from 1 to 1000000, got ${String(batchSize)}`,
      );
    }
    await this.refuseInsideFloor(table, olderThan);
    await this.refuseSealedRows(table, olderThan);
    let total = 0;
    for (const month of await retireMonthsBefore(
      this.dataSource,
      table,
      olderThan,
    )) {
      total += month.dropped + month.deleted;
    }
    for (;;) {
      const [{ deleted }] = await this.dataSource
        .query<{ deleted: number }[]>(
          'SELECT logging_purge_batch($1::regclass, $2, $3) AS deleted',
          [table, olderThan, batchSize],
        )
        .catch((error: unknown) => {
          // A seal made since the checks above, or a floor moved: the database refused the batch.
          const { code, message, hint } = error as Record<string, string>;
          if (code !== '42501') throw error;
          throw new LogRetentionError(
            `purge: ${message}${hint ? ` (${hint})` : ''}; ${total} rows purged before the refusal`,
          );
        });
      total += deleted;
      if (deleted < batchSize) break;
    }
    this.logger.log(
      `${table}: ${total} rows created before ${olderThan.toISOString()} purged`,
    );
    return total;
  }

  /**
   * The retention floor of each log: purges may not reach rows younger than this. Only the schema
   * owner moves it (`UPDATE logging_retention_floor SET min_age = ... WHERE log = ...`).
   *
   * @example
   * const { audit_log } = await retention.floors(); // '365 days'
   */
  async floors(): Promise<Record<LogTableName, string>> {
    const rows = await this.dataSource.query<
      { log: LogTableName; age: string }[]
    >(`SELECT log, min_age::text AS age FROM logging_retention_floor`);
    return Object.fromEntries(rows.map((r) => [r.log, r.age])) as Record<
      LogTableName,
      string
    >;
  }

  /** The database refuses a cutoff inside the floor; this says so first, in the caller's terms. */
  private async refuseInsideFloor(
    table: LogTableName,
    olderThan: Date,
  ): Promise<void> {
    const [floor] = await this.dataSource.query<
      { age: string; newest: Date; inside: boolean }[]
    >(
      `SELECT min_age::text AS age, now() - min_age AS newest, $2::timestamptz > now() - min_age AS inside
         FROM logging_retention_floor WHERE log = $1`,
      [table, olderThan],
    );
    if (floor?.inside) {
      throw new LogRetentionError(
        `purge: ${olderThan.toISOString()} is inside the retention floor of ${table} (${floor.age}): ` +
          `only rows created before ${floor.newest.toISOString()} may be purged. The schema owner moves the floor ` +
          `(UPDATE logging_retention_floor SET min_age = ... WHERE log = '${table}')`,
      );
    }
  }

  /**
   * Fails closed on a sealed log: deleting sealed rows one by one would break the firms' chains, and
   * `verify` would report every purged row as missing. Sealed logs are purged by whole seals.
   */
  private async refuseSealedRows(
    table: LogTableName,
    olderThan: Date,
  ): Promise<void> {
    const [{ firms }] = await this.dataSource.query<{ firms: number }[]>(
      `SELECT count(DISTINCT firm_id)::int AS firms FROM ${LOG_SEAL_TABLE}
        WHERE log = $1 AND kind = 'seal' AND (from_created_at IS NULL OR from_created_at < $2)`,
      [table, olderThan],
    );
    if (firms > 0) {
      throw new LogRetentionError(
        `purge: ${table} holds sealed rows created before ${olderThan.toISOString()} (${firms} firm${firms === 1 ? '' : 's'}); ` +
          'purging them row by row would break the seal chains. Use AuditSealService.purge, which ' +
          'deletes whole seals with their rows and keeps a tombstone seal so the chains still verify',
      );
    }
  }
}
