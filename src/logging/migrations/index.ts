import { CreateLoggingTables1795305660000 } from './1795305660000-create-logging-tables.js';
import { AppendOnlyLogs1795305720000 } from './1795305720000-append-only-logs.js';
import { AddLlmUsageLogFirmCreatedAtIndex1795305750000 } from './1795305750000-add-llm-usage-log-firm-created-at-index.js';
import { CreateCreditLedger1795305780000 } from './1795305780000-create-credit-ledger.js';
import { CreateDailyRollups1795305800000 } from './1795305800000-create-daily-rollups.js';
import { CreateLogSeals1795305820000 } from './1795305820000-create-log-seals.js';
import { DatabaseGuarantees1795305840000 } from './1795305840000-database-guarantees.js';
import { LedgerRunningBalance1795305860000 } from './1795305860000-ledger-running-balance.js';
import { SealRuns1795305880000 } from './1795305880000-seal-runs.js';
import { SealReferenceGroups1795305900000 } from './1795305900000-seal-reference-groups.js';
import { AddLlmUsageLogFirmCostIndex1795305920000 } from './1795305920000-add-llm-usage-log-firm-cost-index.js';
import { AddAuditLogFirmCreatedAtIndex1795305930000 } from './1795305930000-add-audit-log-firm-created-at-index.js';
import { LogPartitions1795305940000 } from './1795305940000-log-partitions.js';
import {
  type LoggingMigrationsOptions,
  type MigrationClass,
  placeMigrationsAfter,
} from './logging-migrations.js';

export {
  AddAuditLogFirmCreatedAtIndex1795305930000,
  AddLlmUsageLogFirmCostIndex1795305920000,
  AddLlmUsageLogFirmCreatedAtIndex1795305750000,
  AppendOnlyLogs1795305720000,
  CreateCreditLedger1795305780000,
  CreateDailyRollups1795305800000,
  CreateLoggingTables1795305660000,
  CreateLogSeals1795305820000,
  DatabaseGuarantees1795305840000,
  LedgerRunningBalance1795305860000,
  LogPartitions1795305940000,
  SealRuns1795305880000,
  SealReferenceGroups1795305900000,
};
export type { LoggingMigrationsOptions, MigrationClass };

/**
 * The module's migrations, oldest first, under their own names. They must run after the host's
 * migration that creates `firms`, `users` and `cma_projects`, so a host lists them as they are
 * only when that migration's timestamp is older than `1795305660000`; `loggingMigrations({ after })`
 * places them right after it in every case.
 */
export const LOGGING_MIGRATIONS = [
  CreateLoggingTables1795305660000,
  AppendOnlyLogs1795305720000,
  AddLlmUsageLogFirmCreatedAtIndex1795305750000,
  CreateCreditLedger1795305780000,
  CreateDailyRollups1795305800000,
  CreateLogSeals1795305820000,
  DatabaseGuarantees1795305840000,
  LedgerRunningBalance1795305860000,
  SealRuns1795305880000,
  SealReferenceGroups1795305900000,
  AddLlmUsageLogFirmCostIndex1795305920000,
  AddAuditLogFirmCreatedAtIndex1795305930000,
  LogPartitions1795305940000,
];

/**
 * The module's migrations, placed right after the host's migration that creates `firms`, `users`
 * and `cma_projects`, for the host's DataSource `migrations` list. TypeORM runs migrations in the
 * order of the 13-digit timestamp ending their names, whatever the order of the list; the module's
 * names carry the time they were written, so a host migration made later (as
 * `typeorm migration:create` names it: the class name and the current time) would run after them,
 * and the module's first migration would find no `firms`.
 *
 * When `after` is older than `CreateLoggingTables1795305660000`, the result is `LOGGING_MIGRATIONS`
 * as it is. Otherwise each migration is named with `after`'s timestamp plus its position
 * (`CreateLoggingTables1796186709511`, `AppendOnlyLogs1796186709512`, ...) and recorded under that
 * name in the migrations table. The names depend on `after` only, so they are the same on every run
 * and every machine, and a later version of the module adds its new migrations after them. Keep
 * passing the same `after` once the migrations have run: another one renames them, and TypeORM
 * would run them again.
 *
 * @throws Error naming `after` when it is neither a migration class nor a name ending in 13 digits.
 * @example
 * migrations: [
 *   'dist/migrations/*.js',
 *   ...loggingMigrations({ after: 'CreateHostTables1796186709510' }),
 * ],
 */
export function loggingMigrations(
  options: LoggingMigrationsOptions,
): MigrationClass[] {
  return placeMigrationsAfter(LOGGING_MIGRATIONS, options);
}
