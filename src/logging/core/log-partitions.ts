import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { AUDIT_LOG_TABLE, LLM_USAGE_LOG_TABLE } from './logging.constants.js';

/**
 * The partitioned layout as the features read it (docs/partitions.md): which logs are partitioned,
 * their month partitions, and the one way a month leaves, `logging_partition_retire()`. Shared by
 * the partitions' service, retention and the seals, which never import each other.
 */

/** The logs that may be partitioned by month. */
export type PartitionedLogName =
  typeof AUDIT_LOG_TABLE | typeof LLM_USAGE_LOG_TABLE;

export const PARTITIONABLE_LOGS: readonly PartitionedLogName[] = [
  AUDIT_LOG_TABLE,
  LLM_USAGE_LOG_TABLE,
];

/** Runs one statement and resolves with its rows. */
export type QueryFn = <T>(sql: string, parameters?: unknown[]) => Promise<T[]>;

/** A query function on `dataSource`'s pool. */
export const queryOf =
  (dataSource: DataSource): QueryFn =>
  <T>(sql: string, parameters?: unknown[]) =>
    dataSource.query<T[]>(sql, parameters);

/** A month partition of a log. */
export interface LogMonth {
  /** The log. */
  log: PartitionedLogName;
  /** The partition's table, `<log>_pYYYYMM`. */
  table: string;
  /** The month's first instant, UTC. */
  month: Date;
  /** The next month's first instant, UTC: the partition holds the ids made before it. */
  end: Date;
}

/** A month retired by {@link retireMonth}. */
export interface RetiredMonth {
  log: PartitionedLogName;
  /** The month's first instant, UTC. */
  month: Date;
  /** Rows that left with the partition. */
  dropped: number;
  /**
   * Rows of the partition that stayed, moved into the default partition: dated after the month
   * (recorded in its last instants, written after its end), or taken in as late arrivals by a seal
   * that is kept.
   */
  moved: number;
  /** Rows of other partitions dated before the month's end, deleted one by one (ids not made by the module). */
  deleted: number;
  /** Seals that gave way to tombstones (0 for a log without seals). */
  seals: number;
  /** How long the call took, lock waits and retries included, in milliseconds. */
  ms: number;
  /**
   * With `retireMonth(log, month, { archive })`: the archive the month was confirmed against, its
   * rows (those that left: `dropped + deleted`), and the rows of the month that later seals hold,
   * kept in the default partition (counted in `moved`).
   */
  archive?: {
    dir: string;
    manifestDigest: string;
    rows: number;
    heldByLaterSeals: number;
  };
}

/**
 * The archive of a month, for `LogPartitionService.retireMonth(log, month, { archive })`: the
 * directory `AuditArchiveService.export` wrote, and what to check it against (the fields of
 * `ArchiveVerifyQuery` from `@cma/logging/seals`).
 */
export interface MonthArchive {
  /** The archive's directory. */
  dir: string;
  /** Seal digests published outside the database, as `AuditArchiveService.verify` takes them. */
  anchors?: {
    firmId: string;
    seq: number;
    digest: string;
    log?: PartitionedLogName;
  }[];
  /** The manifest digest published when the archive was made: the manifest must have it. */
  manifestDigest?: string;
}

/**
 * What retiring a month asks of its archive: `AuditArchiveService.confirm`, which
 * LoggingModule binds to `MONTH_ARCHIVE_CHECK` (the partitions never import the seals).
 */
export interface MonthArchiveCheck {
  confirm(query: MonthArchive): Promise<{
    droppable: boolean;
    reason?: string;
    refusal?: string;
    heldByLaterSeals: number;
    verification: {
      log: string | null;
      month: string | null;
      rowsChecked: number;
      manifestDigest: string;
    };
  }>;
}

/** A month could not leave, or the layout does not allow what was asked; nothing changed. */
export class LogPartitionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LogPartitionError';
  }
}

/** Whether `log` is partitioned (a missing table reads as not partitioned). */
export async function isPartitioned(
  query: QueryFn,
  log: PartitionedLogName,
): Promise<boolean> {
  const [row] = await query<{ partitioned: boolean }>(
    `SELECT c.relkind = 'p' AS partitioned FROM pg_catalog.pg_class c
      WHERE c.oid = to_regclass($1)`,
    [log],
  );
  return row?.partitioned ?? false;
}

/**
 * How long a reader trusts what it last read of a log's layout. A conversion changes it while the
 * application runs; a read made for the other layout is exact all the same, only slower.
 */
export const LAYOUT_TRUSTED_MS = 60_000;

