import {
  AUDIT_LOG_TABLE,
  LLM_USAGE_LOG_TABLE,
} from '../core/logging.constants.js';

/** The logs that can be sealed. */
export const SEALABLE_LOGS = [AUDIT_LOG_TABLE, LLM_USAGE_LOG_TABLE] as const;

/** One of {@link SEALABLE_LOGS}. */
export type SealableLog = (typeof SEALABLE_LOGS)[number];

/** How a column is written in the canonical encoding (docs/tamper-evidence.md). */
export type Kind =
  'uuid' | 'text' | 'integer' | 'numeric' | 'boolean' | 'jsonb' | 'instant';

/**
 * Every column of each log, in encoding order. The order is part of the digest: never reorder,
 * only append (and document) columns a later version adds.
 */
export const SEAL_COLUMNS: Record<SealableLog, readonly [string, Kind][]> = {
  audit_log: [
    ['id', 'uuid'],
    ['firm_id', 'uuid'],
    ['user_id', 'uuid'],
    ['action', 'text'],
    ['entity_type', 'text'],
    ['entity_id', 'uuid'],
    ['metadata', 'jsonb'],
    ['ip_address', 'text'],
    ['created_at', 'instant'],
  ],
  llm_usage_log: [
    ['id', 'uuid'],
    ['firm_id', 'uuid'],
    ['cma_project_id', 'uuid'],
    ['model', 'text'],
    ['task_type', 'text'],
    ['input_tokens', 'integer'],
    ['output_tokens', 'integer'],
    ['cost_usd', 'numeric'],
    ['latency_ms', 'integer'],
    ['success', 'boolean'],
    ['error_message', 'text'],
    ['created_at', 'instant'],
  ],
};

/** SQL of the canonical text of column `column` of row alias `a`. */
export function canonicalText(column: string, kind: Kind): string {
  const c = `a.${column}`;
  switch (kind) {
    case 'instant':
      // microseconds since 1970-01-01T00:00:00Z, as a decimal integer
      return `(extract(epoch FROM ${c}) * 1000000)::bigint::text`;
    case 'boolean':
      return `CASE WHEN ${c} THEN 'true' WHEN NOT ${c} THEN 'false' END`;
    default:
      // uuid: lower-case hex with dashes; integer and numeric: as stored (cost_usd keeps its 6
      // decimals); jsonb: PostgreSQL's jsonb text (keys by length then bytes, ", " and ": ")
      return `${c}::text`;
  }
}

/** The digest the first seal of a chain follows: 32 zero bytes. */
export const GENESIS_DIGEST = '0'.repeat(64);
