import { Inject, Injectable, Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  type MetadataDeclaration,
  metadataDeclaration,
} from '../core/metadata-declaration.js';
import {
  AuditMetadataError,
  type MetadataDrop,
  type ResolvedMetadataPolicy,
  sanitizeMetadata,
} from '../core/metadata-policy.js';
import {
  CREDIT_TRANSACTION_TABLE,
  type CreditOperation,
  LEDGER_OPTIONS,
  LOGGING_DATA_SOURCE,
} from '../core/logging.constants.js';
import {
  LogEntryValidationError,
  validateEntry,
} from '../core/entry-validation.js';
import { CreditLedgerError } from './credit-ledger.errors.js';
import {
  type ResolvedLedgerOptions,
  CREDIT_HISTORY_DEFAULT_LIMIT,
  CreditDeductDto,
  type CreditDeductInput,
  CreditGrantDto,
  type CreditGrantInput,
  type CreditHistoryOptions,
  type CreditHistoryPage,
  CreditQueryDto,
  CreditRefundDto,
  type CreditRefundInput,
  type CreditTransactionResult,
  type CreditWriteOptions,
} from './credit-ledger.types.js';
import {
  COLUMNS,
  type Query,
  type Row,
  SIGNED_SUM,
  T,
  toBalance,
  toRecord,
  type Write,
  knownError,
  writeLocked,
} from './credit-ledger.write.js';
import { SENT_DIGEST, sentDigest } from './sent-digest.js';
import {
  CURSOR_TIME_SQL,
  decodeCursor,
  keysetPage,
} from '../core/keyset-cursor.js';

/**
 * The credit ledger: grants, deducts and refunds of a user's credits, each one append-only row of
 * `credit_transaction`, and the balance they add up to.
 *
 * Every write runs in a transaction of its own holding a transaction-scoped advisory lock keyed by
 * the user, so one user's writes are serialised (other users' are not): the balance check of a
 * deduct, the refundable check of a refund and the idempotency lookup all see every earlier write,
 * and concurrent deducts can never take a balance below zero. Each write holds one pooled
 * connection, so callers waiting for the lock never starve the holder.
 */
