// The locked write path of the credit ledger: one user's write under a transaction-scoped
// advisory lock, continuing the user's running balance, its idempotent replay, the database's
// refusals as the ledger's errors, and the row mapping the service shares.

import {
  CREDIT_TRANSACTION_TABLE,
  type CreditFeature,
  type CreditOperation,
} from '../core/logging.constants.js';
import { nextMicros, uuidV7 } from '../writer/record-clock.js';
import {
  CreditIdempotencyConflictError,
  CreditRefundError,
  CreditSnapshotConflictError,
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

/** A row with the user's balance after it (bigint, as text). */
interface BalanceRow extends Row {
  balance: string;
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
/** The user's balance after the row, as text: bigint sums may exceed 2^53 in theory. */
const WITH_BALANCE = `${COLUMNS}, balance::text AS balance`;
/** The user's last row: its place and the balance it left (none for a user without rows). */
export const HEAD_SQL = `SELECT seq, balance::text AS balance FROM ${T} WHERE user_id = $1 ORDER BY seq DESC LIMIT 1`;
/**
 * First key of the two-key advisory lock that serialises one user's ledger writes (the second is
 * the hash of the user id). Two-key locks do not collide with one-key locks.
 */
const LOCK_NAMESPACE = 0x6c656467; // 'ledg'

/**
 * Records `write` in the transaction `query` runs in, under the user's lock. The database refusing
 * the row because the user's ledger changed after this transaction read it (its snapshot predates
 * the lock, or a writer bypassed the lock) is a `CreditSnapshotConflictError`; nothing is written.
 */
export async function writeLocked(
  query: Query,
  write: Write,
): Promise<CreditTransactionResult> {
  const [{ isolation }] = await query<{ isolation: string }>(
    `SELECT current_setting('transaction_isolation') AS isolation
       FROM pg_advisory_xact_lock($1, hashtext($2))`,
    [LOCK_NAMESPACE, write.userId],
  );
  try {
    return await checkAndInsert(query, write);
  } catch (error) {
    throw knownError(error, write, isolation);
  }
}

async function checkAndInsert(
  query: Query,
  write: Write,
): Promise<CreditTransactionResult> {
  const { userId } = write;
  // After the lock, in a new statement: READ COMMITTED sees every write committed before it. A
  // REPEATABLE READ or SERIALIZABLE snapshot may be older: then the row continues a stale head and
  // the unique (user_id, seq) refuses it.
  const [existing] = await query<BalanceRow>(
    `SELECT ${WITH_BALANCE} FROM ${T} WHERE user_id = $1 AND idempotency_key = $2`,
    [userId, write.idempotencyKey],
  );
  if (existing) return replay(write, existing);

  const [state] = await query<{
    known: boolean;
    seq: number | null;
    balance: string | null;
  }>(
    `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS known, head.seq, head.balance
       FROM (SELECT 1) one LEFT JOIN (${HEAD_SQL}) head ON true`,
    [userId],
  );
  if (!state.known) throw new CreditUserNotFoundError(userId);
  const balance = state.balance === null ? 0 : toBalance(state.balance);
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
  // the UUIDv7 id, also taken under the lock, sorts the same way. The database checks seq and
  // balance against the user's previous row (trigger) and refuses a balance below zero (CHECK).
  const signed = write.operation === 'deduct' ? -write.amount : write.amount;
  const [row] = await query<BalanceRow>(
    `INSERT INTO ${T} (id, user_id, operation, feature, amount, refund_of, idempotency_key, metadata, created_at, seq, balance)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, clock_timestamp(), $9, $10)
     RETURNING ${WITH_BALANCE}`,
    [
      uuidV7(nextMicros()),
      userId,
      write.operation,
      feature,
      write.amount,
      write.refundOf,
      write.idempotencyKey,
      write.metadata,
      (state.seq ?? 0) + 1,
      String(balance + signed),
    ],
  );
  return { ...toRecord(row), balance: toBalance(row.balance) };
}

/** The key was used before: the same call gets the first result, another call a conflict. */
function replay(write: Write, existing: BalanceRow): CreditTransactionResult {
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
  // The balance right after the first call, as the database holds it.
  return { ...toRecord(existing), balance: toBalance(existing.balance) };
}

/** Unique keys a stale write runs into: the user's next place, or an idempotency key. */
const RACED = [
  'uq_credit_transaction_user_id_seq',
  'uq_credit_transaction_user_id_idempotency_key',
];

/**
 * The database's refusals as the ledger's errors: a missing user's foreign-key error as
 * `CreditUserNotFoundError`; a unique violation of a key under the lock, or a serialization
 * failure, as `CreditSnapshotConflictError`; anything else as it is.
 */
function knownError(error: unknown, write: Write, isolation: string): unknown {
  const { code, constraint } = error as {
    code?: string;
    constraint?: string;
  };
  if (code === '23503' && constraint === 'fk_credit_transaction_user_id') {
    return new CreditUserNotFoundError(write.userId);
  }
  if (
    code === '40001' ||
    (code === '23505' && RACED.includes(constraint ?? ''))
  ) {
    return new CreditSnapshotConflictError(
      write.userId,
      write.operation,
      isolation,
      error,
    );
  }
  return error;
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
