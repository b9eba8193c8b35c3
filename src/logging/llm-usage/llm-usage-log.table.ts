import { LLM_USAGE_LOG_TABLE } from '../core/logging.constants.js';
import { costUsdToDecimal } from '../core/validation-rules.js';
import type { LogTable } from '../writer/log-table.js';
import { LlmUsageEntryDto } from './llm-usage-entry.dto.js';
import { storedErrorMessage } from './scrub.js';

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
    // every path scrubs here, so one error gives one stored text (track() and record() alike)
    e.errorMessage == null ? null : storedErrorMessage(e.errorMessage, e.model),
    createdAt,
  ],
};
