/**
 * `@cma/logging/entities`: the module's entity classes, for hosts that inject their repositories
 * (`@InjectRepository(AuditLog)`), with the table names and the values their checks and enum types
 * accept.
 *
 * @packageDocumentation
 */
import { AuditLog } from './audit-log.entity.js';
import { AuditLogDaily, RetentionHorizon } from './audit-log-daily.entity.js';
import {
  LlmUsageDaily,
  LlmUsageDailyProject,
} from './llm-usage-daily.entity.js';
import { CreditTransaction } from './credit-transaction.entity.js';
import { LlmUsageLog } from './llm-usage-log.entity.js';
import { LogSeal } from './log-seal.entity.js';
import { LogSealRun } from './log-seal-run.entity.js';

export {
  AuditLog,
  AuditLogDaily,
  CreditTransaction,
  LlmUsageDaily,
  LlmUsageDailyProject,
  LlmUsageLog,
  LogSeal,
  LogSealRun,
  RetentionHorizon,
};
export {
  AUDIT_LOG_TABLE,
  CREDIT_FEATURES,
  CREDIT_OPERATIONS,
  CREDIT_TRANSACTION_TABLE,
  type CreditFeature,
  type CreditOperation,
  LLM_TASK_TYPES,
  LLM_USAGE_LOG_TABLE,
  type LlmTaskType,
} from '../core/logging.constants.js';

/** The module's entities, for the host's DataSource `entities` list. */
export const LOGGING_ENTITIES = [
  LlmUsageLog,
  AuditLog,
  CreditTransaction,
  LlmUsageDaily,
  LlmUsageDailyProject,
  AuditLogDaily,
  RetentionHorizon,
  LogSeal,
  LogSealRun,
];