@Injectable()
export class CreditLedgerService {
  private readonly logger = new Logger('LoggingModule');
  /** The metadata policy in force: the audit trail's (`audit.metadataPolicy`). */
  readonly metadataPolicy: ResolvedMetadataPolicy;
  private readonly declarations: Partial<
    Record<CreditOperation, MetadataDeclaration>
  > = {};

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(LEDGER_OPTIONS) options: ResolvedLedgerOptions,
  ) {
    this.metadataPolicy = options.metadataPolicy;
    const declared = options.metadata;
    for (const [operation, type] of Object.entries(declared)) {
      if (!['grant', 'deduct', 'refund'].includes(operation)) {
        throw new Error(
          `LoggingModule option ledger.metadata.${operation} must be one of grant, deduct, refund`,
        );
      }
      this.declarations[operation as CreditOperation] =
        metadataDeclaration(type);
    }
  }

  /**
   * Adds `amount` credits to the user's balance.
   *
   * @throws LogEntryValidationError naming every bad field; nothing is written
   * @throws AuditMetadataError when the strict metadata policy refuses a value; nothing is written
   * @throws CreditIdempotencyConflictError when the key recorded a different call
   * @throws CreditUserNotFoundError when the user does not exist
   * @example
   * await ledger.grant({ userId, amount: 100, idempotencyKey: `signup:${userId}` });
   */
  async grant(
    input: CreditGrantInput,
    options?: CreditWriteOptions,
  ): Promise<CreditTransactionResult> {
    const entry = validateEntry(CreditGrantDto, 'credit grant', input);
    return this.write(options, {
      ...this.common(entry, 'grant'),
      feature: null,
      refundOf: null,
    });
  }

  /**
   * Takes `amount` credits from the user's balance for `feature`, if the balance holds them.
   *
   * @throws InsufficientCreditsError when the balance is less than `amount`; nothing is written
   * @throws LogEntryValidationError, AuditMetadataError, CreditIdempotencyConflictError,
   *   CreditUserNotFoundError as `grant`
   * @example
   * await ledger.deduct({ userId, amount: 5, feature: 'document_generation', idempotencyKey: `doc:${documentId}` });
   */
  async deduct(
    input: CreditDeductInput,
    options?: CreditWriteOptions,
  ): Promise<CreditTransactionResult> {
    const entry = validateEntry(CreditDeductDto, 'credit deduct', input);
    return this.write(options, {
      ...this.common(entry, 'deduct'),
      feature: entry.feature,
      refundOf: null,
    });
  }

  /**
   * Gives back `amount` credits of the deduct `deductId` (of the same user), at most what that
   * deduct took less its earlier refunds. The refund carries the deduct's feature.
   *
   * @throws CreditRefundError when `deductId` is not a deduct of this user, or the amount is more
   *   than it has left to refund; nothing is written
   * @throws LogEntryValidationError, AuditMetadataError, CreditIdempotencyConflictError,
   *   CreditUserNotFoundError as `grant`
   * @example
   * await ledger.refund({ userId, amount: 5, deductId: deduct.id, idempotencyKey: `doc-failed:${documentId}` });
   */
  async refund(
    input: CreditRefundInput,
    options?: CreditWriteOptions,
  ): Promise<CreditTransactionResult> {
    const entry = validateEntry(CreditRefundDto, 'credit refund', input);
    return this.write(options, {
      ...this.common(entry, 'refund'),
      feature: null, // the deduct's, read under the lock
      refundOf: entry.deductId,
    });
  }

  /**
   * The user's balance: grants plus refunds less deducts, summed in SQL. A JavaScript number (a
   * safe integer); 0 for a user without transactions.
   *
   * @throws LogEntryValidationError when `userId` is not a UUID
   */
  async balance(userId: string): Promise<number> {
    validateEntry(CreditQueryDto, 'credit query', { userId });
    const [row] = await this.dataSource.query<{ balance: string }[]>(
      `SELECT ${SIGNED_SUM} AS balance FROM ${T} WHERE user_id = $1`,
      [userId],
    );
    return toBalance(row.balance);
  }

  /**
   * The user's transactions, newest first (by `created_at`, then `id`), `limit` at a time. Pass a
   * page's `next` as `after` for the page after it; `next` is null on the last page. Keyset
   * pagination: a page costs the same however deep it is, and rows written meanwhile never shift
   * the pages.
   *
   * @throws LogEntryValidationError for a bad `userId`, `limit` or `after`
   */
  async history(
    userId: string,
    options: CreditHistoryOptions = {},
  ): Promise<CreditHistoryPage> {
    const query = validateEntry(CreditQueryDto, 'credit query', {
      ...options,
      userId,
    });
    const limit = query.limit ?? CREDIT_HISTORY_DEFAULT_LIMIT;
    const cursor =
      query.after === undefined || query.after === null
        ? undefined
        : decodeHistoryCursor(query.after);
    const parameters: unknown[] = [userId, limit + 1];
    let after = '';
    if (cursor) {
      parameters.push(cursor.t, cursor.id);
      after = 'AND (created_at, id) < ($3::timestamptz, $4::uuid)';
    }
    const rows = await this.dataSource.query<(Row & { cursor_at: string })[]>(
      `SELECT ${COLUMNS},
              ${CURSOR_TIME_SQL} AS cursor_at
         FROM ${T}
        WHERE user_id = $1 ${after}
        ORDER BY created_at DESC, id DESC
        LIMIT $2`,
      parameters,
    );
    return keysetPage(rows, limit, toRecord);
  }

  private common(
    entry: CreditGrantDto,
    operation: CreditOperation,
  ): Omit<Write, 'feature' | 'refundOf'> {
    const salt = `${entry.userId}\n${entry.idempotencyKey}\n`;
    return {
      userId: entry.userId,
      operation,
      amount: entry.amount,
      idempotencyKey: entry.idempotencyKey,
      metadata: this.sanitize(entry.metadata, operation, salt),
      sentDigest: sentDigest(entry.metadata, salt),
    };
  }

  private sanitize(
    metadata: Record<string, unknown> | null | undefined,
    operation: CreditOperation,
    salt: string,
  ): string | null {
    if (metadata === null || metadata === undefined) return null;
    try {
      const { metadata: clean, dropped } = sanitizeMetadata(
        metadata,
        this.metadataPolicy,
        this.declarations[operation],
      );
      if (dropped.length === 0) return JSON.stringify(clean);
      this.warnDropped(operation, dropped, 'trimmed');
      // What was stored is not what was sent: a replay is compared with this digest of it.
      return JSON.stringify({
        ...clean,
        [SENT_DIGEST]: sentDigest(metadata, salt),
      });
    } catch (error) {
      if (error instanceof AuditMetadataError) {
        this.warnDropped(operation, error.dropped, 'refused');
      }
      throw error;
    }
  }

  private warnDropped(
    operation: string,
    drops: readonly MetadataDrop[],
    verdict: string,
  ): void {
    this.logger.warn(
      `${CREDIT_TRANSACTION_TABLE}: metadata of a ${operation} ${verdict} by the policy: ${drops
        .map((d) => `${d.path || '(root)'} (${d.rule})`)
        .join(', ')}`,
    );
  }

  /** Records `write` once per (user, key), under the user's lock. */
  private async write(
    options: CreditWriteOptions | undefined,
    write: Write,
  ): Promise<CreditTransactionResult> {
    const manager = options?.manager;
    if (manager !== undefined) {
      if (!manager.queryRunner?.isTransactionActive) {
        throw new CreditLedgerError(
          `${write.operation}: options.manager must be the EntityManager of a transaction in progress ` +
            `(dataSource.transaction(manager => ...)); the user's lock lasts until that transaction ends`,
        );
      }
      try {
        return await writeLocked(
          (sql, parameters) => manager.query(sql, parameters),
          write,
        );
      } catch (error) {
        throw knownError(error, write);
      }
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction((query) => writeLocked(query, write));
      } catch (error) {
        const { code, constraint } = error as {
          code?: string;
          constraint?: string;
        };
        // A writer that bypassed the lock recorded the key first: read its row on the next try.
        if (
          code === '23505' &&
          constraint === 'uq_credit_transaction_user_id_idempotency_key' &&
          attempt < 2
        ) {
          continue;
        }
        throw knownError(error, write);
      }
    }
  }

  /** Runs `work` in a transaction on one pooled connection. */
  private async transaction<R>(work: (query: Query) => Promise<R>): Promise<R> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      try {
        const result = await work((sql, parameters) =>
          runner.query(sql, parameters),
        );
        await runner.commitTransaction();
        return result;
      } catch (error) {
        if (runner.isTransactionActive) {
          await runner.rollbackTransaction().catch(() => undefined);
        }
        throw error;
      }
    } finally {
      await runner.release();
    }
  }
}

function decodeHistoryCursor(cursor: string): { t: string; id: string } {
  const position = decodeCursor(cursor);
  if (position) return position;
  throw new LogEntryValidationError('credit query', [
    {
      field: 'after',
      rule: 'isCursor',
      message: 'after must be a cursor returned by history() as next',
    },
  ]);
}
