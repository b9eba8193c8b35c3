import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { MetadataDeclaration } from '../core/metadata-declaration.js';
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
import {
  CreditLedgerError,
  CreditSnapshotConflictError,
} from './credit-ledger.errors.js';
import {
  type ResolvedLedgerOptions,
  CREDIT_HISTORY_DEFAULT_LIMIT,
  ledgerDeclarations,
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
  HEAD_SQL,
  type Query,
  type Row,
  T,
  toBalance,
  toRecord,
  type Write,
  writeLocked,
} from './credit-ledger.write.js';
import { SENT_DIGEST, sentDigest } from './sent-digest.js';
import { LogDigests } from '../core/log-digests.js';
import { warnLooseIdentifiers } from '../core/metadata-canaries.js';
import {
  CURSOR_TIME_SQL,
  decodeCursor,
  keysetPage,
} from '../core/keyset-cursor.js';

/**
 * The credit ledger: grants, deducts and refunds of a user's credits, each one append-only row of
 * `credit_transaction`, and the balance they add up to.
 *
 * Every write runs in a READ COMMITTED transaction of its own holding a transaction-scoped
 * advisory lock keyed by the user, so one user's writes are serialised (other users' are not): the
 * balance check of a deduct, the refundable check of a refund and the idempotency lookup all see
 * every earlier write. Each write holds one pooled connection, so callers waiting for the lock
 * never starve the holder. The database holds the balance whatever the transaction: each row
 * continues its user's previous one with a running balance that may not go below zero.
 */
@Injectable()
export class CreditLedgerService implements OnModuleInit {
  private readonly logger = new Logger('LoggingModule');
  /** The metadata policy in force: the audit trail's (`audit.metadataPolicy`). */
  readonly metadataPolicy: ResolvedMetadataPolicy;
  /** The keyed digests of the metadata the policy dropped. */
  private readonly digests: LogDigests;
  private readonly declarations: Partial<
    Record<CreditOperation, MetadataDeclaration>
  >;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(LEDGER_OPTIONS) options: ResolvedLedgerOptions,
  ) {
    this.metadataPolicy = options.metadataPolicy;
    this.digests = options.digests ?? new LogDigests();
    this.declarations = ledgerDeclarations(options.metadata);
  }

  /** Warns, once at startup, of declared identifier patterns that admit canaries. */
  onModuleInit(): void {
    warnLooseIdentifiers(
      this.logger,
      'credit_transaction',
      Object.values(this.declarations),
    );
  }

  /**
   * Adds `amount` credits to the user's balance.
   *
   * @throws LogEntryValidationError naming every bad field; nothing is written
   * @throws AuditMetadataError when the strict metadata policy refuses a value; nothing is written
   * @throws CreditIdempotencyConflictError when the key recorded a different call
   * @throws CreditUserNotFoundError when the user does not exist
   * @throws CreditSnapshotConflictError when the user's ledger changed after the caller's
   *   transaction (`{ manager }`) took its snapshot; nothing is written, retry the transaction
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
   *   CreditUserNotFoundError, CreditSnapshotConflictError as `grant`
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
   *   CreditUserNotFoundError, CreditSnapshotConflictError as `grant`
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
   * The user's balance: grants plus refunds less deducts, as the user's last row holds it (one
   * index lookup). A JavaScript number (a safe integer); 0 for a user without transactions.
   *
   * @throws LogEntryValidationError when `userId` is not a UUID
   */
  async balance(userId: string): Promise<number> {
    validateEntry(CreditQueryDto, 'credit query', { userId });
    const [head] = await this.dataSource.query<{ balance: string }[]>(
      HEAD_SQL,
      [userId],
    );
    return head ? toBalance(head.balance) : 0;
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
      sentDigest: sentDigest(entry.metadata, salt, this.digests),
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
        [SENT_DIGEST]: sentDigest(metadata, salt, this.digests),
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
      return writeLocked(
        (sql, parameters) => manager.query(sql, parameters),
        write,
      );
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction((query) => writeLocked(query, write));
      } catch (error) {
        // A writer that bypassed the lock wrote first: the next try reads its row.
        if (error instanceof CreditSnapshotConflictError && attempt < 3) {
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * Runs `work` in a READ COMMITTED transaction on one pooled connection, whatever the server's
   * default isolation: each statement after the lock then sees every write committed before it.
   */
  private async transaction<R>(work: (query: Query) => Promise<R>): Promise<R> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('READ COMMITTED');
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
  // every ledger row has its created_at: a position with no time is no cursor of history()
  if (position && position.t !== null)
    return { t: position.t, id: position.id };
  throw new LogEntryValidationError('credit query', [
    {
      field: 'after',
      rule: 'isCursor',
      message: 'after must be a cursor returned by history() as next',
    },
  ]);
}
