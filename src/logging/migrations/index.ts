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

/**
 * The module's migrations, oldest first, for the host's DataSource `migrations` list. They must run
 * after the host's migrations that create `firms`, `users` and `cma_projects`.
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
