/**
 * `@cma/logging/partitions`: the partitioned layout of the logs (docs/partitions.md): the
 * conversion of an install, the service that makes months ahead and retires a month, their
 * options, types and error.
 *
 * @packageDocumentation
 */
export {
  type LogLayout,
  LogPartitionService,
} from './log-partition.service.js';
export {
  partitionLogs,
  type PartitionConversionOptions,
  type PartitionConversionProgress,
  type PartitionConversionResult,
} from './partition-conversion.js';
export type { PartitionOptions } from './partition.options.js';
export {
  type LogMonth,
  LogPartitionError,
  type MonthArchive,
  type PartitionedLogName,
  type RetiredMonth,
} from '../core/log-partitions.js';
