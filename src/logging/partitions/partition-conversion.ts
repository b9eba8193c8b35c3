import type { DataSource } from 'typeorm';
import { LogPartitionError } from '../core/log-partitions.js';
import {
  type PartitionConversionOptions,
  type PartitionConversionResult,
  resolveConversionOptions,
} from './partition-conversion.options.js';
import { Conversion } from './partition-copy.js';

export {
  CONVERSION_DEFAULTS,
  type PartitionConversionOptions,
  type PartitionConversionProgress,
  type PartitionConversionResult,
  resolveConversionOptions,
} from './partition-conversion.options.js';

/**
 * Converts the logs of a live install to the partitioned layout (docs/partitions.md), online: the
 * application keeps writing while it runs, and waits for no lock longer than `lockTimeoutMs` plus
 * the swap (a few milliseconds). For each log:
 *
 * 1. a partitioned table is made beside it, with the log's columns, constraints, foreign keys and
 *    indexes, a default partition and one partition per UTC month from the oldest row's to
 *    `monthsAhead` after the current one;
 * 2. a statement trigger on the log queues the ids of the rows inserted from then on;
 * 3. the rows there before are copied in id order, `batchSize` at a time, each batch in a
 *    transaction of its own, with a pause between them; the queue is copied as it fills;
 * 4. the swap, in one short transaction under `lock_timeout`: the rest of the queue is copied, the
 *    tables change names, the log's triggers and grants move to the partitioned table;
 * 5. the unpartitioned table is dropped (or kept, `keepUnpartitioned`).
 *
 * Run it as the owner of the logs, after the migrations (`LogPartitions1795305940000`). It holds
 * the sealers' advisory lock throughout: purges and seal runs wait, so no row leaves a log while it
 * is copied. An interrupted conversion leaves the log as it was: run it again, it starts over. A
 * log already partitioned is left alone.
 *
 * @throws LogPartitionError for bad options, a role that does not own the logs, migrations not
 *   run, a log whose keys cannot be partitioned, or locks never granted
 * @example
 * await partitionLogs(dataSource, { monthsAhead: 3 });
 */
export async function partitionLogs(
  dataSource: DataSource,
  options: PartitionConversionOptions = {},
): Promise<PartitionConversionResult[]> {
  const resolved = resolveConversionOptions(options);
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  const q = <T>(sql: string, parameters?: unknown[]) =>
    runner.query(sql, parameters) as Promise<T[]>;
  try {
    const [{ alone }] = await q<{ alone: boolean }>(
      `SELECT pg_try_advisory_lock(hashtext('logging.partition_conversion')) AS alone`,
    );
    if (!alone) {
      throw new LogPartitionError(
        'partitionLogs: another conversion is running on this database',
      );
    }
    try {
      const [{ ready }] = await q<{ ready: boolean }>(
        `SELECT to_regprocedure('logging_partition_copy_queue()') IS NOT NULL AS ready`,
      );
      if (!ready) {
        throw new LogPartitionError(
          'partitionLogs: the functions of the partitioned layout are missing: run the migrations first (LogPartitions1795305940000)',
        );
      }
      // purges and seal runs take this lock: none of them changes a log while it is copied
      await q(`SELECT pg_advisory_lock(hashtext('logging.log_seal'))`);
      try {
        const results: PartitionConversionResult[] = [];
        for (const log of resolved.logs) {
          results.push(await new Conversion(runner, log, resolved).run());
        }
        return results;
      } finally {
        await q(`SELECT pg_advisory_unlock(hashtext('logging.log_seal'))`);
      }
    } finally {
      await q(
        `SELECT pg_advisory_unlock(hashtext('logging.partition_conversion'))`,
      );
    }
  } finally {
    await runner.release();
  }
}
