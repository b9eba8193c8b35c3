/**
 * `@cma/logging`: what a host app imports. Price data and cost helpers are at
 * `@cma/logging/pricing`, the entity classes and table constants at `@cma/logging/entities`, the
 * migration classes at `@cma/logging/migrations`, the partitioned layout of the logs at
 * `@cma/logging/partitions`. The list of exports of each entry point is recorded in `api/` and
 * checked by the tests.
 *
 * @packageDocumentation
 */

// The module and its options (a feature's options are `LoggingModuleOptions['audit']` and so on)
export { LoggingModule } from './logging.module.js';
export type {
  LoggingModuleExtras,
  LoggingModuleOptions,
} from './logging.options.js';
export type { AuditActor } from './audit/audit.options.js';
export {
  type LoggingTelemetryOptions,
  TELEMETRY_ATTRIBUTES,
} from './core/telemetry.options.js';

// Schema, for the host's DataSource
export { LOGGING_ENTITIES } from './entities/index.js';
// (its options type, `LoggingMigrationsOptions`, is at `@cma/logging/migrations`)
export { LOGGING_MIGRATIONS, loggingMigrations } from './migrations/index.js';

// Auditing controller actions
export {
  Audit,
  type AuditDecoratorOptions,
  SkipAudit,
} from './audit/audit.decorator.js';
export { AuditInterceptor } from './audit/audit.interceptor.js';
export { auditContext } from './core/audit-context.js';

// Services
export { AuditLogService } from './audit/audit-log.service.js';
export {
  type AuditTrailEntry,
  AuditTrailService,
  type AuditTrailPage,
  type AuditTrailQuery,
} from './audit/audit-trail.service.js';
export { LlmUsageService } from './llm-usage/llm-usage.service.js';
export type { LlmTrackMeta } from './llm-usage/llm-track.js';
export {
  type ExpensiveCall,
  type ExpensiveCallsQuery,
  LlmUsageReportService,
  type UsageSummaryQuery,
  type UsageSummaryRow,
} from './llm-usage/llm-usage-report.service.js';
export { ModelPricingService } from './llm-usage/model-pricing.service.js';
export { LogRetentionService } from './retention/log-retention.service.js';
export {
  LogWriterService,
  type RecordOptions,
} from './writer/log-writer.service.js';
export { CreditLedgerService } from './ledger/credit-ledger.service.js';
export { UsageRollupService } from './rollups/usage-rollup.service.js';
export { AuditSealService } from './seals/audit-seal.service.js';

// Entries, inputs and results
export type { AuditLogEntry } from './audit/audit-log-entry.dto.js';
export type { LlmUsageEntry } from './llm-usage/llm-usage-entry.dto.js';
export type { LlmUsage } from './llm-usage/cost.js';
export {
  usageFromGemini,
  usageFromOpenAI,
} from './llm-usage/provider-usage.js';
export type {
  CreditDeductInput,
  CreditGrantInput,
  CreditHistoryPage,
  CreditRefundInput,
  CreditTransactionResult,
} from './ledger/credit-ledger.types.js';

// Errors
// Query errors of AuditTrailService, LlmUsageReportService and UsageRollupService are LogQueryErrors.
export {
  LogEntryValidationError,
  LogQueryError,
} from './core/entry-validation.js';
export {
  LogBufferFullError,
  LogStatementTimeoutError,
  LogWriteError,
  LogWriterClosedError,
} from './writer/writer.errors.js';
export {
  AuditConfigurationError,
  AuditWriteError,
} from './audit/audit.errors.js';
export { AuditMetadataError } from './core/metadata-policy.js';
export { LlmCostError } from './llm-usage/cost.js';
export {
  LlmUsageRecordError,
  UnknownModelError,
} from './llm-usage/llm-usage.errors.js';
export { LogRetentionError } from './retention/log-retention.service.js';
export { RollupRetentionError } from './rollups/usage-rollup.types.js';
export {
  CreditIdempotencyConflictError,
  CreditLedgerError,
  CreditRefundError,
  CreditSnapshotConflictError,
  CreditUserNotFoundError,
  InsufficientCreditsError,
} from './ledger/credit-ledger.errors.js';
