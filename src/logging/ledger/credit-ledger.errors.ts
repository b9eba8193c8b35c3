import type { CreditOperation } from '../core/logging.constants.js';

/** A credit ledger call was refused; nothing was written. */
export class CreditLedgerError extends Error {
  override readonly name: string = 'CreditLedgerError';
}

/** A deduct would take the user's balance below zero; nothing was written. */
export class InsufficientCreditsError extends CreditLedgerError {
  override readonly name = 'InsufficientCreditsError';

  constructor(
    readonly userId: string,
    /** The balance when the deduct was refused. */
    readonly balance: number,
    /** The credits the deduct asked for. */
    readonly amount: number,
  ) {
    super(
      `credit_transaction: user ${userId} has ${balance} credit(s), a deduct of ${amount} was refused`,
    );
  }
}

/**
 * The idempotency key was already used by this user for a call with other arguments; nothing was
 * written. `fields` names the arguments that differ, never their values.
 */
export class CreditIdempotencyConflictError extends CreditLedgerError {
  override readonly name = 'CreditIdempotencyConflictError';

  constructor(
    readonly userId: string,
    readonly idempotencyKey: string,
    /** The id of the transaction the key recorded first. */
    readonly transactionId: string,
    readonly fields: readonly string[],
  ) {
    super(
      `credit_transaction: idempotency key '${idempotencyKey}' of user ${userId} already recorded ` +
        `transaction ${transactionId} with a different ${fields.join(', ')}`,
    );
  }
}

/** Why a refund was refused. */
export type CreditRefundRefusal = 'not_a_deduct' | 'exceeds_refundable';

/**
 * A refund was refused; nothing was written. `not_a_deduct`: `deductId` names no deduct of this
 * user. `exceeds_refundable`: the amount is more than the deduct's amount less its earlier refunds
 * (`refundable`).
 */
export class CreditRefundError extends CreditLedgerError {
  override readonly name = 'CreditRefundError';

  constructor(
    readonly reason: CreditRefundRefusal,
    readonly userId: string,
    readonly deductId: string,
    readonly amount: number,
    /** What the deduct still allows to refund (`exceeds_refundable` only). */
    readonly refundable: number | null = null,
  ) {
    super(
      reason === 'not_a_deduct'
        ? `credit_transaction: refund refused, ${deductId} is not a deduct of user ${userId}`
        : `credit_transaction: refund of ${amount} refused, deduct ${deductId} has ${refundable} credit(s) left to refund`,
    );
  }
}

/** The user does not exist (in the host's `users` table); nothing was written. */
export class CreditUserNotFoundError extends CreditLedgerError {
  override readonly name = 'CreditUserNotFoundError';

  constructor(readonly userId: string) {
    super(`credit_transaction: user ${userId} does not exist`);
  }
}

/**
 * The user's ledger changed after the transaction this write ran in read it, so the balance,
 * refund and idempotency checks were made on a stale view; the database refused the row and
 * nothing was written. The transaction is aborted.
 *
 * In a REPEATABLE READ or SERIALIZABLE transaction passed as `{ manager }`, the snapshot is taken
 * at the transaction's first statement, before the ledger takes the user's lock: another write of
 * the user committed since is not seen. The fix: roll back and retry the transaction, or pass a
 * READ COMMITTED transaction (or no manager), which reads the ledger after taking the lock.
 * In READ COMMITTED it means a writer recorded a row of the user without the ledger's lock.
 */
export class CreditSnapshotConflictError extends CreditLedgerError {
  override readonly name = 'CreditSnapshotConflictError';

  constructor(
    readonly userId: string,
    readonly operation: CreditOperation,
    /** The transaction's isolation level, as `transaction_isolation` names it (`repeatable read`). */
    readonly isolation: string,
    /** The database's refusal: a unique violation or a serialization failure. */
    cause?: unknown,
  ) {
    super(
      `credit_transaction: ${operation} for user ${userId} refused, nothing was written: ` +
        (isolation === 'repeatable read' || isolation === 'serializable'
          ? `the user's ledger changed after this ${isolation.toUpperCase()} transaction took its snapshot, ` +
            `so the balance it read is stale. Roll the transaction back and retry it, or pass a ` +
            `READ COMMITTED transaction (or no manager), which reads the ledger after the user's lock`
          : `another writer recorded a row of the user without the ledger's lock after this call read ` +
            `the ledger. Roll the transaction back and retry it`),
      { cause },
    );
  }
}
