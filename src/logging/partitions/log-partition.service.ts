import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  isPartitioned,
  type LogMonth,
  logMonths,
  LogPartitionError,
  PARTITIONABLE_LOGS,
  type PartitionedLogName,
  queryOf,
  type RetiredMonth,
  retireMonth,
} from '../core/log-partitions.js';
import {
  LOGGING_DATA_SOURCE,
  PARTITION_OPTIONS,
} from '../core/logging.constants.js';
import type { ResolvedPartitionOptions } from './partition.options.js';

/** How a log is laid out: one table, or partitioned by month on its id. */
export type LogLayout = 'single' | 'partitioned';

/**
 * The month partitions of the logs converted to the partitioned layout (docs/partitions.md): made
 * ahead at startup and every `partitions.intervalMs`, listed, and retired one month at a time.
 * Retention (`LogRetentionService.purge`, `AuditSealService.purge`) retires the whole months it
 * reaches itself; {@link retireMonth} is for a host that retires a month on its own schedule, after
 * archiving it.
 */
@Injectable()
export class LogPartitionService
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger('LoggingModule');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(PARTITION_OPTIONS)
    private readonly options: ResolvedPartitionOptions,
  ) {}

  /**
   * Makes the months ahead of the partitioned logs; a role that cannot (EXECUTE not granted) stops
   * the application here, naming the grant: months without a partition would fill the default one.
   */
  async onApplicationBootstrap(): Promise<void> {
    await this.ensure();
    const { intervalMs } = this.options;
    if (intervalMs === null) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.ensure()
        .catch((error: unknown) =>
          this.logger.error(
            `making the month partitions ahead failed: ${String(error)}`,
          ),
        )
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * The layout of each log.
   *
   * @example
   * const { audit_log } = await partitions.layout(); // 'partitioned'
   */
  async layout(): Promise<Record<PartitionedLogName, LogLayout>> {
    const query = queryOf(this.dataSource);
    const entries = await Promise.all(
      PARTITIONABLE_LOGS.map(
        async (log) =>
          [
            log,
            (await isPartitioned(query, log)) ? 'partitioned' : 'single',
          ] as const,
      ),
    );
    return Object.fromEntries(entries) as Record<PartitionedLogName, LogLayout>;
  }

  /**
   * Makes the missing month partitions of every partitioned log, from the current UTC month to
   * `partitions.monthsAhead` months after it (`logging_partitions_ensure()`), and resolves with how
   * many it made per log. The module calls it at startup and every `partitions.intervalMs`.
   *
   * @throws LogPartitionError when the database refuses (EXECUTE not granted on the function)
   */
  async ensure(): Promise<Partial<Record<PartitionedLogName, number>>> {
    const query = queryOf(this.dataSource);
    const made: Partial<Record<PartitionedLogName, number>> = {};
    for (const log of PARTITIONABLE_LOGS) {
      if (!(await isPartitioned(query, log))) continue;
      const [row] = await query<{ made: number }>(
        'SELECT logging_partitions_ensure($1::regclass, $2) AS made',
        [log, this.options.monthsAhead],
      ).catch((error: unknown) => {
        const { code, message } = error as Record<string, string>;
        throw new LogPartitionError(
          `ensure: making the month partitions of ${log} failed: ${message}` +
            (code === '42501'
              ? '. The role the application connects as needs EXECUTE on logging_partitions_ensure(regclass, integer, timestamptz) (docs/retention-and-append-only.md#roles)'
              : ''),
          { cause: error },
        );
      });
      made[log] = row.made;
      if (row.made) {
        this.logger.log(`${log}: ${row.made} month partition(s) made ahead`);
      }
    }
    return made;
  }

  /**
   * The month partitions of `log`, oldest first (none when it is one table).
   *
   * @throws LogPartitionError for a log that is not `'audit_log'` or `'llm_usage_log'`
   */
  async months(log: PartitionedLogName): Promise<LogMonth[]> {
    checkLog('months', log);
    return logMonths(queryOf(this.dataSource), log);
  }

  /**
   * Detaches and drops the partition of the UTC month that starts at `month`, with every row of
   * the log dated before the month's end (`logging_partition_retire()`). The month must be the
   * oldest partition of the log and end outside the log's retention floor; on a sealed log the seal
   * runs must cover the month, and each firm's seals ending in it give way to one tombstone seal,
   * so the chains still verify. Rows of the partition dated after the month, and late arrivals a
   * later seal holds, stay (in the default partition). With `expectRows`, it retires nothing
   * unless exactly that many rows would leave: give the row count of the month's verified archive.
   * The log is locked for the detach only, a few milliseconds, waiting at most
   * `partitions.lockTimeoutMs` for it.
   *
   * @returns what left: the partition's rows, rows moved to the default partition, rows deleted
   *   from other partitions, seals that gave way to tombstones
   * @throws LogPartitionError naming the rule (bad arguments, not partitioned, no partition for the
   *   month, an older month still there, inside the retention floor, sealing not past the month's
   *   end, another row count than expected); nothing is retired
   * @example
   * // after the archive of 2026-01 verified, with 812,345 rows
   * await partitions.retireMonth('audit_log', new Date('2026-01-01T00:00:00Z'), { expectRows: 812_345 });
   */
  async retireMonth(
    log: PartitionedLogName,
    month: Date,
    options: { expectRows?: number } = {},
  ): Promise<RetiredMonth> {
    checkLog('retireMonth', log);
    if (
      !(month instanceof Date) ||
      Number.isNaN(month.getTime()) ||
      month.getTime() !==
        Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1)
    ) {
      throw new LogPartitionError(
        'retireMonth: month must be a Date at the first instant of a UTC month, e.g. new Date(Date.UTC(2026, 0, 1))',
      );
    }
    const { expectRows } = options ?? {};
    if (
      expectRows !== undefined &&
      (!Number.isSafeInteger(expectRows) || expectRows < 0)
    ) {
      throw new LogPartitionError(
        `retireMonth: expectRows must be an integer of at least 0, got ${JSON.stringify(expectRows)}`,
      );
    }
    const retired = await retireMonth(this.dataSource, log, month, {
      expectRows,
      lockTimeoutMs: this.options.lockTimeoutMs,
    });
    this.logger.log(
      `${log}: month ${month.toISOString().slice(0, 7)} retired: ${retired.dropped} rows with its partition, ` +
        `${retired.deleted} from others, ${retired.moved} kept, ${retired.seals} seals to tombstones`,
    );
    return retired;
  }
}

function checkLog(method: string, log: unknown): void {
  if (!PARTITIONABLE_LOGS.includes(log as PartitionedLogName)) {
    throw new LogPartitionError(
      `${method}: log must be 'audit_log' or 'llm_usage_log', got ${JSON.stringify(log)}`,
    );
  }
}
