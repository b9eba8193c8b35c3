import type { LogDigests } from '../core/log-digests.js';
import {
  type MetadataDeclaration,
  metadataDeclaration,
} from '../core/metadata-declaration.js';
import type { Type } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsUUID,
  Matches,
  Max,
  Min,
} from 'class-validator';
import type { ResolvedMetadataPolicy } from '../core/metadata-policy.js';
import {
  AUDIT_METADATA_MAX_BYTES,
  CREDIT_FEATURES,
  type CreditFeature,
  type CreditOperation,
} from '../core/logging.constants.js';
import {
  HoldsNoIdentity,
  IsBoundedJsonObject,
  PG_INTEGER_MAX,
} from '../core/validation-rules.js';

/** An idempotency key: 1-128 characters of letters, digits and `. _ : -`. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Most transactions one `history()` page holds. */
export const CREDIT_HISTORY_MAX_LIMIT = 1000;
/** Transactions per `history()` page when `limit` is left out. */
export const CREDIT_HISTORY_DEFAULT_LIMIT = 50;

/** What every ledger write takes. */
/** The ledger's slice of the module options, resolved by `LoggingModule`. */
export interface ResolvedLedgerOptions {
  /** The metadata policy of `audit.metadataPolicy`, which the ledger's metadata passes too. */
  readonly metadataPolicy: ResolvedMetadataPolicy;
  /** The metadata each operation may store: operation → its declaration class. */
  readonly metadata: Readonly<Partial<Record<CreditOperation, Type>>>;
  /** The keyed digests (`digestKey`), of the metadata the policy dropped. Default: the process's key. */
  readonly digests?: LogDigests;
}

/**
 * The declarations of `ledger.metadata`, read once: operation → its declaration.
 *
 * @throws Error naming the option, for a key that is not an operation
 * @throws TypeError naming the class and property, for a class the policy cannot keep
 */
export function ledgerDeclarations(
  metadata: ResolvedLedgerOptions['metadata'],
): Partial<Record<CreditOperation, MetadataDeclaration>> {
  const declarations: Partial<Record<CreditOperation, MetadataDeclaration>> =
    {};
  for (const [operation, type] of Object.entries(metadata)) {
    if (!['grant', 'deduct', 'refund'].includes(operation)) {
      throw new Error(
        `LoggingModule option ledger.metadata.${operation} must be one of grant, deduct, refund`,
      );
    }
    declarations[operation as CreditOperation] = metadataDeclaration(type);
  }
  return declarations;
}

export interface CreditWriteInput {
  /** The user, a row of the host's `users` table. */
  userId: string;
  /** Credits, a positive integer up to 2,147,483,647. */
  amount: number;
  /**
   * The caller's key for this call, 1-128 characters of letters, digits and `. _ : -`. The same key
   * for the same user records once: a repeated call returns the first call's transaction.
   */
  idempotencyKey: string;
  /** References and counts only (the audit metadata policy); what the policy refuses is dropped. */
  metadata?: Record<string, unknown> | null;
}

/** Options of `grant`, `deduct` and `refund`. */
export interface CreditWriteOptions {
  /**
   * Write inside the caller's transaction (`dataSource.transaction(manager => ...)`): the row
   * commits or rolls back with the caller's work, and the user's ledger stays locked until then.
   * READ COMMITTED reads the ledger after the lock. A REPEATABLE READ or SERIALIZABLE transaction
   * reads it in its snapshot: if the user's ledger changed since, the write is refused with
   * `CreditSnapshotConflictError` (retry the transaction). Default: a READ COMMITTED transaction of
   * its own.
   */
  manager?: EntityManager;
}

/** `CreditLedgerService.grant` */
export type CreditGrantInput = CreditWriteInput;

/** `CreditLedgerService.deduct` */
export interface CreditDeductInput extends CreditWriteInput {
  /** The feature the credits pay for. */
  feature: CreditFeature;
}

/** `CreditLedgerService.refund` */
export interface CreditRefundInput extends CreditWriteInput {
  /** The deduct of the same user this refund gives credits back for. */
  deductId: string;
}

/** `CreditLedgerService.history` */
export interface CreditHistoryOptions {
  /** Transactions per page, 1 to 1,000. Default: 50. */
  limit?: number;
  /** The `next` cursor of the previous page; left out for the first (newest) page. */
  after?: string | null;
}

/** One row of `credit_transaction`. */
export interface CreditTransactionRecord {
  id: string;
  userId: string;
  operation: CreditOperation;
  /** Null for grants. */
  feature: CreditFeature | null;
  /** Positive; `operation` gives the direction. */
  amount: number;
  /** The deduct a refund gives back; null otherwise. */
  refundOf: string | null;
  idempotencyKey: string;
  /** As stored, after the metadata policy; null when none was given. */
  metadata: Record<string, unknown> | null;
  createdAt: Date;
}

/** What a write returns: the transaction and the user's balance right after it. */
export interface CreditTransactionResult extends CreditTransactionRecord {
  /** Grants and refunds less deducts, up to and including this transaction. */
  balance: number;
}

/** One page of `history()`, newest first. */
export interface CreditHistoryPage {
  items: CreditTransactionRecord[];
  /** Opaque cursor of the next (older) page, for `{ after }`; null on the last page. */
  next: string | null;
}

const uuid = (field: string) => ({ message: `${field} must be a UUID` });
const amount = {
  message: `amount must be a positive integer of at most ${PG_INTEGER_MAX}`,
};
const key = {
  message:
    'idempotencyKey must be 1-128 characters of letters, digits and . _ : -',
};

/** @internal The validation rules of a grant. */
export class CreditGrantDto implements CreditGrantInput {
  @IsUUID('all', uuid('userId'))
  userId: string;

  @IsInt(amount)
  @Min(1, amount)
  @Max(PG_INTEGER_MAX, amount)
  amount: number;

  @Matches(IDEMPOTENCY_KEY_PATTERN, key)
  @HoldsNoIdentity()
  idempotencyKey: string;

  @IsOptional()
  @IsBoundedJsonObject(AUDIT_METADATA_MAX_BYTES)
  metadata?: Record<string, unknown> | null;
}

/** @internal The validation rules of a deduct. */
export class CreditDeductDto
  extends CreditGrantDto
  implements CreditDeductInput
{
  @IsIn(CREDIT_FEATURES, {
    message: `feature must be one of ${CREDIT_FEATURES.join(', ')}`,
  })
  feature: CreditFeature;
}

/** @internal The validation rules of a refund. */
export class CreditRefundDto
  extends CreditGrantDto
  implements CreditRefundInput
{
  @IsUUID('all', uuid('deductId'))
  deductId: string;
}

/** @internal The validation rules of `balance()` and `history()`. */
export class CreditQueryDto {
  @IsUUID('all', uuid('userId'))
  userId: string;

  @IsOptional()
  @IsInt({
    message: `limit must be an integer from 1 to ${CREDIT_HISTORY_MAX_LIMIT}`,
  })
  @Min(1, {
    message: `limit must be an integer from 1 to ${CREDIT_HISTORY_MAX_LIMIT}`,
  })
  @Max(CREDIT_HISTORY_MAX_LIMIT, {
    message: `limit must be an integer from 1 to ${CREDIT_HISTORY_MAX_LIMIT}`,
  })
  limit?: number;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, {
    message: 'after must be a cursor returned by history() as next',
  })
  after?: string | null;
}
