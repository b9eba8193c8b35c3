import { AuditLog } from './audit-log.entity.js';
import { CreditTransaction } from './credit-transaction.entity.js';
import { LlmUsageLog } from './llm-usage-log.entity.js';
import { LogSeal } from './log-seal.entity.js';

export { AuditLog, CreditTransaction, LlmUsageLog, LogSeal };

/** The module's entities, for the host's DataSource `entities` list. */
export const LOGGING_ENTITIES = [
  LlmUsageLog,
  AuditLog,
  CreditTransaction,
  LogSeal,
];
