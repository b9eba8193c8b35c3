import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  LOGGING_DATA_SOURCE,
  RETENTION_HORIZON_TABLE,
  ROLLUP_OPTIONS,
} from '../core/logging.constants.js';
import { queryViolations } from '../core/entry-validation.js';
import { toInstant } from '../core/validation-rules.js';
import { reconcileStatement, rebuildStatement } from './rollup-sql.js';
import { ROLLUP_LOCK_SQL, ROLLUP_TABLES } from '../core/rollup-tables.js';
import {
  dayOf,
  nextDay,
  ROLLUP_DEFAULTS,
  RollupQueryError,
  type RollupRange,
  RollupRangeDto,
  type RollupRebuild,
  type RollupReconciliation,
  RollupRetentionError,
  type RollupTableName,
  type UsageRollupOptions,
} from './usage-rollup.types.js';

const DAY_MS = 86_400_000;

/**
 * The daily rollups of `llm_usage_log` and `audit_log`. Triggers keep them in the same transaction
 * as the raw rows; this service folds their deltas (`compact`, also on a timer), compares them with
 * the raw rows (`reconcile`), recomputes them (`rebuild`) and deletes old ones (`purge`).
 */
@Injectable()
export class UsageRollupService
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('LoggingModule');
  private readonly intervalMs: number;
  private timer?: ReturnType<typeof setInterval>;
  private compacting?: Promise<number>;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(ROLLUP_OPTIONS) options: UsageRollupOptions,
  ) {
    const interval =
      options.compactIntervalMs ?? ROLLUP_DEFAULTS.compactIntervalMs;
    if (!Number.isInteger(interval) || interval < 0) {
      throw new RollupQueryError('rollup options', [
        {
          field: 'rollups.compactIntervalMs',
          rule: 'min',
          message:
            'rollups.compactIntervalMs must be a non-negative integer (0 turns compaction off)',
        },
      ]);
    }
    this.intervalMs = interval;
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs === 0) return;
    this.timer = setInterval(() => {
      this.compact().catch((error: unknown) =>
        this.logger.error(`rollup compaction failed: ${String(error)}`),
      );
    }, this.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.compacting?.catch(() => undefined);
  }

  /**
   * Folds every key's uncompacted rows into one row, `maxKeys` keys per transaction, and resolves
   * with the keys folded. Sums never change; only the row count does. Concurrent calls share one run.
   */
  compact({ maxKeys = 10_000 }: { maxKeys?: number } = {}): Promise<number> {
    this.compacting ??= (async () => {
      let total = 0;
      for (;;) {
        const [{ folded }] = await this.dataSource.query<{ folded: number }[]>(
          'SELECT logging_rollup_compact($1) AS folded',
          [maxKeys],
        );
        total += folded;
        if (folded === 0) return total;
      }
    })().finally(() => (this.compacting = undefined));
    return this.compacting;
  }

  /**
   * Compares each rollup with a GROUP BY over the raw rows of the whole UTC days of the range (after
   * its log's retention horizon) and names every key that differs.
   *
   * @throws RollupQueryError naming every bad field; nothing is read
   */
  async reconcile(range: RollupRange): Promise<RollupReconciliation> {
    const { firmId, fromDay, toDay } = validRange('reconcile', range);
    const horizons = await this.horizons();
    const result: RollupReconciliation = { checked: [], differences: [] };
    for (const rollup of ROLLUP_TABLES) {
      const horizon = horizons.get(rollup.source);
      const from =
        horizon && nextDay(horizon) > fromDay ? nextDay(horizon) : fromDay;
      if (from >= toDay) continue;
      const name = rollup.table as RollupTableName;
      result.checked.push({ rollup: name, from, to: toDay });
      const rows = await this.dataSource.query<
        Omit<RollupReconciliation['differences'][number], 'rollup'>[]
      >(reconcileStatement(rollup, firmId !== undefined), [
        `${from}T00:00:00Z`,
        `${toDay}T00:00:00Z`,
        from,
        toDay,
        ...(firmId !== undefined ? [firmId] : []),
      ]);
      for (const row of rows) result.differences.push({ rollup: name, ...row });
    }
    return result;
  }

  /**
   * Recomputes the rollups of the whole UTC days of the range from the raw rows, one day per
   * transaction (online: writers go on; a delta committed meanwhile is counted once), and leaves one
   * compacted row per key.
   *
   * @throws RollupQueryError naming every bad field; nothing is changed
   * @throws RollupRetentionError when the range starts where retention has purged raw rows
   */
  async rebuild(range: RollupRange): Promise<RollupRebuild> {
    const { firmId, fromDay, toDay } = validRange('rebuild', range);
    for (const [table, purgedBefore] of await this.horizons()) {
      if (nextDay(purgedBefore) > fromDay) {
        throw new RollupRetentionError(table, purgedBefore);
      }
    }
    let days = 0;
    let rows = 0;
    for (
      let day = fromDay;
      day < toDay;
      day = dayOf(new Date(Date.parse(day) + DAY_MS))
    ) {
      const next = dayOf(new Date(Date.parse(day) + DAY_MS));
      rows += await this.dataSource.transaction(async (manager) => {
        await manager.query(`SELECT ${ROLLUP_LOCK_SQL}`);
        let written = 0;
        for (const rollup of ROLLUP_TABLES) {
          const [, count] = await manager.query<[unknown, number]>(
            rebuildStatement(rollup, firmId !== undefined),
            [
              day,
              `${day}T00:00:00Z`,
              `${next}T00:00:00Z`,
              ...(firmId !== undefined ? [firmId] : []),
            ],
          );
          written += count;
        }
        return written;
      });
      days++;
    }
    const last = dayOf(new Date(Date.parse(toDay) - DAY_MS));
    this.logger.log(
      `rollups rebuilt from ${fromDay} to ${last}: ${days} days, ${rows} rows`,
    );
    return { from: fromDay, to: last, days, rows };
  }

  /**
   * Deletes the rollups' rows of the UTC days before `before`'s day, `batchSize` rows per
   * transaction, and resolves with the count. Rollups are kept until asked: raw retention never
   * touches them.
   */
  async purge(
    before: Date,
    { batchSize = 10_000 }: { batchSize?: number } = {},
  ): Promise<number> {
    if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
      throw new RollupQueryError('rollup purge', [
        {
          field: 'before',
          rule: 'isDate',
          message: 'before must be a valid Date',
        },
      ]);
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RollupQueryError('rollup purge', [
        {
          field: 'batchSize',
          rule: 'min',
          message: 'batchSize must be a positive integer',
        },
      ]);
    }
    let total = 0;
    for (const { table } of ROLLUP_TABLES) {
      for (;;) {
        const [, deleted] = await this.dataSource.query<[unknown, number]>(
          `DELETE FROM "${table}" WHERE id IN (SELECT id FROM "${table}" WHERE day < $1 LIMIT $2)`,
          [dayOf(before), batchSize],
        );
        total += deleted;
        if (deleted < batchSize) break;
      }
    }
    return total;
  }

  /** Per log, the instant retention has purged it before, if it has. */
  private async horizons(): Promise<Map<string, Date>> {
    const rows = await this.dataSource.query<
      { table_name: string; purged_before: Date }[]
    >(`SELECT table_name, purged_before FROM ${RETENTION_HORIZON_TABLE}`);
    return new Map(rows.map((r) => [r.table_name, r.purged_before]));
  }
}

function validRange(
  what: string,
  range: RollupRange,
): { firmId?: string; fromDay: string; toDay: string } {
  const { instance, violations } = queryViolations(RollupRangeDto, range);
  if (violations.length) throw new RollupQueryError(what, violations);
  return {
    firmId: instance.firmId,
    fromDay: dayOf(toInstant(instance.from)!),
    toDay: nextDay(toInstant(instance.to)!),
  };
}
