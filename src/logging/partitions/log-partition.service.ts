import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  isPartitioned,
  type LogMonth,
  logMonths,
  LogPartitionError,
  type MonthArchive,
  type MonthArchiveCheck,
  PARTITIONABLE_LOGS,
  type PartitionedLogName,
  queryOf,
  type RetiredMonth,
  retireMonth,
} from '../core/log-partitions.js';
import {
  LOGGING_DATA_SOURCE,
  MONTH_ARCHIVE_CHECK,
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
    @Optional()
    @Inject(MONTH_ARCHIVE_CHECK)
    private readonly archives?: MonthArchiveCheck,
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
   * unless exactly that many rows would leave.
   *
   * With `archive` (the directory `AuditArchiveService.export` wrote for this log and month), it
   * first asks `AuditArchiveService.confirm` and retires the month only when the archive verifies
   * and the database still holds exactly its seals and rows, and then only exactly the archive's
   * rows (`expectRows` is the archive's row count). Rows of the month that later seals hold
   * (confirm's `held-by-later-seals`) stay, apart in the default partition, until the later
   * month leaves, as docs/archives.md has them: the rest of the month is retired.
   *
   * The log is locked for the detach only, a few milliseconds, waiting at most
   * `partitions.lockTimeoutMs` for it.
   *
   * @returns what left: the partition's rows, rows moved to the default partition, rows deleted
   *   from other partitions, seals that gave way to tombstones, and the archive confirmed
   * @throws LogPartitionError naming the rule (bad arguments, not partitioned, no partition for the
   *   month, an older month still there, inside the retention floor, sealing not past the month's
   *   end, another row count than expected, an archive of another log or month or that confirm
   *   refuses, with its reason); nothing is retired
   * @throws AuditSealQueryError (from `@cma/logging/seals`) for an archive dir, anchors or
   *   manifestDigest that are not well formed
   * @example
   * // after the archive of 2026-01 was exported, verified and stored
   * await partitions.retireMonth('audit_log', new Date('2026-01-01T00:00:00Z'), {
   *   archive: { dir: '/archives/audit_log-2026-01', manifestDigest },
   * });
   */
  async retireMonth(
    log: PartitionedLogName,
    month: Date,
    options: { expectRows?: number; archive?: MonthArchive } = {},
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
    const confirmed =
      options?.archive === undefined
        ? undefined
        : await this.confirmArchive(log, month, options.archive, expectRows);
    const retired: RetiredMonth = await retireMonth(
      this.dataSource,
      log,
      month,
      {
        expectRows: confirmed?.rows ?? expectRows,
        lockTimeoutMs: this.options.lockTimeoutMs,
      },
    );
    if (confirmed) retired.archive = confirmed;
    this.logger.log(
      `${log}: month ${month.toISOString().slice(0, 7)} retired: ${retired.dropped} rows with its partition, ` +
        `${retired.deleted} from others, ${retired.moved} kept, ${retired.seals} seals to tombstones` +
        (confirmed
          ? `, as the archive in ${confirmed.dir} (manifest ${confirmed.manifestDigest}) confirmed`
          : ''),
    );
    return retired;
  }

  /**
   * Asks the archives' service whether `archive` lets `log`'s `month` leave: refuses another log or
   * month, and every reason of confirm but rows held by later seals, which the retirement keeps.
   */
  private async confirmArchive(
    log: PartitionedLogName,
    month: Date,
    archive: MonthArchive,
    expectRows: number | undefined,
  ): Promise<ConfirmedArchive> {
    const yearMonth = month.toISOString().slice(0, 7);
    const refuse = (why: string) =>
      new LogPartitionError(
        `retireMonth: ${log} ${yearMonth}: ${why}; nothing left`,
      );
    if (
      typeof archive !== 'object' ||
      archive === null ||
      typeof archive.dir !== 'string' ||
      archive.dir === ''
    ) {
      throw new LogPartitionError(
        'retireMonth: archive must be { dir, anchors?, manifestDigest? }, dir the directory AuditArchiveService.export wrote',
      );
    }
    if (!this.archives) {
      throw refuse(
        'archive needs AuditArchiveService, which LoggingModule provides: call retireMonth through the module',
      );
    }
    const confirmation = await this.archives.confirm(archive);
    const { verification } = confirmation;
    if (confirmation.refusal === 'unverified') {
      throw refuse(
        `the archive in ${archive.dir} refuses it: ${confirmation.reason}`,
      );
    }
    if (verification.log !== log || verification.month !== yearMonth) {
      throw refuse(
        `the archive in ${archive.dir} is of ${verification.log} ${verification.month}`,
      );
    }
    if (
      !confirmation.droppable &&
      confirmation.refusal !== 'held-by-later-seals'
    ) {
      throw refuse(
        `the archive in ${archive.dir} refuses it: ${confirmation.reason}`,
      );
    }
    const rows = verification.rowsChecked;
    if (expectRows !== undefined && expectRows !== rows) {
      throw refuse(
        `expectRows is ${expectRows}, and the archive in ${archive.dir} holds ${rows} rows`,
      );
    }
    return {
      dir: archive.dir,
      manifestDigest: verification.manifestDigest,
      rows,
      heldByLaterSeals: confirmation.heldByLaterSeals,
    };
  }
}

/** The archive confirmed for {@link LogPartitionService.retireMonth}. */
type ConfirmedArchive = NonNullable<RetiredMonth['archive']>;

function checkLog(method: string, log: unknown): void {
  if (!PARTITIONABLE_LOGS.includes(log as PartitionedLogName)) {
    throw new LogPartitionError(
      `${method}: log must be 'audit_log' or 'llm_usage_log', got ${JSON.stringify(log)}`,
    );
  }
}
