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
