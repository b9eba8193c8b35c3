import { AuditLog } from './audit-log.entity.js';
import { AuditLogDaily, RetentionHorizon } from './audit-log-daily.entity.js';
import {
  LlmUsageDaily,
  LlmUsageDailyProject,
} from './llm-usage-daily.entity.js';
import { CreditTransaction } from './credit-transaction.entity.js';
import { LlmUsageLog } from './llm-usage-log.entity.js';
import { LogSeal } from './log-seal.entity.js';

export {
  AuditLog,
  AuditLogDaily,
  CreditTransaction,
  LlmUsageDaily,
  LlmUsageDailyProject,
  LlmUsageLog,
  LogSeal,
  RetentionHorizon,
};

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
];
