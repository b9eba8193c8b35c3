export { AuditLog, LlmUsageLog, LOGGING_ENTITIES } from './entities/index.js';
export {
  CreateLoggingTables1795305660000,
  LOGGING_MIGRATIONS,
} from './migrations/index.js';
export { LoggingModule } from './logging.module.js';
export type {
  LoggingModuleExtras,
  LoggingModuleOptions,
} from './logging.options.js';
export {
  AUDIT_LOG_TABLE,
  COST_USD_PRECISION,
  COST_USD_SCALE,
  LLM_TASK_TYPES,
  LLM_USAGE_LOG_TABLE,
  type LlmTaskType,
} from './logging.constants.js';
