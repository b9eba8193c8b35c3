import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryGeneratedColumn,
  Unique,
} from 'typeorm';
import {
  CREDIT_FEATURE_ENUM,
  CREDIT_FEATURES,
  CREDIT_OPERATION_ENUM,
  CREDIT_OPERATIONS,
  CREDIT_TRANSACTION_TABLE,
  type CreditFeature,
  type CreditOperation,
  USERS_TABLE,
} from '../core/logging.constants.js';

/** The CHECK constraints of `credit_transaction`, shared by the entity and the migration. */
export const CREDIT_TRANSACTION_CHECKS = {
  chk_credit_transaction_amount: 'amount > 0',
  chk_credit_transaction_feature: `(operation = 'grant') = (feature IS NULL)`,
  chk_credit_transaction_refund_of: `(operation = 'refund') = (refund_of IS NOT NULL)`,
  chk_credit_transaction_idempotency_key:
    'char_length(idempotency_key) BETWEEN 1 AND 128',
  // PostgreSQL tests CHECKs in name order: a row of the wrong shape is reported for its shape
  // before the balance it would leave.
  chk_credit_transaction_running_balance: 'balance >= 0',
  chk_credit_transaction_seq: 'seq >= 1',
} as const;

const checks = CREDIT_TRANSACTION_CHECKS;

/**
 * One movement of a user's credits: a grant, a deduct for a feature, or a refund of a deduct.
 * `amount` is a positive magnitude; `operation` gives the direction (grants and refunds add,
 * deducts subtract). Append-only: rows leave only with their user (ON DELETE CASCADE).
 *
 * Beside the seed's columns: `idempotency_key`, the caller's key, unique per user,
 * `refund_of`, the deduct a refund gives back (a refund only), and the running balance the database
 * holds: `seq`, the row's place in its user's ledger (unique per user, each row continuing the one
 * before), and `balance`, the user's balance after the row, never below zero (a trigger checks it
 * against the previous row's; `LedgerRunningBalance1795305860000`).
 */
@Entity({ name: CREDIT_TRANSACTION_TABLE })
@Check('chk_credit_transaction_amount', checks.chk_credit_transaction_amount)
@Check('chk_credit_transaction_feature', checks.chk_credit_transaction_feature)
@Check(
  'chk_credit_transaction_refund_of',
  checks.chk_credit_transaction_refund_of,
)
@Check(
  'chk_credit_transaction_idempotency_key',
  checks.chk_credit_transaction_idempotency_key,
)
@Check(
  'chk_credit_transaction_running_balance',
  checks.chk_credit_transaction_running_balance,
)
@Check('chk_credit_transaction_seq', checks.chk_credit_transaction_seq)
@Unique('uq_credit_transaction_user_id_seq', ['userId', 'seq'])
@Unique('uq_credit_transaction_user_id_idempotency_key', [
  'userId',
  'idempotencyKey',
])
@Index('idx_credit_transaction_user_id_created_at', ['userId', 'createdAt'])
export class CreditTransaction {
  @PrimaryGeneratedColumn('uuid', {
    primaryKeyConstraintName: 'pk_credit_transaction',
  })
  id: string;

  @Index('idx_credit_transaction_user_id')
  @ForeignKey(USERS_TABLE, {
    name: 'fk_credit_transaction_user_id',
    onDelete: 'CASCADE',
  })
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({
    type: 'enum',
    enum: CREDIT_OPERATIONS,
    enumName: CREDIT_OPERATION_ENUM,
  })
  operation: CreditOperation;

  /** The feature paid for; null for grants, required for deducts and refunds. */
  @Column({
    type: 'enum',
    enum: CREDIT_FEATURES,
    enumName: CREDIT_FEATURE_ENUM,
    nullable: true,
  })
  feature: CreditFeature | null;

  /** A positive number of credits; `operation` gives the direction. */
  @Column({ type: 'integer' })
  amount: number;

  /** The deduct a refund gives back; null for grants and deducts. */
  @Index('idx_credit_transaction_refund_of')
  @ForeignKey(CREDIT_TRANSACTION_TABLE, {
    name: 'fk_credit_transaction_refund_of',
  })
  @Column({ name: 'refund_of', type: 'uuid', nullable: true })
  refundOf: string | null;

  /** The caller's key: the same key for the same user records once. */
  @Column({ name: 'idempotency_key', type: 'text' })
  idempotencyKey: string;

  /** References and counts only (the audit metadata policy), never financial data. */
  @Column({ type: 'jsonb', nullable: true })
  metadata: Record<string, unknown> | null;

  @Index('idx_credit_transaction_created_at')
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** The row's place in its user's ledger: 1 for the first, then each row continues the one before. */
  @Column({ type: 'integer' })
  seq: number;

  /** The user's balance after this row, never below zero. An exact decimal string (bigint). */
  @Column({ type: 'bigint' })
  balance: string;
}
