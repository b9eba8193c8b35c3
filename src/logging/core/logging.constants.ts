/** Largest `metadata` an audit or ledger row accepts, as JSON text. */
export const AUDIT_METADATA_MAX_BYTES = 8192;
/**
 * Largest metadata the metadata policy lets through: {@link AUDIT_METADATA_MAX_BYTES} less 512 bytes
 * kept for the keys the module adds itself (`outcome`, `requestId`, `errorClass`, `status`).
 */
export const METADATA_POLICY_MAX_BYTES = AUDIT_METADATA_MAX_BYTES - 512;

/** Table name of the LLM usage log, as the migration creates it. */
export const LLM_USAGE_LOG_TABLE = 'llm_usage_log';
/** Table name of the audit trail, as the migration creates it. */
export const AUDIT_LOG_TABLE = 'audit_log';

/** The daily rollups of the logs, kept by triggers in the same transaction as the raw rows. */
export const LLM_USAGE_DAILY_TABLE = 'llm_usage_daily';
export const LLM_USAGE_DAILY_PROJECT_TABLE = 'llm_usage_daily_project';
export const AUDIT_LOG_DAILY_TABLE = 'audit_log_daily';
/** How far retention has purged each log: rollups are rebuilt and reconciled only after it. */
export const RETENTION_HORIZON_TABLE = 'logging_retention_horizon';
/** `cost_usd` of the usage rollups: NUMERIC(20,6), up to 10^14 USD summed exactly. */
export const ROLLUP_COST_USD_PRECISION = 20;

/**
 * Tables of the host application that the logs reference. The host registers entities for them in its
 * DataSource; the logging entities point at them by table name and never import host code.
 */
export const FIRMS_TABLE = 'firms';
export const USERS_TABLE = 'users';
export const CMA_PROJECTS_TABLE = 'cma_projects';

/** The four task types the `task_type` CHECK of `llm_usage_log` accepts. */
export const LLM_TASK_TYPES = [
  'extraction',
  'classification',
  'validation',
  'fallback',
] as const;

/** One of {@link LLM_TASK_TYPES}. */
export type LlmTaskType = (typeof LLM_TASK_TYPES)[number];

/** `cost_usd` is NUMERIC(10,6): at most 4 integer digits and 6 fractional digits. */
export const COST_USD_PRECISION = 10;
export const COST_USD_SCALE = 6;

/** Injection token of the host DataSource the logs are written to. */
export const LOGGING_DATA_SOURCE = Symbol('LOGGING_DATA_SOURCE');

/** Table of the credit ledger. */
export const CREDIT_TRANSACTION_TABLE = 'credit_transaction';

/** The operations of the credit ledger: PostgreSQL enum type `credit_operation_type`. */
export const CREDIT_OPERATIONS = ['deduct', 'refund', 'grant'] as const;

/** One of {@link CREDIT_OPERATIONS}. */
export type CreditOperation = (typeof CREDIT_OPERATIONS)[number];

/** The features credits pay for: PostgreSQL enum type `credit_feature_type`. */
export const CREDIT_FEATURES = [
  'document_generation',
  'workstream_clustering',
  'chat_tool_call',
  'chat_message',
] as const;

/** One of {@link CREDIT_FEATURES}. */
export type CreditFeature = (typeof CREDIT_FEATURES)[number];

/** Names of the ledger's PostgreSQL enum types. */
export const CREDIT_OPERATION_ENUM = 'credit_operation_type';
export const CREDIT_FEATURE_ENUM = 'credit_feature_type';

/**
 * Injection tokens of each feature's slice of the module options, resolved with their defaults
 * by `LoggingModule` from the root options. A feature's services inject their own slice only.
 */
export const WRITER_OPTIONS = Symbol('LOGGING_WRITER_OPTIONS');
export const AUDIT_OPTIONS = Symbol('LOGGING_AUDIT_OPTIONS');
export const PRICING_OPTIONS = Symbol('LOGGING_PRICING_OPTIONS');
export const LEDGER_OPTIONS = Symbol('LOGGING_LEDGER_OPTIONS');
export const TELEMETRY_OPTIONS = Symbol('LOGGING_TELEMETRY_OPTIONS');
export const ROLLUP_OPTIONS = Symbol('LOGGING_ROLLUP_OPTIONS');
export const SEAL_OPTIONS = Symbol('LOGGING_SEAL_OPTIONS');
export const DATABASE_OPTIONS = Symbol('LOGGING_DATABASE_OPTIONS');
export const PARTITION_OPTIONS = Symbol('LOGGING_PARTITION_OPTIONS');
/** What retiring a month asks of its archive (`MonthArchiveCheck`): the archives' service. */
export const MONTH_ARCHIVE_CHECK = Symbol('LOGGING_MONTH_ARCHIVE_CHECK');
/** The module's keyed digests (`LogDigests`), under the root option `digestKey`. */
export const LOG_DIGESTS = Symbol('LOGGING_LOG_DIGESTS');
