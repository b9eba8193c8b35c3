export {
  AuditLog,
  CreditTransaction,
  LlmUsageLog,
  LOGGING_ENTITIES,
} from './entities/index.js';
export {
  AppendOnlyLogs1795305720000,
  AddLlmUsageLogFirmCreatedAtIndex1795305750000,
  CreateCreditLedger1795305780000,
  CreateLoggingTables1795305660000,
  LOGGING_MIGRATIONS,
} from './migrations/index.js';
export {
  LogRetention,
  LogRetentionError,
  type LogTableName,
  type PurgeOptions,
} from './retention/log-retention.service.js';
export { LoggingModule } from './logging.module.js';
export type {
  LoggingModuleExtras,
  LoggingModuleOptions,
} from './logging.options.js';
export {
  type LoggingTelemetryOptions,
  TELEMETRY_ATTRIBUTES,
} from './core/telemetry.options.js';
export {
  AUDIT_LOG_TABLE,
  COST_USD_PRECISION,
  CREDIT_FEATURE_ENUM,
  CREDIT_FEATURES,
  CREDIT_OPERATION_ENUM,
  CREDIT_OPERATIONS,
  CREDIT_TRANSACTION_TABLE,
  type CreditFeature,
  type CreditOperation,
  COST_USD_SCALE,
  LLM_TASK_TYPES,
  LLM_USAGE_LOG_TABLE,
  type LlmTaskType,
} from './core/logging.constants.js';
export { AuditLogService } from './audit/audit-log.service.js';
export { type AuditContext, auditContext } from './audit/audit-context.js';
export {
  Audit,
  type AuditArgs,
  type AuditDecoratorOptions,
  type AuditEntityIdSource,
  SkipAudit,
} from './audit/audit.decorator.js';
export { AuditInterceptor } from './audit/audit.interceptor.js';
export {
  AUDIT_TRAIL_DEFAULT_LIMIT,
  AUDIT_TRAIL_MAX_LIMIT,
  AuditTrail,
  type AuditTrailEntry,
  type AuditTrailPage,
  type AuditTrailQuery,
  AuditTrailQueryError,
} from './audit/audit-trail.service.js';
export { anonymizeIp } from './audit/ip-address.js';
export {
  AuditConfigurationError,
  AuditWriteError,
} from './audit/audit.errors.js';
export {
  type AuditActor,
  type AuditActorResolver,
  type AuditOptions,
  type AuditRequest,
  type AuditStats,
  type AuditWriteErrorPolicy,
  defaultActorResolver,
  type MissingFirmPolicy,
} from './audit/audit.options.js';
export {
  AuditMetadataError,
  DENIED_KEY_WORDS,
  METADATA_POLICY_DEFAULTS,
  type MetadataDrop,
  type MetadataPolicyOptions,
  type MetadataRule,
  sanitizeMetadata,
} from './audit/metadata-policy.js';
export {
  AUDIT_METADATA_MAX_BYTES,
  type AuditLogEntry,
} from './audit/audit-log-entry.js';
export {
  type LlmTrackMeta,
  type LlmTrackOutcome,
  LlmUsageService,
  type LlmUsageStats,
} from './llm-usage/llm-usage.service.js';
export {
  computeCostUsd,
  costMicros,
  formatMicros,
  LlmCostError,
  type LlmUsage,
  parsePrice,
  PRICE_FRACTION_DIGITS,
} from './llm-usage/cost.js';
export {
  GEMINI_PRICING_SOURCE,
  LONG_CONTEXT_THRESHOLD,
  MODEL_ALIASES,
  MODEL_PRICES,
  type ModelPrice,
  normalizeModelName,
  PRICES_CHECKED_ON,
  type PriceTier,
  type TokenPrices,
} from './llm-usage/model-prices.js';
export {
  ModelPricing,
  type PricingOptions,
  type ResolvedModelPrice,
} from './llm-usage/model-pricing.js';
export {
  LlmUsageRecordError,
  UnknownModelError,
} from './llm-usage/llm-usage.errors.js';
export {
  type GeminiUsageMetadata,
  type OpenAIUsage,
  usageFromGemini,
  usageFromOpenAI,
} from './llm-usage/provider-usage.js';
export {
  describeError,
  scrubSecrets,
  TRACK_ERROR_MESSAGE_MAX_LENGTH,
} from './llm-usage/scrub.js';
export {
  type ExpensiveCall,
  type ExpensiveCallsQuery,
  LlmUsageReports,
  MOST_EXPENSIVE_DEFAULT_LIMIT,
  MOST_EXPENSIVE_MAX_LIMIT,
  type ReportInstant,
  USAGE_REPORT_GROUPS,
  type UsageReportGroup,
  UsageReportQueryError,
  type UsageSummaryQuery,
  type UsageSummaryRow,
} from './llm-usage/llm-usage-reports.service.js';
export {
  ERROR_MESSAGE_MAX_LENGTH,
  type LlmUsageEntry,
} from './llm-usage/llm-usage-entry.js';
export {
  type EntryViolation,
  LogEntryValidationError,
  LogQueryError,
} from './core/entry-validation.js';
export {
  LogWriterService,
  type RecordOptions,
} from './writer/log-writer.service.js';
export {
  LogBufferFullError,
  LogWriteError,
  LogWriterClosedError,
} from './writer/writer.errors.js';
export {
  type Durability,
  type FullBufferPolicy,
  type LogWriterOptions,
  type LogWriterStats,
  WRITER_DEFAULTS,
} from './writer/writer.options.js';
export { CreditLedgerService } from './ledger/credit-ledger.service.js';
export {
  CREDIT_HISTORY_DEFAULT_LIMIT,
  CREDIT_HISTORY_MAX_LIMIT,
  type CreditDeductInput,
  type CreditGrantInput,
  type CreditHistoryOptions,
  type CreditHistoryPage,
  type CreditRefundInput,
  type CreditTransactionRecord,
  type CreditTransactionResult,
  type CreditWriteOptions,
  type CreditWriteInput,
  IDEMPOTENCY_KEY_PATTERN,
} from './ledger/credit-ledger.types.js';
export {
  CreditIdempotencyConflictError,
  CreditLedgerError,
  type CreditRefundRefusal,
  CreditRefundError,
  CreditUserNotFoundError,
  InsufficientCreditsError,
} from './ledger/credit-ledger.errors.js';
