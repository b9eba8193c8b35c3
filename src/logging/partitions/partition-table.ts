import {
  LogPartitionError,
  type PartitionedLogName,
} from '../core/log-partitions.js';

/**
 * The partitioned table a conversion makes beside a log (`partitionLogs`): the log's columns,
 * defaults, CHECKs, foreign keys and indexes, range-partitioned on id, with its partitions.
 */

/** Runs one statement on the conversion's connection and resolves with its rows. */
export type Query = <T>(sql: string, parameters?: unknown[]) => Promise<T[]>;

const NAME_LIMIT = 63;

/** `name` with `suffix`, within PostgreSQL's 63 bytes (the names here are ASCII). */
export function suffixed(name: string, suffix: string): string {
  return name.length + suffix.length <= NAME_LIMIT
    ? name + suffix
    : name.slice(0, NAME_LIMIT - suffix.length) + suffix;
}

/** `name` as a quoted identifier. */
export const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** An index of the log, as it is made on the partitioned table. */
export interface IndexPlan {
  name: string;
  /** Its name on the partitioned table until the swap. */
  temporary: string;
  /** Its statement on the partitioned table. */
  create?: string;
  /** The constraint it backs (the primary key), when it backs one. */
  constraint?: string;
}

/** The log's indexes, and how each is made on the partitioned table. */
export async function indexPlans(
  q: Query,
  log: PartitionedLogName,
  partitioned: string,
): Promise<IndexPlan[]> {
  const rows = await q<{
    name: string;
    definition: string;
    constraint: string | null;
    kind: string | null;
    unique: boolean;
  }>(
    `SELECT ic.relname AS name, pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
            con.conname AS "constraint", con.contype AS kind, i.indisunique AS unique
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
      WHERE i.indrelid = to_regclass($1)
      ORDER BY ic.relname`,
    [log],
  );
  return rows.map((row) => {
    const temporary = suffixed(row.name, '__p');
    if (row.kind === 'p') {
      return { name: row.name, temporary, constraint: row.constraint! };
    }
    if (row.kind || row.unique) {
      throw new LogPartitionError(
        `partitionLogs: ${log} has the unique index ${row.name}; a partitioned table keeps only unique keys that hold the id (its partition key): drop it or add id to it first`,
      );
    }
    const match = /^CREATE INDEX \S+ ON (?:ONLY )?\S+ (USING .*)$/.exec(
      row.definition,
    );
    if (!match) {
      throw new LogPartitionError(
        `partitionLogs: cannot read the index ${row.name} of ${log}: ${row.definition}`,
      );
    }
    return {
      name: row.name,
      temporary,
      create: `CREATE INDEX ${quote(temporary)} ON ${quote(partitioned)} ${match[1]}`,
    };
  });
}

/**
 * The partitioned table beside the log: its columns, defaults and CHECKs, the primary key and
 * indexes under temporary names, the foreign keys under their own, and its partitions. Returns
 * how many month partitions it made.
 */
export async function preparePartitioned(
  q: Query,
  log: PartitionedLogName,
  partitioned: string,
  indexes: IndexPlan[],
  monthsAhead: number,
): Promise<number> {
  // what an earlier conversion that stopped short left of the log's months
  await q(`DELETE FROM logging_log_month WHERE log = $1`, [log]);
  await q(
    `CREATE TABLE ${quote(partitioned)} (LIKE ${quote(log)}
       INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)
       PARTITION BY RANGE (id)`,
  );
  const primary = indexes.find((index) => index.constraint);
  if (!primary) {
    throw new LogPartitionError(
      `partitionLogs: ${log} has no primary key; the partitioned layout keeps PRIMARY KEY (id)`,
    );
  }
  const [{ definition }] = await q<{ definition: string }>(
    `SELECT pg_catalog.pg_get_constraintdef(oid) AS definition FROM pg_catalog.pg_constraint
      WHERE conrelid = to_regclass($1) AND conname = $2`,
    [log, primary.constraint],
  );
  if (definition !== 'PRIMARY KEY (id)') {
    throw new LogPartitionError(
      `partitionLogs: the primary key of ${log} is ${definition}; the partitioned layout is range-partitioned on id and keeps PRIMARY KEY (id)`,
    );
  }
  await q(
    `ALTER TABLE ${quote(partitioned)} ADD CONSTRAINT ${quote(primary.temporary)} PRIMARY KEY (id)`,
  );
  for (const { name, definition } of await q<{
    name: string;
    definition: string;
  }>(
    `SELECT conname AS name, pg_catalog.pg_get_constraintdef(oid) AS definition
       FROM pg_catalog.pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'f'
      ORDER BY conname`,
    [log],
  )) {
    await q(
      `ALTER TABLE ${quote(partitioned)} ADD CONSTRAINT ${quote(name)} ${definition}`,
    );
  }
  for (const index of indexes) {
    if (index.create) await q(index.create);
  }
  // the default partition, then a month for every month from the oldest row's to monthsAhead on
  await q(
    `CREATE TABLE ${quote(`${log}_default`)} PARTITION OF ${quote(partitioned)} DEFAULT`,
  );
  await q(`SELECT logging_partition_protect($1::regclass, $2)`, [
    `${log}_default`,
    log,
  ]);
  const [{ made }] = await q<{ made: number }>(
    `SELECT count(logging_partition_add($1::regclass, $2, g.local AT TIME ZONE 'UTC'))::int AS made
       FROM generate_series(
              date_trunc('month', least(coalesce((SELECT min(created_at) FROM ${quote(log)}), now()), now()), 'UTC')
                AT TIME ZONE 'UTC',
              (date_trunc('month', now(), 'UTC') AT TIME ZONE 'UTC') + make_interval(months => $3),
              interval '1 month') AS g(local)`,
    [partitioned, log, monthsAhead],
  );
  return made;
}
