import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';
import {
  CMA_PROJECTS_TABLE,
  COST_USD_PRECISION,
  COST_USD_SCALE,
  FIRMS_TABLE,
  LLM_TASK_TYPES,
  LLM_USAGE_LOG_TABLE,
  type LlmTaskType,
} from '../core/logging.constants.js';

const TASK_TYPE_CHECK = `task_type IN (${LLM_TASK_TYPES.map((t) => `'${t}'`).join(', ')})`;

/**
 * One row per LLM API call: model, task type, tokens, exact cost in USD, latency and outcome.
 *
 * `costUsd` is NUMERIC(10,6) and reaches JavaScript as an exact decimal string (`'0.000124'`), never
 * a float. Columns the table spec does not mark NOT NULL are nullable, `success` and `createdAt`
 * included (they have defaults).
 */
@Entity({ name: LLM_USAGE_LOG_TABLE })
// Beyond the spec's three: a firm's rows of a date range, for the usage reports.
@Index('idx_llm_usage_log_firm_id_created_at', ['firmId', 'createdAt'])
// The order of the most expensive calls: (firm_id, cost_usd DESC, created_at DESC NULLS LAST, id
// DESC) in the migration; TypeORM compares an index's columns, not their directions.
@Index('idx_llm_usage_log_firm_id_cost_usd', [
  'firmId',
  'costUsd',
  'createdAt',
  'id',
])
@Check('chk_llm_usage_log_task_type', TASK_TYPE_CHECK)
export class LlmUsageLog {
  @PrimaryGeneratedColumn('uuid', {
    primaryKeyConstraintName: 'pk_llm_usage_log',
  })
  id: string;

  @Index('idx_llm_usage_log_firm_id')
  @ForeignKey(FIRMS_TABLE, {
    name: 'fk_llm_usage_log_firm_id',
    onDelete: 'CASCADE',
  })
  @Column({ name: 'firm_id', type: 'uuid' })
  firmId: string;

  @Index('idx_llm_usage_log_cma_project_id')
  @ForeignKey(CMA_PROJECTS_TABLE, {
    name: 'fk_llm_usage_log_cma_project_id',
    onDelete: 'SET NULL',
  })
  @Column({ name: 'cma_project_id', type: 'uuid', nullable: true })
  cmaProjectId: string | null;

  /** e.g. `gemini-2.0-flash`, `gemini-3-flash`, `gemini-3.1-pro`. */
  @Column({ type: 'text' })
  model: string;

  @Column({ name: 'task_type', type: 'text' })
  taskType: LlmTaskType;

  @Column({ name: 'input_tokens', type: 'integer' })
  inputTokens: number;

  @Column({ name: 'output_tokens', type: 'integer' })
  outputTokens: number;

  /** Exact decimal string with up to 6 fractional digits, e.g. `'0.000124'`. */
  @Column({
    name: 'cost_usd',
    type: 'numeric',
    precision: COST_USD_PRECISION,
    scale: COST_USD_SCALE,
  })
  costUsd: string;

  @Column({ name: 'latency_ms', type: 'integer', nullable: true })
  latencyMs: number | null;

  @Column({ type: 'boolean', nullable: true, default: true })
  success: boolean | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  @Index('idx_llm_usage_log_created_at')
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', nullable: true })
  createdAt: Date | null;
}
