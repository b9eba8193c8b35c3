import { LLM_USAGE_LOG_TABLE } from '../core/logging.constants.js';
import { costUsdToDecimal } from '../core/validation-rules.js';
import type { LogTable } from '../writer/log-table.js';
import {
  ERROR_MESSAGE_MAX_LENGTH,
  LlmUsageEntryDto,
} from './llm-usage-entry.dto.js';

/** How `llm_usage_log` rows are written by the batched writer. */
export const LLM_USAGE_TABLE: LogTable<LlmUsageEntryDto> = {
  name: LLM_USAGE_LOG_TABLE,
  entryClass: LlmUsageEntryDto,
  columns: [
    ['id', 'uuid'],
    ['firm_id', 'uuid'],
    ['cma_project_id', 'uuid'],
    ['model', 'text'],
    ['task_type', 'text'],
    ['input_tokens', 'int4'],
    ['output_tokens', 'int4'],
    ['cost_usd', 'numeric'],
    ['latency_ms', 'int4'],
    ['success', 'bool'],
    ['error_message', 'text'],
    ['created_at', 'timestamptz'],
  ],
  values: (e, id, createdAt) => [
    id,
    e.firmId,
    e.cmaProjectId ?? null,
    e.model,
    e.taskType,
    e.inputTokens,
    e.outputTokens,
    costUsdToDecimal(e.costUsd),
    e.latencyMs ?? null,
    e.success ?? true,
    e.errorMessage == null
      ? null
      : e.errorMessage.slice(0, ERROR_MESSAGE_MAX_LENGTH),
    createdAt,
  ],
};