/** Whether `log` is partitioned, asked again once {@link LAYOUT_TRUSTED_MS} has passed. */
export function layoutOf(
  query: QueryFn,
  log: PartitionedLogName,
): () => Promise<boolean> {
  let known: { at: number; partitioned: Promise<boolean> } | undefined;
  return () => {
    const now = Date.now();
    if (!known || now - known.at > LAYOUT_TRUSTED_MS) {
      const partitioned = isPartitioned(query, log);
      known = { at: now, partitioned };
      // a failed read is not remembered
      partitioned.catch(() => {
        if (known?.partitioned === partitioned) known = undefined;
      });
    }
    return known.partitioned;
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TOP_ID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/**
 * A condition on `id` that every row of the partitioned `log` dated in [`from`, `to`) meets
 * (`logging_id_ranges`, docs/partitions.md, "Reading a few months"), with its bounds written out,
 * so that the planner reads only the partitions they fall in. `null` for no bound.
 */
export async function idCondition(
  query: QueryFn,
  log: PartitionedLogName,
  from: Date | null,
  to: Date | null,
): Promise<string> {
  const [{ ranges }] = await query<{ ranges: string[] }>(
    `SELECT logging_id_ranges($1::regclass, $2::timestamptz, $3::timestamptz)::text[] AS ranges`,
    [log, from?.toISOString() ?? '-infinity', to?.toISOString() ?? 'infinity'],
  );
  if (ranges.length % 2 || !ranges.every((id) => UUID.test(id))) {
    throw new LogPartitionError(
      `logging_id_ranges(${log}) answered ${ranges.length} values that are not pairs of ids`,
    );
  }
  const terms: string[] = [];
  for (let i = 0; i < ranges.length; i += 2) {
    terms.push(`(id >= '${ranges[i]}' AND id < '${ranges[i + 1]}')`);
  }
  return `(${[...terms, `id = '${TOP_ID}'`].join(' OR ')})`;
}

/** The month partitions of `log`, oldest first; none when it is not partitioned. */
export async function logMonths(
  query: QueryFn,
  log: PartitionedLogName,
): Promise<LogMonth[]> {
  const rows = await query<{ table: string }>(
    `SELECT c.relname AS "table" FROM pg_catalog.pg_inherits i
       JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass($1) AND c.relname ~ ('^' || $1 || '_p[0-9]{6}$')
      ORDER BY c.relname`,
    [log],
  );
  return rows.map(({ table }) => {
    const year = Number(table.slice(-6, -2));
    const month = Number(table.slice(-2)) - 1;
    return {
      log,
      table,
      month: new Date(Date.UTC(year, month, 1)),
      end: new Date(Date.UTC(year, month + 1, 1)),
    };
  });
}

/** The first instant of `at`'s UTC month. */
export function monthOf(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

export interface RetireMonthOptions {
  /**
   * Refuse, retiring nothing, unless exactly this many rows would leave (dropped + deleted): the
   * count of a verified archive of the month.
   */
  expectRows?: number;
  /**
   * The longest the retirement waits for each lock it needs on the log; the writer waits behind it
   * at most this long. Default: 1000.
   */
  lockTimeoutMs?: number;
  /** Tries when a lock is not granted within `lockTimeoutMs`. Default: 10. */
  attempts?: number;
}

/** Defaults of {@link RetireMonthOptions}. */
export const RETIRE_DEFAULTS = { lockTimeoutMs: 1000, attempts: 10 } as const;

/**
 * Detaches and drops the partition of one UTC month of `log` (`logging_partition_retire()`), in a
 * transaction of its own on a connection of `dataSource`: the oldest month only, outside the
 * log's retention floor, under the sealers' lock, with a tombstone seal in the chain of each firm
 * whose seals end in it. A lock not granted within `lockTimeoutMs` rolls the try back and it
 * tries again, `attempts` times in all.
 *
 * @throws LogPartitionError naming the rule the database refused by (not partitioned, no such
 *   month, an older month still there, inside the retention floor, not sealed to the month's end,
 *   not the expected row count), or when the locks were not granted
 */
export async function retireMonth(
  dataSource: DataSource,
  log: PartitionedLogName,
  month: Date,
  options: RetireMonthOptions = {},
): Promise<RetiredMonth> {
  const { expectRows, lockTimeoutMs, attempts } = {
    ...RETIRE_DEFAULTS,
    ...options,
  };
  const started = performance.now();
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      await runner.startTransaction();
      try {
        // the sealers' lock first, without a timeout: a seal run ends in its own time
        await runner.query(
          `SELECT pg_advisory_xact_lock(hashtext('logging.log_seal'))`,
        );
        await runner.query(`SELECT set_config('lock_timeout', $1, true)`, [
          `${lockTimeoutMs}ms`,
        ]);
        const [row] = (await runner.query(
          `SELECT dropped::text, moved::text, deleted::text, seals::text
             FROM logging_partition_retire($1::regclass, $2::timestamptz, $3::bigint)`,
          [log, month.toISOString(), expectRows ?? null],
        )) as Record<'dropped' | 'moved' | 'deleted' | 'seals', string>[];
        await runner.commitTransaction();
        return {
          log,
          month,
          dropped: Number(row.dropped),
          moved: Number(row.moved),
          deleted: Number(row.deleted),
          seals: Number(row.seals),
          ms: Math.round(performance.now() - started),
        };
      } catch (error) {
        await runner.rollbackTransaction();
        const { code, message, hint } = error as Record<string, string>;
        if (code === '55P03' && attempt < attempts) {
          await sleep(50 * attempt);
          continue;
        }
        if (code === '55P03') {
          throw new LogPartitionError(
            `retireMonth: ${log} ${month.toISOString().slice(0, 7)}: the locks were not granted within ${lockTimeoutMs} ms, ${attempts} times; nothing left`,
            { cause: error },
          );
        }
        if (code && ['22023', '42501', '55000'].includes(code)) {
          throw new LogPartitionError(
            `retireMonth: ${message}${hint ? ` (${hint})` : ''}`,
            { cause: error },
          );
        }
        throw error;
      }
    }
  } finally {
    await runner.release();
  }
}

/**
 * Retires, oldest first, every month partition of `log` whose month ends at or before `before`
 * (none when `log` is one table); stops at the first refusal (the retention floor, sealing behind)
 * and throws it, the months before it retired.
 */
export async function retireMonthsBefore(
  dataSource: DataSource,
  log: PartitionedLogName,
  before: Date,
  options: Omit<RetireMonthOptions, 'expectRows'> = {},
): Promise<RetiredMonth[]> {
  const retired: RetiredMonth[] = [];
  if (!(await isPartitioned(queryOf(dataSource), log))) return retired;
  for (const { month, end } of await logMonths(queryOf(dataSource), log)) {
    if (end.getTime() > before.getTime()) break;
    retired.push(await retireMonth(dataSource, log, month, options));
  }
  return retired;
}
