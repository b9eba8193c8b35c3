import type { AuditLogEntryDto } from '../audit/audit-log-entry.js';
import type { LlmUsageEntryDto } from '../llm-usage/llm-usage-entry.js';
import { ERROR_MESSAGE_MAX_LENGTH } from '../llm-usage/llm-usage-entry.js';
import { AUDIT_LOG_TABLE, LLM_USAGE_LOG_TABLE } from '../logging.constants.js';
import { costUsdToDecimal } from '../validation/rules.js';

/**
 * How rows of one log table are written: its columns with the PostgreSQL type of each, and the
 * function that turns a validated entry into the column values. One statement inserts a whole batch:
 *
 *   INSERT INTO t (a, b, ...) SELECT * FROM unnest($1::uuid[], $2::text[], ...)
 *   ON CONFLICT (id) DO NOTHING
 *
 * Its text and parameter count do not depend on the batch size. Ids are made by the writer, so a
 * batch retried after a lost commit acknowledgement cannot insert a row twice; they are UUIDv7 taken
 * with `created_at` from one clock reading (record-clock.ts), so ids sort in record order.
 */
export interface LogTable<Entry> {
  readonly name: string;
  readonly columns: readonly (readonly [name: string, type: string])[];
  /**
   * Column values in `columns` order; `id` (a UUIDv7) and `created_at` (an ISO 8601 string to the
   * microsecond) come from the writer's record clock.
   */
  values(entry: Entry, id: string, createdAt: string): unknown[];
}

export function insertStatement(table: LogTable<unknown>): string {
  const names = table.columns.map(([name]) => `"${name}"`).join(', ');
  const arrays = table.columns
    .map(([, type], i) => `$${i + 1}::${type}[]`)
    .join(', ');
  return (
    `INSERT INTO "${table.name}" (${names}) SELECT * FROM unnest(${arrays})` +
    ` ON CONFLICT ("id") DO NOTHING`
  );
}

/** Column-major parameters for {@link insertStatement}: one array per column. */
export function columnArrays(rows: readonly unknown[][], width: number) {
  const arrays: unknown[][] = Array.from(
    { length: width },
    () => new Array<unknown>(rows.length),
  );
  rows.forEach((row, r) => {
    for (let c = 0; c < width; c++) arrays[c][r] = row[c];
  });
  return arrays;
}

export const LLM_USAGE_TABLE: LogTable<LlmUsageEntryDto> = {
  name: LLM_USAGE_LOG_TABLE,
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

export const AUDIT_TABLE: LogTable<AuditLogEntryDto> = {
  name: AUDIT_LOG_TABLE,
  columns: [
    ['id', 'uuid'],
    ['firm_id', 'uuid'],
    ['user_id', 'uuid'],
    ['action', 'text'],
    ['entity_type', 'text'],
    ['entity_id', 'uuid'],
    ['metadata', 'jsonb'],
    ['ip_address', 'text'],
    ['created_at', 'timestamptz'],
  ],
  values: (e, id, createdAt) => [
    id,
    e.firmId,
    e.userId ?? null,
    e.action,
    e.entityType,
    e.entityId ?? null,
    e.metadata == null ? null : JSON.stringify(e.metadata),
    e.ipAddress ?? null,
    createdAt,
  ],
};
