import {
  AUDIT_LOG_TABLE,
  CMA_PROJECTS_TABLE,
  LLM_USAGE_LOG_TABLE,
  USERS_TABLE,
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

/**
 * Versions of the canonical encoding (docs/tamper-evidence.md); each seal records its own in
 * `log_seal.encoding`:
 * - 1: every column of {@link SEAL_COLUMNS} in the row encoding (seals made before encoding 2);
 * - 2: the row encoding leaves out the log's erasable reference ({@link SEAL_REFERENCES}); the seal
 *   commits to it in reference groups instead, so that deleting the referenced row is told apart
 *   from tampering.
 */
export type SealEncoding = 1 | 2;

/** The encoding new seals are made with. */
export const SEAL_ENCODING: SealEncoding = 2;

/**
 * The one column of each log that a foreign key sets to NULL (ON DELETE SET NULL) when the row it
 * references is deleted, and the table it references.
 */
export const SEAL_REFERENCES: Record<
  SealableLog,
  { column: 'user_id' | 'cma_project_id'; table: string }
> = {
  audit_log: { column: 'user_id', table: USERS_TABLE },
  llm_usage_log: { column: 'cma_project_id', table: CMA_PROJECTS_TABLE },
};

/** The columns of `log`'s row encoding under `encoding`, in order. */
export function sealColumns(
  log: SealableLog,
  encoding: SealEncoding,
): readonly [string, Kind][] {
  const columns = SEAL_COLUMNS[log];
  if (encoding === 1) return columns;
  return columns.filter(([column]) => column !== SEAL_REFERENCES[log].column);
}

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

/**
 * One field of the canonical encoding in Node, from its canonical text ({@link canonicalText}, as
 * the client receives it, in UTF-8): `<UTF-8 byte length>:<text>`, `-` for NULL. What
 * `encodingSql` computes in SQL for each column.
 */
export const encodeField = (text: string | null): string =>
  text === null ? '-' : `${Buffer.byteLength(text, 'utf8')}:${text}`;

/**
 * SQL selecting, for row alias `a`, the canonical text of every column of `log`
 * ({@link SEAL_COLUMNS}, the reference included), aliased `f0`, `f1`, … in that order: the
 * database casts, Node encodes ({@link encodeField}, `SealHash.addRow`).
 */
export function canonicalFieldsSql(log: SealableLog): string {
  return SEAL_COLUMNS[log]
    .map(([column, kind], i) => `${canonicalText(column, kind)} AS f${i}`)
    .join(', ');
}

/** The position of `column` in {@link SEAL_COLUMNS} of `log`. */
export function columnIndex(log: SealableLog, column: string): number {
  return SEAL_COLUMNS[log].findIndex(([name]) => name === column);
}

/**
 * Where the rows of {@link canonicalFieldsSql} hold the firm, the id, `created_at` and the erasable
 * reference of `log`.
 */
export function rowPositions(log: SealableLog): {
  firm: number;
  id: number;
  at: number;
  ref: number;
} {
  return {
    firm: columnIndex(log, 'firm_id'),
    id: columnIndex(log, 'id'),
    at: columnIndex(log, 'created_at'),
    ref: columnIndex(log, SEAL_REFERENCES[log].column),
  };
}

/** The positions in {@link SEAL_COLUMNS} of the columns of `log`'s row encoding under `encoding`. */
export function encodingIndexes(
  log: SealableLog,
  encoding: SealEncoding,
): number[] {
  return sealColumns(log, encoding).map(([column]) => columnIndex(log, column));
}

/**
 * The canonical encoding, under `encoding`, of a row of {@link canonicalFieldsSql} read as text
 * (`f0`, `f1`, …).
 */
export function encodeFields(
  log: SealableLog,
  encoding: SealEncoding,
  row: Readonly<Record<string, string | null>>,
): string {
  let encoded = '';
  for (const i of encodingIndexes(log, encoding)) {
    encoded += encodeField(row[`f${i}`]);
  }
  return encoded;
}

/** The digest the first seal of a chain follows: 32 zero bytes. */
export const GENESIS_DIGEST = '0'.repeat(64);
