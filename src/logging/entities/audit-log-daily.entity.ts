import {
  Check,
  Column,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';
import {
  AUDIT_LOG_DAILY_TABLE,
  FIRMS_TABLE,
} from '../core/logging.constants.js';

/**
 * Audit events per firm, UTC day and action, kept by a trigger on `audit_log`. A key may have several
 * rows (insert-only deltas until compacted): always sum them.
 */
@Entity({ name: AUDIT_LOG_DAILY_TABLE })
@Check('chk_audit_log_daily_sums', 'events >= 0')
@Index('idx_audit_log_daily_firm_id_day', ['firmId', 'day', 'action', 'events'])
@Index('idx_audit_log_daily_day', ['day'])
@Index('idx_audit_log_daily_pending', ['compacted'], { where: 'NOT compacted' })
export class AuditLogDaily {
  @PrimaryGeneratedColumn('identity', {
    type: 'bigint',
    generatedIdentity: 'BY DEFAULT',
    primaryKeyConstraintName: 'pk_audit_log_daily',
  })
  id: string;

  @ForeignKey(FIRMS_TABLE, {
    name: 'fk_audit_log_daily_firm_id',
    onDelete: 'CASCADE',
  })
  @Column({ name: 'firm_id', type: 'uuid' })
  firmId: string;

  /** The UTC calendar day, `'YYYY-MM-DD'`. */
  @Column({ type: 'date' })
  day: string;

  @Column({ type: 'text' })
  action: string;

  /** Exact decimal string (bigint). */
  @Column({ type: 'bigint' })
  events: string;

  /** `false` for a delta a trigger inserted, `true` once compaction folded the key's rows. */
  @Column({ type: 'boolean', default: false })
  compacted: boolean;
}

/** How far retention has purged a log: rows created before `purgedBefore` may be gone. */
@Entity({ name: 'logging_retention_horizon' })
export class RetentionHorizon {
  @Column({
    name: 'table_name',
    type: 'text',
    primary: true,
    primaryKeyConstraintName: 'pk_logging_retention_horizon',
  })
  tableName: string;

  @Column({ name: 'purged_before', type: 'timestamptz' })
  purgedBefore: Date;
}
