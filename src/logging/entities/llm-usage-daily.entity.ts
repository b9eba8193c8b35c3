import {
  Check,
  Column,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';
import {
  CMA_PROJECTS_TABLE,
  COST_USD_SCALE,
  FIRMS_TABLE,
  LLM_USAGE_DAILY_PROJECT_TABLE,
  LLM_USAGE_DAILY_TABLE,
  type LlmTaskType,
  ROLLUP_COST_USD_PRECISION,
} from '../core/logging.constants.js';

/** The CHECK of both usage rollups, shared by the entities and the migration. */
export const USAGE_ROLLUP_CHECK =
  'calls >= 0 AND failures >= 0 AND failures <= calls AND input_tokens >= 0 AND output_tokens >= 0 AND cost_usd >= 0';

/** After `firm_id`, `day` (and the project): the columns of the report index. */
const USAGE_REPORT_COLUMNS = [
  'model',
  'taskType',
  'calls',
  'failures',
  'inputTokens',
  'outputTokens',
  'costUsd',
];

/** The columns both usage rollups share. */
abstract class UsageDailyColumns {
  /** The UTC calendar day, `'YYYY-MM-DD'`. */
  @Column({ type: 'date' })
  day: string;

  @Column({ type: 'text' })
  model: string;

  @Column({ name: 'task_type', type: 'text' })
  taskType: LlmTaskType;

  /** Counts and sums arrive as exact decimal strings (bigint, numeric). */
  @Column({ type: 'bigint' })
  calls: string;

  @Column({ type: 'bigint' })
  failures: string;

  @Column({ name: 'input_tokens', type: 'bigint' })
  inputTokens: string;

  @Column({ name: 'output_tokens', type: 'bigint' })
  outputTokens: string;

  @Column({
    name: 'cost_usd',
    type: 'numeric',
    precision: ROLLUP_COST_USD_PRECISION,
    scale: COST_USD_SCALE,
  })
  costUsd: string;

  /** `false` for a delta a trigger inserted, `true` once compaction folded the key's rows. */
  @Column({ type: 'boolean', default: false })
  compacted: boolean;
}

/**
 * The daily usage rollup: per firm, UTC day, model and task type. A key may have several rows
 * (insert-only deltas until compacted): always sum them.
 */
@Entity({ name: LLM_USAGE_DAILY_TABLE })
@Check('chk_llm_usage_daily_sums', USAGE_ROLLUP_CHECK)
// Every column a report reads, so a firm's days are read from the index alone.
@Index('idx_llm_usage_daily_firm_id_day', [
  'firmId',
  'day',
  ...USAGE_REPORT_COLUMNS,
])
@Index('idx_llm_usage_daily_day', ['day'])
@Index('idx_llm_usage_daily_pending', ['compacted'], {
  where: 'NOT compacted',
})
export class LlmUsageDaily extends UsageDailyColumns {
  @PrimaryGeneratedColumn('identity', {
    type: 'bigint',
    generatedIdentity: 'BY DEFAULT',
    primaryKeyConstraintName: 'pk_llm_usage_daily',
  })
  id: string;

  @ForeignKey(FIRMS_TABLE, {
    name: 'fk_llm_usage_daily_firm_id',
    onDelete: 'CASCADE',
  })
  @Column({ name: 'firm_id', type: 'uuid' })
  firmId: string;
}

/**
 * The daily usage rollup per project, of the calls that have one. Deleting a project deletes its
 * rows here (the firm's totals stay in {@link LlmUsageDaily}); usage without a project is the
 * difference of the two.
 */
@Entity({ name: LLM_USAGE_DAILY_PROJECT_TABLE })
@Check('chk_llm_usage_daily_project_sums', USAGE_ROLLUP_CHECK)
@Index('idx_llm_usage_daily_project_firm_id_day', [
  'firmId',
  'day',
  'cmaProjectId',
  ...USAGE_REPORT_COLUMNS,
])
@Index('idx_llm_usage_daily_project_day', ['day'])
@Index('idx_llm_usage_daily_project_pending', ['compacted'], {
  where: 'NOT compacted',
})
export class LlmUsageDailyProject extends UsageDailyColumns {
  @PrimaryGeneratedColumn('identity', {
    type: 'bigint',
    generatedIdentity: 'BY DEFAULT',
    primaryKeyConstraintName: 'pk_llm_usage_daily_project',
  })
  id: string;

  @ForeignKey(FIRMS_TABLE, {
    name: 'fk_llm_usage_daily_project_firm_id',
    onDelete: 'CASCADE',
  })
  @Column({ name: 'firm_id', type: 'uuid' })
  firmId: string;

  @Index('idx_llm_usage_daily_project_cma_project_id')
  @ForeignKey(CMA_PROJECTS_TABLE, {
    name: 'fk_llm_usage_daily_project_cma_project_id',
    onDelete: 'CASCADE',
  })
  @Column({ name: 'cma_project_id', type: 'uuid' })
  cmaProjectId: string;
}
