// The locked write path of the credit ledger: one user's write under a transaction-scoped
// advisory lock, its idempotent replay, and the row mapping the service shares.

import {
  CREDIT_TRANSACTION_TABLE,
  type CreditFeature,
  type CreditOperation,
} from '../core/logging.constants.js';
import { nextMicros, uuidV7 } from '../writer/record-clock.js';
import {
  CreditIdempotencyConflictError,
  CreditRefundError,
  CreditUserNotFoundError,
  InsufficientCreditsError,
} from './credit-ledger.errors.js';
import type {
  CreditTransactionRecord,
  CreditTransactionResult,
} from './credit-ledger.types.js';
import { sameSent } from './sent-digest.js';

export type Query = <T = Record<string, unknown>>(
  sql: string,
  parameters?: unknown[],
) => Promise<T[]>;

export interface Row {
  id: string;
  user_id: string;
  operation: CreditOperation;
  feature: CreditFeature | null;
  amount: number;
  refund_of: string | null;
  idempotency_key: string;
  metadata: Record<string, unknown> | null;
  created_at: Date;
}

/** A write, checked and with its metadata through the policy. */
export interface Write {
  userId: string;
  operation: CreditOperation;
  feature: CreditFeature | null;
  amount: number;
  refundOf: string | null;
  idempotencyKey: string;
  /** JSON text of the metadata to store, or null. */
  metadata: string | null;
  /** Digest of the metadata the caller sent, which a replay must match: see `sentDigest()`. */
  sentDigest: string;
}

export const T = `"${CREDIT_TRANSACTION_TABLE}"`;
export const COLUMNS = `id, user_id, operation, feature, amount, refund_of, idempotency_key, metadata, created_at`;
/** Grants and refunds add, deducts subtract; as text, as bigint sums may exceed 2^53 in theory. */
export const SIGNED_SUM = `coalesce(sum(CASE WHEN operation = 'deduct' THEN -amount::bigint ELSE amount::bigint END), 0)::text`;
/**
 * First key of the two-key advisory lock that serialises one user's ledger writes (the second is
 * the hash of the user id). Two-key locks do not collide with one-key locks.
 */
const LOCK_NAMESPACE = 0x6c656467; // 'ledg'

export async function writeLocked(
  query: Query,
  write: Write,
): Promise<CreditTransactionResult> {
  const { userId } = write;
  await query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    LOCK_NAMESPACE,
    userId,
  ]);
  // After the lock, in a new statement: READ COMMITTED sees every write committed before it.
  const [existing] = await query<Row>(
    `SELECT ${COLUMNS} FROM ${T} WHERE user_id = $1 AND idempotency_key = $2`,
    [userId, write.idempotencyKey],
  );
  if (existing) return replay(query, write, existing);

  const [state] = await query<{ known: boolean; balance: string }>(
    `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS known,
            (SELECT ${SIGNED_SUM} FROM ${T} WHERE user_id = $1) AS balance`,
    [userId],
  );
  if (!state.known) throw new CreditUserNotFoundError(userId);
  const balance = toBalance(state.balance);
  let feature = write.feature;

  if (write.operation === 'deduct' && balance < write.amount) {
    throw new InsufficientCreditsError(userId, balance, write.amount);
  }
  if (write.operation === 'refund') {
    const [deduct] = await query<{
      user_id: string;
      operation: CreditOperation;
      feature: CreditFeature | null;
      amount: number;
      refunded: string;
    }>(
      `SELECT d.user_id, d.operation, d.feature, d.amount,
              (SELECT coalesce(sum(r.amount::bigint), 0)::text
                 FROM ${T} r WHERE r.refund_of = d.id) AS refunded
         FROM ${T} d WHERE d.id = $1`,
      [write.refundOf],
    );
    if (!deduct || deduct.user_id !== userId || deduct.operation !== 'deduct') {
      throw new CreditRefundError(
        'not_a_deduct',
        userId,
        write.refundOf!,
        write.amount,
      );
    }
    const refundable = deduct.amount - Number(deduct.refunded);
    if (write.amount > refundable) {
      throw new CreditRefundError(
        'exceeds_refundable',
        userId,
        write.refundOf!,
        write.amount,
        refundable,
      );
    }
    feature = deduct.feature;
  }

  // clock_timestamp(), not now(): taken under the lock, so one user's rows are in write order;
  // the UUIDv7 id, also taken under the lock, sorts the same way.
  const [row] = await query<Row>(
    `INSERT INTO ${T} (id, user_id, operation, feature, amount, refund_of, idempotency_key, metadata, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, clock_timestamp())
     RETURNING ${COLUMNS}`,
    [
      uuidV7(nextMicros()),
      userId,
      write.operation,
      feature,
      write.amount,
      write.refundOf,
      write.idempotencyKey,
      write.metadata,
    ],
  );
  const signed = write.operation === 'deduct' ? -write.amount : write.amount;
  return { ...toRecord(row), balance: balance + signed };
}

/** The key was used before: the same call gets the first result, another call a conflict. */
async function replay(
  query: Query,
  write: Write,
  existing: Row,
): Promise<CreditTransactionResult> {
  const differs: string[] = [];
  if (existing.operation !== write.operation) differs.push('operation');
  if (write.operation === 'deduct' && existing.feature !== write.feature) {
    differs.push('feature');
  }
  if (existing.amount !== write.amount) differs.push('amount');
  if (existing.refund_of !== write.refundOf) differs.push('deductId');
  if (!sameSent(existing.metadata, write.metadata, write.sentDigest)) {
    differs.push('metadata');
  }
  if (differs.length > 0) {
    throw new CreditIdempotencyConflictError(
      write.userId,
      write.idempotencyKey,
      existing.id,
      differs,
    );
  }
  // The balance right after the first call: one user's rows are in write order.
  const [{ balance }] = await query<{ balance: string }>(
    `SELECT ${SIGNED_SUM} AS balance FROM ${T}
      WHERE user_id = $1
        AND (created_at, id) <= (SELECT created_at, id FROM ${T} WHERE id = $2)`,
    [write.userId, existing.id],
  );
  return { ...toRecord(existing), balance: toBalance(balance) };
}

/** A missing user's foreign-key error as `CreditUserNotFoundError`; anything else as it is. */
export function knownError(error: unknown, write: Write): unknown {
  const { code, constraint } = error as {
    code?: string;
    constraint?: string;
  };
  return code === '23503' && constraint === 'fk_credit_transaction_user_id'
    ? new CreditUserNotFoundError(write.userId)
    : error;
}

export function toRecord(row: Row): CreditTransactionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    operation: row.operation,
    feature: row.feature,
    amount: row.amount,
    refundOf: row.refund_of,
    idempotencyKey: row.idempotency_key,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}

export function toBalance(text: string): number {
  const balance = Number(text);
  if (!Number.isSafeInteger(balance)) {
    throw new RangeError(
      `${CREDIT_TRANSACTION_TABLE}: the balance ${text} is beyond Number.MAX_SAFE_INTEGER`,
    );
  }
  return balance;
}
