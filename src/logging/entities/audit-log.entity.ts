import {
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';
import {
  AUDIT_LOG_TABLE,
  FIRMS_TABLE,
  USERS_TABLE,
} from '../core/logging.constants.js';

/**
 * One row per auditable action (`create_project`, `upload_file`, `run_extraction`,
 * `resolve_review`, `download_cma`, ...): who, which firm, what entity, from which IP.
 *
 * `metadata` holds references and counts only, never financial data.
 */
@Entity({ name: AUDIT_LOG_TABLE })
// Beyond the spec's three: a firm's trail, newest first.
@Index('idx_audit_log_firm_id_created_at', ['firmId', 'createdAt'])
export class AuditLog {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_audit_log' })
  id: string;

  @Index('idx_audit_log_firm_id')
  @ForeignKey(FIRMS_TABLE, {
    name: 'fk_audit_log_firm_id',
    onDelete: 'CASCADE',
  })
  @Column({ name: 'firm_id', type: 'uuid' })
  firmId: string;

  @ForeignKey(USERS_TABLE, {
    name: 'fk_audit_log_user_id',
    onDelete: 'SET NULL',
  })
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  /** e.g. `create_project`, `upload_file`, `run_extraction`, `resolve_review`, `download_cma`. */
  @Index('idx_audit_log_action')
  @Column({ type: 'text' })
  action: string;

  /** e.g. `cma_project`, `uploaded_file`, `review_item`, `generated_file`. */
  @Column({ name: 'entity_type', type: 'text' })
  entityType: string;

  @Column({ name: 'entity_id', type: 'uuid', nullable: true })
  entityId: string | null;

  @Column({ type: 'jsonb', nullable: true })
  metadata: Record<string, unknown> | null;

  @Column({ name: 'ip_address', type: 'text', nullable: true })
  ipAddress: string | null;

  @Index('idx_audit_log_created_at')
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', nullable: true })
  createdAt: Date | null;
}
