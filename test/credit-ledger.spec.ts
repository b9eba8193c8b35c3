import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { IsIn, IsInt, IsUUID, Max } from 'class-validator';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import { DEMO_MIGRATIONS } from '../src/demo/migrations/index.js';
import { User } from '../src/demo/entities/index.js';
import {
  AuditMetadataError,
  CreditIdempotencyConflictError,
  CreditLedgerService,
  CreditRefundError,
  CreditSnapshotConflictError,
  type CreditTransactionResult,
  CreditUserNotFoundError,
  InsufficientCreditsError,
  LogEntryValidationError,
  LOGGING_MIGRATIONS,
} from '../src/logging/index.js';
import { resolveLedgerOptions } from '../src/logging/logging.providers.js';
import { LogDigests } from '../src/logging/core/log-digests.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { plainUuid } from './support/ids.js';
import { loggingApp } from './support/logging-app.js';
import { maskUuids } from './support/leak-finder.js';
import { seedFirm } from './support/seed.js';
import { refusal } from './support/sql.js';
import { schemaSnapshot } from './support/catalog.js';

type CreditWriteOptions = Parameters<CreditLedgerService['deduct']>[1];

/**
 * The credit ledger against a real database: its schema, the per-user serialisation that keeps
 * balances from going negative, idempotency, refunds, validation, pagination, append-only rows and
 * the metadata policy.
 */

/** What a grant may store in its metadata. */
class GrantMetadata {
  @IsUUID()
  documentId: string;

  @IsInt()
  @Max(1000)
  pages: number;

  @IsIn(['admin_grant', 'signup'])
  source: string;
}

describe('credit ledger', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof loggingApp>>;
  let dataSource: DataSource;
  let ledger: CreditLedgerService;
  let client: Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await loggingApp(database.url);
    dataSource = app.dataSource;
    ledger = app.moduleRef.get(CreditLedgerService);
    client = new Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await app.close();
    await database.drop();
  });

  const newUser = async () =>
    (await seedFirm(dataSource, `ledger-${randomUUID()}`)).userId;

  const rowsOf = async (userId: string) =>
    (
      await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM credit_transaction WHERE user_id = $1',
        [userId],
      )
    ).rows[0].n;

  async function failure(promise: Promise<unknown>): Promise<Error> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    return error!;
  }

  const refused = (sql: string, parameters?: unknown[]) =>
    refusal(client, sql, parameters);

  describe('schema', () => {
    it('has the operation and feature enum types, labels in order', async () => {
      const { rows } = await client.query<{ name: string; labels: string[] }>(
        `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels
           FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
          GROUP BY 1 ORDER BY 1`,
      );
      expect(rows).toEqual([
        {
          name: 'credit_feature_type',
          labels: [
            'document_generation',
            'workstream_clustering',
            'chat_tool_call',
            'chat_message',
          ],
        },
        {
          name: 'credit_operation_type',
          labels: ['deduct', 'refund', 'grant'],
        },
      ]);
    });

    it('has its named constraints and indexes', async () => {
      const constraints = await client.query<{ name: string; type: string }>(
        `SELECT conname AS name, contype AS type FROM pg_constraint
          WHERE conrelid = 'credit_transaction'::regclass AND contype <> 'n' ORDER BY 1`,
      );
      expect(constraints.rows).toEqual([
        { name: 'chk_credit_transaction_amount', type: 'c' },
        { name: 'chk_credit_transaction_feature', type: 'c' },
        { name: 'chk_credit_transaction_idempotency_key', type: 'c' },
        { name: 'chk_credit_transaction_refund_of', type: 'c' },
        { name: 'chk_credit_transaction_running_balance', type: 'c' },
        { name: 'chk_credit_transaction_seq', type: 'c' },
        { name: 'fk_credit_transaction_refund_of', type: 'f' },
        { name: 'fk_credit_transaction_user_id', type: 'f' },
        { name: 'pk_credit_transaction', type: 'p' },
        { name: 'uq_credit_transaction_user_id_idempotency_key', type: 'u' },
        { name: 'uq_credit_transaction_user_id_seq', type: 'u' },
      ]);
      const indexes = await client.query<{ name: string; definition: string }>(
        `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
          WHERE tablename = 'credit_transaction' ORDER BY 1`,
      );
      expect(
        indexes.rows.map((r) => [
          r.name,
          r.definition.replace(/.* USING /, ''),
        ]),
      ).toEqual([
        ['idx_credit_transaction_created_at', 'btree (created_at)'],
        ['idx_credit_transaction_refund_of', 'btree (refund_of)'],
        ['idx_credit_transaction_user_id', 'btree (user_id)'],
        [
          'idx_credit_transaction_user_id_created_at',
          'btree (user_id, created_at)',
        ],
        ['pk_credit_transaction', 'btree (id)'],
        [
          'uq_credit_transaction_user_id_idempotency_key',
          'btree (user_id, idempotency_key)',
        ],
        ['uq_credit_transaction_user_id_seq', 'btree (user_id, seq)'],
      ]);
    });

    it.each([
      [
        'a zero amount',
        `'grant', NULL, 0, NULL`,
        'chk_credit_transaction_amount',
      ],
      [
        'a negative amount',
        `'grant', NULL, -5, NULL`,
        'chk_credit_transaction_amount',
      ],
      [
        'a deduct without feature',
        `'deduct', NULL, 1, NULL`,
        'chk_credit_transaction_feature',
      ],
      [
        'a grant with a feature',
        `'grant', 'chat_message', 1, NULL`,
        'chk_credit_transaction_feature',
      ],
      [
        'a refund without refund_of',
        `'refund', 'chat_message', 1, NULL`,
        'chk_credit_transaction_refund_of',
      ],
      [
        'a deduct with refund_of',
        `'deduct', 'chat_message', 1, gen_random_uuid()`,
        'chk_credit_transaction_refund_of',
      ],
    ])('refuses %s in the database', async (_, values, constraint) => {
      const userId = await newUser();
      const error = await refused(
        `INSERT INTO credit_transaction (user_id, operation, feature, amount, refund_of, idempotency_key)
         VALUES ($1, ${values}, 'k')`,
        [userId],
      );
      expect(error).toMatchObject({ code: '23514', constraint });
    });

    it('refuses an operation or feature outside the enums', async () => {
      const userId = await newUser();
      for (const [operation, feature] of [
        ['transfer', null],
        ['deduct', 'image_generation'],
      ]) {
        const error = await refused(
          `INSERT INTO credit_transaction (user_id, operation, feature, amount, idempotency_key)
           VALUES ($1, $2, $3, 1, 'k')`,
          [userId, operation, feature],
        );
        expect(error.code).toBe('22P02');
      }
    });
  });

  it('grants, deducts and refunds, returning each transaction with the balance after it', async () => {
    const userId = await newUser();
    expect(await ledger.balance(userId)).toBe(0);
    const grant = await ledger.grant({
      userId,
      amount: 100,
      idempotencyKey: 'signup',
    });
    expect(grant).toEqual({
      id: expect.any(String),
      userId,
      operation: 'grant',
      feature: null,
      amount: 100,
      refundOf: null,
      idempotencyKey: 'signup',
      metadata: null,
      createdAt: expect.any(Date),
      balance: 100,
    });
    const deduct = await ledger.deduct({
      userId,
      amount: 30,
      feature: 'document_generation',
      idempotencyKey: 'doc-1',
    });
    expect(deduct).toMatchObject({
      operation: 'deduct',
      feature: 'document_generation',
      amount: 30,
      balance: 70,
    });
    const refund = await ledger.refund({
      userId,
      amount: 10,
      deductId: deduct.id,
      idempotencyKey: 'doc-1-failed',
    });
    expect(refund).toMatchObject({
      operation: 'refund',
      feature: 'document_generation',
      amount: 10,
      refundOf: deduct.id,
      balance: 80,
    });
    expect(await ledger.balance(userId)).toBe(80);
  });

  it('lets exactly 10 of 100 concurrent deducts of 1 through a balance of 10, and ends at 0', async () => {
    const userId = await newUser();
    await ledger.grant({ userId, amount: 10, idempotencyKey: 'start' });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        ledger.deduct({
          userId,
          amount: 1,
          feature: 'chat_message',
          idempotencyKey: `message-${i}`,
        }),
      ),
    );
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(fulfilled).toHaveLength(10);
    expect(rejected).toHaveLength(90);
    for (const r of rejected) {
      expect(r.reason).toBeInstanceOf(InsufficientCreditsError);
      expect(r.reason).toMatchObject({ userId, balance: 0, amount: 1 });
    }
    // each success saw the balance its predecessors left
    expect(fulfilled.map((r) => r.value.balance).sort((a, b) => a - b)).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM credit_transaction WHERE user_id = $1 AND operation = 'deduct'`,
      [userId],
    );
    expect(rows[0].n).toBe(10);
    expect(await ledger.balance(userId)).toBe(0);
  });

  describe("inside the caller's transaction ({ manager })", () => {
    it('commits and rolls back with the caller', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 10, idempotencyKey: 'start' });
      const documents: string[] = [];
      const deduct = (key: string) =>
        dataSource.transaction(async (manager) => {
          const taken = await ledger.deduct(
            {
              userId,
              amount: 4,
              feature: 'document_generation',
              idempotencyKey: key,
            },
            { manager },
          );
          documents.push(key);
          return taken;
        });

      const kept = await deduct('doc-1');
      expect(kept.balance).toBe(6);
      const failed = await failure(
        dataSource.transaction(async (manager) => {
          await ledger.deduct(
            {
              userId,
              amount: 4,
              feature: 'document_generation',
              idempotencyKey: 'doc-2',
            },
            { manager },
          );
          throw new Error('document generation failed');
        }),
      );
      expect(failed.message).toBe('document generation failed');
      // the deduct of the failed document rolled back with it: its key is free again
      expect(await ledger.balance(userId)).toBe(6);
      expect(await rowsOf(userId)).toBe(2);
      expect((await deduct('doc-2')).balance).toBe(2);
      expect(documents).toEqual(['doc-1', 'doc-2']);
    });

    it('holds the user until the caller commits: 20 concurrent transactions, 10 credits, 5 deducts of 2', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 10, idempotencyKey: 'start' });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          dataSource.transaction(async (manager) => {
            const taken = await ledger.deduct(
              {
                userId,
                amount: 2,
                feature: 'chat_tool_call',
                idempotencyKey: `tool-${i}`,
              },
              { manager },
            );
            // the caller's own work, while the user stays locked
            await manager.query('SELECT pg_sleep(0.005)');
            return taken;
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      for (const r of results.filter((r) => r.status === 'rejected')) {
        expect(r.reason).toBeInstanceOf(InsufficientCreditsError);
      }
      expect(await ledger.balance(userId)).toBe(0);
    });

    it('refuses a manager outside a transaction, and writes nothing', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 10, idempotencyKey: 'start' });
      const error = await failure(
        ledger.deduct(
          {
            userId,
            amount: 1,
            feature: 'chat_message',
            idempotencyKey: 'outside',
          },
          { manager: dataSource.manager },
        ),
      );
      expect(error.message).toMatch(
        /^deduct: options.manager must be the EntityManager of a transaction in progress/,
      );
      expect(await rowsOf(userId)).toBe(1);
    });
  });

  it('refuses a deduct beyond the balance with InsufficientCreditsError and writes nothing', async () => {
    const userId = await newUser();
    await ledger.grant({ userId, amount: 5, idempotencyKey: 'g' });
    const error = await failure(
      ledger.deduct({
        userId,
        amount: 6,
        feature: 'workstream_clustering',
        idempotencyKey: 'big',
      }),
    );
    expect(error).toBeInstanceOf(InsufficientCreditsError);
    expect(error).toMatchObject({ balance: 5, amount: 6 });
    expect(error.message).toBe(
      `credit_transaction: user ${userId} has 5 credit(s), a deduct of 6 was refused`,
    );
    expect(await rowsOf(userId)).toBe(1);
    // the key of a refused call stays free
    await ledger.grant({ userId, amount: 1, idempotencyKey: 'g2' });
    await expect(
      ledger.deduct({
        userId,
        amount: 6,
        feature: 'workstream_clustering',
        idempotencyKey: 'big',
      }),
    ).resolves.toMatchObject({ balance: 0 });
  });

  describe('idempotency', () => {
    it('records a key once and returns the first result, balance included', async () => {
      const userId = await newUser();
      const first = await ledger.grant({
        userId,
        amount: 10,
        idempotencyKey: 'g',
        metadata: { campaignId: 'spring_launch' },
      });
      const deduct = await ledger.deduct({
        userId,
        amount: 3,
        feature: 'chat_tool_call',
        idempotencyKey: 'd',
      });
      await ledger.grant({ userId, amount: 5, idempotencyKey: 'g-later' });
      expect(
        await ledger.grant({
          userId,
          amount: 10,
          idempotencyKey: 'g',
          metadata: { campaignId: 'spring_launch' },
        }),
      ).toEqual(first);
      expect(
        await ledger.deduct({
          userId,
          amount: 3,
          feature: 'chat_tool_call',
          idempotencyKey: 'd',
        }),
      ).toEqual({ ...deduct, balance: 7 });
      expect(await rowsOf(userId)).toBe(3);
      expect(await ledger.balance(userId)).toBe(12);
    });

    it('under concurrency: one row, and every caller gets the same result', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 50, idempotencyKey: 'g' });
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          ledger.deduct({
            userId,
            amount: 7,
            feature: 'document_generation',
            idempotencyKey: 'same-click',
          }),
        ),
      );
      for (const result of results) expect(result).toEqual(results[0]);
      expect(results[0].balance).toBe(43);
      expect(await rowsOf(userId)).toBe(2);
      expect(await ledger.balance(userId)).toBe(43);
    });

    it('refuses the same key with other arguments, naming what differs, and writes nothing', async () => {
      const userId = await newUser();
      const grant = await ledger.grant({
        userId,
        amount: 10,
        idempotencyKey: 'k',
      });
      const cases: [Promise<unknown>, string[]][] = [
        [ledger.grant({ userId, amount: 11, idempotencyKey: 'k' }), ['amount']],
        [
          ledger.grant({
            userId,
            amount: 10,
            idempotencyKey: 'k',
            metadata: { pages: 1 },
          }),
          ['metadata'],
        ],
        [
          ledger.deduct({
            userId,
            amount: 10,
            feature: 'chat_message',
            idempotencyKey: 'k',
          }),
          ['operation', 'feature'],
        ],
      ];
      for (const [call, fields] of cases) {
        const error = await failure(call);
        expect(error).toBeInstanceOf(CreditIdempotencyConflictError);
        expect(error).toMatchObject({
          userId,
          idempotencyKey: 'k',
          transactionId: grant.id,
          fields,
        });
        expect(error.message).toContain(
          `idempotency key 'k' of user ${userId} already recorded transaction ${grant.id}`,
        );
      }
      expect(await rowsOf(userId)).toBe(1);
      // keys are per user
      const other = await newUser();
      await expect(
        ledger.grant({ userId: other, amount: 99, idempotencyKey: 'k' }),
      ).resolves.toMatchObject({ balance: 99 });
    });
  });

  describe('refunds', () => {
    it('give back at most what the deduct took, less its earlier refunds', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 20, idempotencyKey: 'g' });
      const deduct = await ledger.deduct({
        userId,
        amount: 5,
        feature: 'document_generation',
        idempotencyKey: 'd',
      });
      const refund = (amount: number, key: string) =>
        ledger.refund({
          userId,
          amount,
          deductId: deduct.id,
          idempotencyKey: key,
        });

      await expect(refund(3, 'r1')).resolves.toMatchObject({ balance: 18 });
      const error = await failure(refund(3, 'r2'));
      expect(error).toBeInstanceOf(CreditRefundError);
      expect(error).toMatchObject({
        reason: 'exceeds_refundable',
        deductId: deduct.id,
        amount: 3,
        refundable: 2,
      });
      expect(error.message).toBe(
        `credit_transaction: refund of 3 refused, deduct ${deduct.id} has 2 credit(s) left to refund`,
      );
      await expect(refund(2, 'r3')).resolves.toMatchObject({ balance: 20 });
      await expect(refund(1, 'r4')).rejects.toMatchObject({
        reason: 'exceeds_refundable',
        refundable: 0,
      });
      expect(await rowsOf(userId)).toBe(4);
    });

    it('under concurrency: refunds of one deduct never add up to more than it took', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 10, idempotencyKey: 'g' });
      const deduct = await ledger.deduct({
        userId,
        amount: 10,
        feature: 'chat_message',
        idempotencyKey: 'd',
      });
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          ledger.refund({
            userId,
            amount: 1,
            deductId: deduct.id,
            idempotencyKey: `r${i}`,
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      expect(await ledger.balance(userId)).toBe(10);
    });

    it('must name a deduct of the same user', async () => {
      const userId = await newUser();
      const other = await newUser();
      const grant = await ledger.grant({
        userId,
        amount: 10,
        idempotencyKey: 'g',
      });
      await ledger.grant({ userId: other, amount: 10, idempotencyKey: 'g' });
      const theirs = await ledger.deduct({
        userId: other,
        amount: 5,
        feature: 'chat_message',
        idempotencyKey: 'd',
      });
      for (const deductId of [grant.id, theirs.id, randomUUID()]) {
        const error = await failure(
          ledger.refund({ userId, amount: 1, deductId, idempotencyKey: 'r' }),
        );
        expect(error).toBeInstanceOf(CreditRefundError);
        expect(error).toMatchObject({ reason: 'not_a_deduct', deductId });
        expect(error.message).toBe(
          `credit_transaction: refund refused, ${deductId} is not a deduct of user ${userId}`,
        );
      }
      expect(await rowsOf(userId)).toBe(1);
      expect(await ledger.balance(other)).toBe(5);
    });
  });

  describe('validation', () => {
    it('names every bad field in one error and writes nothing', async () => {
      const before = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM credit_transaction',
      );
      const error = await failure(
        ledger.deduct({
          userId: 'not-a-uuid',
          amount: 1.5,
          feature: 'image_generation' as never,
          idempotencyKey: 'has space',
          metadata: [] as never,
          extra: 1,
        } as never),
      );
      expect(error).toBeInstanceOf(LogEntryValidationError);
      const violations = (error as LogEntryValidationError).violations;
      expect([...new Set(violations.map((v) => v.field))].sort()).toEqual([
        'amount',
        'extra',
        'feature',
        'idempotencyKey',
        'metadata',
        'userId',
      ]);
      expect(error.message).toContain(
        'amount must be a positive integer of at most 2147483647',
      );
      expect(error.message).toContain(
        'feature must be one of document_generation, workstream_clustering, chat_tool_call, chat_message',
      );
      const after = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM credit_transaction',
      );
      expect(after.rows).toEqual(before.rows);
    });

    it.each([
      ['amount', { amount: 0 }],
      ['amount', { amount: -1 }],
      ['amount', { amount: 2_147_483_648 }],
      ['amount', { amount: '5' }],
      ['idempotencyKey', { idempotencyKey: '' }],
      ['idempotencyKey', { idempotencyKey: 'k'.repeat(129) }],
      ['idempotencyKey', { idempotencyKey: 'émoji' }],
      ['deductId', { deductId: 'nope' }],
      ['userId', { userId: undefined }],
    ])('refuses a refund with a bad %s (%j)', async (field, change) => {
      const userId = await newUser();
      const error = await failure(
        ledger.refund({
          userId,
          amount: 1,
          deductId: randomUUID(),
          idempotencyKey: 'r',
          ...change,
        } as never),
      );
      expect(error).toBeInstanceOf(LogEntryValidationError);
      expect(
        (error as LogEntryValidationError).violations.map((v) => v.field),
      ).toContain(field);
      expect(await rowsOf(userId)).toBe(0);
    });

    it('accepts the largest amount and a key of 128 characters', async () => {
      const userId = await newUser();
      await expect(
        ledger.grant({
          userId,
          amount: 2_147_483_647,
          idempotencyKey: 'a'.repeat(128),
        }),
      ).resolves.toMatchObject({ balance: 2_147_483_647 });
      await ledger.grant({
        userId,
        amount: 2_147_483_647,
        idempotencyKey: 'b',
      });
      expect(await ledger.balance(userId)).toBe(4_294_967_294);
    });

    it('refuses a user that does not exist, writing nothing', async () => {
      const userId = randomUUID();
      const error = await failure(
        ledger.grant({ userId, amount: 1, idempotencyKey: 'g' }),
      );
      expect(error).toBeInstanceOf(CreditUserNotFoundError);
      expect(error.message).toBe(
        `credit_transaction: user ${userId} does not exist`,
      );
      expect(await rowsOf(userId)).toBe(0);
    });
  });

  describe('history', () => {
    it('pages newest first by (created_at, id), across ties in created_at', async () => {
      const userId = await newUser();
      const times = [
        '2026-01-01T00:00:00Z',
        '2026-01-02T00:00:00Z',
        '2026-01-02T00:00:00Z',
        '2026-01-02T00:00:00Z',
        '2026-01-02T00:00:00.000001Z',
        '2026-01-03T00:00:00Z',
        '2026-01-03T00:00:00Z',
      ];
      for (const [i, time] of times.entries()) {
        await client.query(
          `INSERT INTO credit_transaction (user_id, operation, amount, idempotency_key, created_at)
           VALUES ($1, 'grant', $2, $3, $4)`,
          [userId, i + 1, `seed-${i}`, time],
        );
      }
      const { rows: expected } = await client.query<{ id: string }>(
        `SELECT id FROM credit_transaction WHERE user_id = $1 ORDER BY created_at DESC, id DESC`,
        [userId],
      );

      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const page = await ledger.history(userId, { limit: 2, after });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((t) => t.id));
        after = page.next;
        pages++;
      } while (after !== null);
      expect(pages).toBe(4);
      expect(seen).toEqual(expected.map((r) => r.id));

      const all = await ledger.history(userId);
      expect(all.next).toBeNull();
      expect(all.items.map((t) => t.id)).toEqual(seen);
      expect(all.items[0]).toMatchObject({
        userId,
        operation: 'grant',
        feature: null,
        metadata: null,
      });
      // an exact page leaves a cursor to an empty page
      const exact = await ledger.history(userId, { limit: 7 });
      expect(exact.next).toBeNull();
      const six = await ledger.history(userId, { limit: 6 });
      const last = await ledger.history(userId, { limit: 6, after: six.next });
      expect(last).toEqual({ items: [all.items[6]], next: null });
    });

    it('keeps the order of writes within a user, and is empty for a user without rows', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 3, idempotencyKey: 'a' });
      await ledger.deduct({
        userId,
        amount: 1,
        feature: 'chat_message',
        idempotencyKey: 'b',
      });
      await ledger.deduct({
        userId,
        amount: 1,
        feature: 'chat_message',
        idempotencyKey: 'c',
      });
      const page = await ledger.history(userId);
      expect(page.items.map((t) => t.idempotencyKey)).toEqual(['c', 'b', 'a']);
      expect(await ledger.history(await newUser())).toEqual({
        items: [],
        next: null,
      });
    });

    it('refuses a bad limit or a cursor it did not make', async () => {
      const userId = await newUser();
      for (const options of [{ limit: 0 }, { limit: 1001 }, { limit: 2.5 }]) {
        const error = await failure(ledger.history(userId, options));
        expect(error).toBeInstanceOf(LogEntryValidationError);
        expect(error.message).toContain(
          'limit must be an integer from 1 to 1000',
        );
      }
      for (const after of [
        'garbage!',
        Buffer.from('["x","y"]').toString('base64url'),
        // a trail's position after a row with no date: every ledger row has one
        Buffer.from(`[null,"${randomUUID()}"]`).toString('base64url'),
      ]) {
        const error = await failure(ledger.history(userId, { after }));
        expect(error).toBeInstanceOf(LogEntryValidationError);
        expect((error as LogEntryValidationError).violations[0].field).toBe(
          'after',
        );
      }
      await expect(ledger.balance('nope')).rejects.toBeInstanceOf(
        LogEntryValidationError,
      );
    });
  });

  describe('append-only', () => {
    let userId: string;
    let id: string;

    beforeAll(async () => {
      userId = await newUser();
      await ledger.grant({ userId, amount: 10, idempotencyKey: 'g' });
      id = (
        await ledger.deduct({
          userId,
          amount: 4,
          feature: 'chat_message',
          idempotencyKey: 'd',
        })
      ).id;
    });

    it.each([
      ['UPDATE', `UPDATE credit_transaction SET amount = 1 WHERE id = $1`],
      ['UPDATE', `UPDATE credit_transaction SET metadata = '{}' WHERE id = $1`],
      ['DELETE', `DELETE FROM credit_transaction WHERE id = $1`],
      ['DELETE', `DELETE FROM credit_transaction WHERE id <> $1 OR true`],
      ['TRUNCATE', `TRUNCATE credit_transaction`],
      ['TRUNCATE', `TRUNCATE users CASCADE`],
    ])(
      'refuses %s (%s), and the row stays as it was',
      async (operation, sql) => {
        const before = await client.query(
          'SELECT * FROM credit_transaction WHERE id = $1',
          [id],
        );
        const error = await refused(sql, sql.includes('$1') ? [id] : []);
        expect(error.code).toBe('42501');
        // TRUNCATE users CASCADE reaches every table referencing users: one refuses first
        expect(error.message).toMatch(
          sql.includes('users')
            ? /^(credit_transaction|audit_log|llm_usage_log) is append-only: TRUNCATE refused$/
            : new RegExp(
                `^credit_transaction is append-only: ${operation} refused$`,
              ),
        );
        const after = await client.query(
          'SELECT * FROM credit_transaction WHERE id = $1',
          [id],
        );
        expect(after.rows).toEqual(before.rows);
        expect(before.rows).toHaveLength(1);
      },
    );

    it('still lets a deleted user take their rows along (ON DELETE CASCADE)', async () => {
      const gone = await newUser();
      const kept = await newUser();
      for (const user of [gone, kept]) {
        await ledger.grant({ userId: user, amount: 10, idempotencyKey: 'g' });
        const d = await ledger.deduct({
          userId: user,
          amount: 4,
          feature: 'chat_message',
          idempotencyKey: 'd',
        });
        await ledger.refund({
          userId: user,
          amount: 2,
          deductId: d.id,
          idempotencyKey: 'r',
        });
      }
      await dataSource.getRepository(User).delete({ id: gone });
      expect(await rowsOf(gone)).toBe(0);
      expect(await rowsOf(kept)).toBe(3);
      expect(await ledger.balance(kept)).toBe(8);
    });
  });

  describe('metadata', () => {
    /** A ledger under the module's options, with grants declared. */
    const declaredLedger = (audit = {}, digestKey?: string) =>
      new CreditLedgerService(
        dataSource,
        resolveLedgerOptions({
          audit,
          ledger: { metadata: { grant: GrantMetadata } },
          digestKey,
        }),
      );

    it('keeps the declared references and counts and drops every other key', async () => {
      const userId = await newUser();
      const documentId = plainUuid();
      const grant = await declaredLedger().grant({
        userId,
        amount: 10,
        idempotencyKey: 'g',
        metadata: {
          documentId,
          pages: 3,
          source: 'admin_grant',
          amount: 500,
          balanceBefore: 10,
          priceInr: 'INR15000',
          fee: 12,
          note: 'free text with spaces',
          pan: 'ABCPE1234F',
          ref: 'ABCPE1234F',
        },
      });
      const stored = {
        documentId,
        pages: 3,
        source: 'admin_grant',
        sentDigest: expect.stringMatching(/^[a-p]{32}$/) as unknown,
      };
      expect(grant.metadata).toEqual(stored);
      const { rows } = await client.query(
        'SELECT metadata FROM credit_transaction WHERE id = $1',
        [grant.id],
      );
      expect(rows).toEqual([{ metadata: stored }]);
      expect(maskUuids(JSON.stringify(rows))).not.toMatch(
        /ABCPE|15000|500|free text/,
      );
    });

    it('keys the digest of dropped metadata: trying every amount from 0 to 1,000,000 finds it only with the key', async () => {
      const key = randomBytes(32).toString('base64');
      const userId = await newUser();
      const documentId = plainUuid();
      const grant = await declaredLedger({}, key).grant({
        userId,
        amount: 10,
        idempotencyKey: 'amount-probe',
        metadata: { documentId, netAmount: 150000 },
      });
      const { rows } = await client.query<{
        metadata: { sentDigest: string };
        user_id: string;
        idempotency_key: string;
      }>(
        'SELECT metadata, user_id, idempotency_key FROM credit_transaction WHERE id = $1',
        [grant.id],
      );
      const [{ metadata, user_id, idempotency_key }] = rows;
      // what a reader of the row knows: the salt, the kept keys, the shape of the digest
      const salt = `${user_id}\n${idempotency_key}\n`;
      const sent = (n: number) =>
        `{"documentId":${JSON.stringify(documentId)},"netAmount":${n}}`;
      const letters = (bytes: Buffer) =>
        [...bytes]
          .map((b) => String.fromCharCode(97 + (b >> 4), 97 + (b & 15)))
          .join('');
      const found = (digest: (n: number) => string) => {
        for (let n = 0; n <= 1_000_000; n++) {
          if (digest(n) === metadata.sentDigest) return n;
        }
        return null;
      };
      const stored = metadata.sentDigest.slice(8);
      const unkeyed = (n: number) =>
        letters(
          createHash('sha256')
            .update(salt)
            .update(sent(n))
            .digest()
            .subarray(0, 12),
        );
      // the unkeyed digest (before digestKey) and a wrong key: nothing
      expect(found((n) => metadata.sentDigest.slice(0, 8) + unkeyed(n))).toBe(
        null,
      );
      const wrong = new LogDigests(randomBytes(32));
      expect(found((n) => wrong.sent(sent(n), salt))).toBe(null);
      expect(stored).toMatch(/^[a-p]{24}$/);
      // with the key, the same search finds the amount: the search itself works
      const right = new LogDigests(Buffer.from(key, 'utf8'));
      expect(found((n) => right.sent(sent(n), salt))).toBe(150000);
      // three million digests: seconds alone, a minute or more on two cores shared with other runs
    }, 180_000);

    it('a replay is compared under the key that made the first digest, and on what was stored under another', async () => {
      const userId = await newUser();
      const documentId = plainUuid();
      const key = 'k'.repeat(32);
      const sent = { documentId, pages: 3, note: 'first' };
      const first = await declaredLedger({}, key).grant({
        userId,
        amount: 10,
        idempotencyKey: 'restart',
        metadata: sent,
      });
      // the same key in another process (here another service): the dropped part is compared
      await expect(
        declaredLedger({}, key).grant({
          userId,
          amount: 10,
          idempotencyKey: 'restart',
          metadata: { ...sent },
        }),
      ).resolves.toEqual(first);
      expect(
        await failure(
          declaredLedger({}, key).grant({
            userId,
            amount: 10,
            idempotencyKey: 'restart',
            metadata: { ...sent, note: 'second' },
          }),
        ),
      ).toBeInstanceOf(CreditIdempotencyConflictError);
      // another key (a restart without digestKey): what was stored is compared, the dropped part
      // cannot be
      const other = declaredLedger({}, 'o'.repeat(32));
      await expect(
        other.grant({
          userId,
          amount: 10,
          idempotencyKey: 'restart',
          metadata: { ...sent, note: 'second' },
        }),
      ).resolves.toEqual(first);
      for (const metadata of [
        { documentId: plainUuid(), pages: 3, note: 'first' },
        { documentId, pages: 4, note: 'first' },
        { documentId, pages: 3 },
      ]) {
        expect(
          await failure(
            other.grant({
              userId,
              amount: 10,
              idempotencyKey: 'restart',
              metadata,
            }),
          ),
        ).toBeInstanceOf(CreditIdempotencyConflictError);
      }
      expect(await rowsOf(userId)).toBe(1);
    });

    it('stores metadata without a digest when nothing was dropped', async () => {
      const userId = await newUser();
      const metadata = { documentId: plainUuid(), pages: 3 };
      const grant = await declaredLedger().grant({
        userId,
        amount: 1,
        idempotencyKey: 'clean',
        metadata,
      });
      const { rows } = await client.query(
        'SELECT metadata FROM credit_transaction WHERE id = $1',
        [grant.id],
      );
      expect(rows).toEqual([{ metadata }]);
    });

    it('compares what the caller sent: the same key with other metadata conflicts, even where the policy dropped the difference', async () => {
      const ledger = declaredLedger();
      const userId = await newUser();
      const documentId = plainUuid();
      const sent = { documentId, pages: 3, note: 'first' };
      const first = await ledger.grant({
        userId,
        amount: 10,
        idempotencyKey: 'g',
        metadata: sent,
      });
      // the same call again: a repeat
      await expect(
        ledger.grant({
          userId,
          amount: 10,
          idempotencyKey: 'g',
          metadata: { ...sent },
        }),
      ).resolves.toEqual(first);
      // stored alike, sent differently: undeclared key changed, added, or removed
      for (const other of [
        { documentId, pages: 3, note: 'second' },
        { documentId, pages: 3, note: 'first', extra: 1 },
        { documentId, pages: 3 },
      ]) {
        const error = await failure(
          ledger.grant({
            userId,
            amount: 10,
            idempotencyKey: 'g',
            metadata: other,
          }),
        );
        expect(error).toBeInstanceOf(CreditIdempotencyConflictError);
        expect((error as CreditIdempotencyConflictError).fields).toEqual([
          'metadata',
        ]);
      }
      // a first call with nothing dropped, replayed with an undeclared key added
      await ledger.grant({
        userId,
        amount: 1,
        idempotencyKey: 'clean',
        metadata: { documentId, pages: 1 },
      });
      const error = await failure(
        ledger.grant({
          userId,
          amount: 1,
          idempotencyKey: 'clean',
          metadata: { documentId, pages: 1, pan: 'ABCPE1234F' },
        }),
      );
      expect(error).toBeInstanceOf(CreditIdempotencyConflictError);
      expect(await rowsOf(userId)).toBe(2);
    });

    it('in strict mode refuses such metadata with AuditMetadataError and writes nothing', async () => {
      const strict = declaredLedger({ metadataPolicy: { strict: true } });
      const userId = await newUser();
      const error = await failure(
        strict.grant({
          userId,
          amount: 10,
          idempotencyKey: 'g',
          metadata: { pages: 3, amount: 500 },
        }),
      );
      expect(error).toBeInstanceOf(AuditMetadataError);
      expect(error.message).toContain('amount (undeclared_key)');
      expect(await rowsOf(userId)).toBe(0);
    });
  });

  describe('the running balance the database holds', () => {
    const ISOLATIONS = [
      'READ COMMITTED',
      'REPEATABLE READ',
      'SERIALIZABLE',
    ] as const;

    /** Resolves for everyone once `count` callers have arrived. */
    function barrier(count: number): () => Promise<void> {
      let open!: () => void;
      const all = new Promise<void>((resolve) => (open = resolve));
      let arrived = 0;
      return () => {
        if (++arrived === count) open();
        return all;
      };
    }

    /**
     * Checks the user's ledger in the database: places 1..n, each balance the sum of the amounts
     * up to it, none below zero, and `balance()` the last one. Returns the rows.
     */
    async function expectSound(userId: string) {
      const { rows } = await client.query<{
        seq: number;
        operation: string;
        balance: string;
        running: string;
      }>(
        `SELECT seq, operation, balance::text AS balance,
                (sum(CASE WHEN operation = 'deduct' THEN -amount::bigint ELSE amount::bigint END)
                   OVER (ORDER BY seq))::text AS running
           FROM credit_transaction WHERE user_id = $1 ORDER BY seq`,
        [userId],
      );
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
      for (const row of rows) {
        expect(row.balance).toBe(row.running);
        expect(Number(row.balance)).toBeGreaterThanOrEqual(0);
      }
      expect(await ledger.balance(userId)).toBe(
        rows.length === 0 ? 0 : Number(rows[rows.length - 1].balance),
      );
      return rows;
    }

    const staleMessage = (userId: string, isolation: string) =>
      `credit_transaction: deduct for user ${userId} refused, nothing was written: the user's ledger ` +
      `changed after this ${isolation} transaction took its snapshot, so the balance it read is stale. ` +
      `Roll the transaction back and retry it, or pass a READ COMMITTED transaction (or no manager), ` +
      `which reads the ledger after the user's lock`;

    it("numbers each user's rows and keeps the balance after each one", async () => {
      const userId = await newUser();
      const grant = await ledger.grant({
        userId,
        amount: 10,
        idempotencyKey: 'g',
      });
      const deduct = await ledger.deduct({
        userId,
        amount: 4,
        feature: 'chat_message',
        idempotencyKey: 'd',
      });
      await ledger.refund({
        userId,
        amount: 1,
        deductId: deduct.id,
        idempotencyKey: 'r',
      });
      const { rows } = await client.query(
        `SELECT id, seq, balance::text AS balance FROM credit_transaction
          WHERE user_id = $1 ORDER BY seq`,
        [userId],
      );
      expect(rows).toEqual([
        { id: grant.id, seq: 1, balance: '10' },
        { id: deduct.id, seq: 2, balance: '6' },
        { id: expect.any(String), seq: 3, balance: '7' },
      ]);
      await expectSound(userId);
    });

    it.each(ISOLATIONS)(
      "%s: 8 racing deducts of 5 from 10 in callers' transactions, 4 rounds: never below zero, and each refusal says why",
      async (isolation) => {
        for (let round = 0; round < 4; round++) {
          const userId = await newUser();
          await ledger.grant({ userId, amount: 10, idempotencyKey: 'start' });
          const arrive = barrier(8);
          const results = await Promise.allSettled(
            Array.from({ length: 8 }, (_, i) =>
              dataSource.transaction(isolation, async (manager) => {
                // the caller's own first statement fixes its snapshot, before the deduct
                await manager.query(
                  'SELECT count(*) FROM credit_transaction WHERE user_id = $1',
                  [userId],
                );
                await arrive();
                return ledger.deduct(
                  {
                    userId,
                    amount: 5,
                    feature: 'document_generation',
                    idempotencyKey: `doc-${i}`,
                  },
                  { manager },
                );
              }),
            ),
          );
          const taken = results.filter((r) => r.status === 'fulfilled');
          const refused = results
            .filter((r) => r.status === 'rejected')
            .map((r) => r.reason as Error);
          expect(taken.length + refused.length).toBe(8);
          for (const error of refused) {
            if (error instanceof InsufficientCreditsError) {
              expect(error.balance).toBeLessThan(5);
              expect(error.message).toBe(
                `credit_transaction: user ${userId} has ${error.balance} credit(s), a deduct of 5 was refused`,
              );
            } else {
              expect(error).toBeInstanceOf(CreditSnapshotConflictError);
              expect(error).toMatchObject({
                userId,
                operation: 'deduct',
                isolation: isolation.toLowerCase(),
              });
              expect(error.message).toBe(staleMessage(userId, isolation));
            }
          }
          const rows = await expectSound(userId);
          const deducts = rows.filter((r) => r.operation === 'deduct');
          expect(deducts).toHaveLength(taken.length);
          expect(Number(rows[rows.length - 1].balance)).toBe(
            10 - 5 * taken.length,
          );
          if (isolation === 'READ COMMITTED') {
            // each deduct reads the ledger after the lock: two go through, six find 0 left
            expect(taken).toHaveLength(2);
            expect(
              refused.every((e) => e instanceof InsufficientCreditsError),
            ).toBe(true);
          } else {
            // every snapshot predates the first deduct: the first one through makes the others stale
            expect(taken).toHaveLength(1);
            expect(
              refused.filter((e) => e instanceof CreditSnapshotConflictError),
            ).toHaveLength(7);
          }
        }
      },
    );

    it('refuses a REPEATABLE READ caller whose snapshot predates the last write, writes nothing, and its retry goes through', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 10, idempotencyKey: 'start' });
      const deduct = (key: string, options?: CreditWriteOptions) =>
        ledger.deduct(
          {
            userId,
            amount: 5,
            feature: 'document_generation',
            idempotencyKey: key,
          },
          options,
        );
      const inTransaction = (key: string, before?: () => Promise<unknown>) =>
        dataSource.transaction('REPEATABLE READ', async (manager) => {
          await manager.query('SELECT 1 FROM users WHERE id = $1', [userId]);
          await before?.();
          return deduct(key, { manager });
        });

      // another deduct commits after the caller's snapshot
      const error = await failure(
        inTransaction('doc-2', () => deduct('doc-1')),
      );
      expect(error).toBeInstanceOf(CreditSnapshotConflictError);
      expect(error.message).toBe(staleMessage(userId, 'REPEATABLE READ'));
      expect((error as CreditSnapshotConflictError).cause).toMatchObject({
        code: '23505',
        constraint: 'uq_credit_transaction_user_id_seq',
      });
      expect(await rowsOf(userId)).toBe(2);
      // the fix the error names: retry the transaction, or read committed
      await expect(inTransaction('doc-2')).resolves.toMatchObject({
        balance: 0,
      });
      await expectSound(userId);
    });

    it('replays as before: a key recorded after the snapshot is refused as stale, and the retry returns the first result', async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 10, idempotencyKey: 'start' });
      const click = (amount: number, options?: CreditWriteOptions) =>
        ledger.deduct(
          {
            userId,
            amount,
            feature: 'chat_tool_call',
            idempotencyKey: 'click',
          },
          options,
        );
      let first: CreditTransactionResult | undefined;
      const error = await failure(
        dataSource.transaction('REPEATABLE READ', async (manager) => {
          await manager.query('SELECT 1 FROM users WHERE id = $1', [userId]);
          first = await click(3);
          return click(3, { manager });
        }),
      );
      expect(error).toBeInstanceOf(CreditSnapshotConflictError);
      expect((error as CreditSnapshotConflictError).cause).toMatchObject({
        code: '23505',
      });
      await ledger.grant({ userId, amount: 1, idempotencyKey: 'later' });
      const replayed = await dataSource.transaction(
        'REPEATABLE READ',
        (manager) => click(3, { manager }),
      );
      expect(replayed).toEqual(first);
      expect(replayed.balance).toBe(7);
      // the same key with another amount: the conflict of today
      const conflict = await failure(
        dataSource.transaction('SERIALIZABLE', (manager) =>
          click(4, { manager }),
        ),
      );
      expect(conflict).toBeInstanceOf(CreditIdempotencyConflictError);
      expect(conflict).toMatchObject({ fields: ['amount'] });
      expect(await rowsOf(userId)).toBe(3);
      await expectSound(userId);
    });

    it.each(ISOLATIONS)(
      "%s: a plain overdraft is InsufficientCreditsError, and the caller's transaction goes on",
      async (isolation) => {
        const userId = await newUser();
        await ledger.grant({ userId, amount: 3, idempotencyKey: 'start' });
        const result = await dataSource.transaction(
          isolation,
          async (manager) => {
            await manager.query('SELECT 1 FROM users WHERE id = $1', [userId]);
            const error = await failure(
              ledger.deduct(
                {
                  userId,
                  amount: 5,
                  feature: 'chat_message',
                  idempotencyKey: 'big',
                },
                { manager },
              ),
            );
            expect(error).toBeInstanceOf(InsufficientCreditsError);
            expect(error.message).toBe(
              `credit_transaction: user ${userId} has 3 credit(s), a deduct of 5 was refused`,
            );
            return ledger.deduct(
              {
                userId,
                amount: 3,
                feature: 'chat_message',
                idempotencyKey: 'fits',
              },
              { manager },
            );
          },
        );
        expect(result.balance).toBe(0);
        await expectSound(userId);
      },
    );

    it("retries its own transaction when a writer without the user's lock took the next place first", async () => {
      const userId = await newUser();
      await ledger.grant({ userId, amount: 10, idempotencyKey: 'start' });
      const raw = new Client({ connectionString: database.url });
      await raw.connect();
      try {
        // a writer that takes no lock: its row (seq 2) is in flight, not yet committed
        await raw.query('BEGIN');
        await raw.query(
          `INSERT INTO credit_transaction (user_id, operation, feature, amount, idempotency_key)
           VALUES ($1, 'deduct', 'chat_message', 4, 'raw')`,
          [userId],
        );
        const deduct = ledger.deduct({
          userId,
          amount: 5,
          feature: 'chat_message',
          idempotencyKey: 'module',
        });
        // the module's insert of seq 2 waits on the unique index for the writer's outcome
        for (let waiting = false; !waiting;) {
          const { rows } = await client.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'
                AND query LIKE 'INSERT INTO "credit_transaction"%'`,
          );
          waiting = rows[0].n === 1;
        }
        await raw.query('COMMIT');
        await expect(deduct).resolves.toMatchObject({ balance: 1 });
      } finally {
        await raw.end();
      }
      const rows = await expectSound(userId);
      expect(rows.map((r) => r.balance)).toEqual(['10', '6', '1']);
    });

    it("runs its own transactions READ COMMITTED where the server's default is REPEATABLE READ: 2 of 8 deducts of 5 from 10, the rest insufficient", async () => {
      const repeatable = await new DataSource({
        ...demoDataSourceOptions(database.url),
        extra: {
          options: '-c default_transaction_isolation=repeatable\\ read',
        },
      }).initialize();
      try {
        expect(
          await repeatable.query(
            `SELECT current_setting('default_transaction_isolation') AS isolation`,
          ),
        ).toEqual([{ isolation: 'repeatable read' }]);
        const own = new CreditLedgerService(
          repeatable,
          resolveLedgerOptions({}),
        );
        const userId = await newUser();
        await own.grant({ userId, amount: 10, idempotencyKey: 'start' });
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            own.deduct({
              userId,
              amount: 5,
              feature: 'chat_message',
              idempotencyKey: `m-${i}`,
            }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
        for (const r of results.filter((r) => r.status === 'rejected')) {
          expect(r.reason).toBeInstanceOf(InsufficientCreditsError);
          expect(r.reason).toMatchObject({ balance: 0, amount: 5 });
        }
        await expectSound(userId);
      } finally {
        await repeatable.destroy();
      }
    });

    describe('against the application role: direct SQL with the usual CRUD grants', () => {
      const role = `ledger_app_${randomBytes(6).toString('hex')}`;
      const password = randomBytes(12).toString('hex');
      const sessions: Client[] = [];
      let userId: string;

      /** A new connection as the application role. */
      async function connectAsApp(): Promise<Client> {
        const url = new URL(database.url);
        url.username = role;
        url.password = password;
        const session = new Client({ connectionString: url.toString() });
        await session.connect();
        sessions.push(session);
        return session;
      }

      let appSql: Client;
      const refusedAsApp = (sql: string, parameters?: unknown[]) =>
        refusal(appSql, sql, parameters);
      const ledgerRows = async (user: string) =>
        (
          await client.query<Record<string, unknown>>(
            `SELECT * FROM credit_transaction WHERE user_id = $1 ORDER BY seq`,
            [user],
          )
        ).rows;
      const INSERT = `INSERT INTO credit_transaction
        (user_id, operation, feature, amount, refund_of, idempotency_key, seq, balance)
        VALUES ($1, $2, $3, $4, NULL, $5, $6, $7)`;

      beforeAll(async () => {
        await client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
        await client.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
        await client.query(
          `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`,
        );
        await client.query(
          `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${role}`,
        );
        appSql = await connectAsApp();
        userId = await newUser();
        await ledger.grant({ userId, amount: 10, idempotencyKey: 'g' });
        await ledger.deduct({
          userId,
          amount: 4,
          feature: 'chat_message',
          idempotencyKey: 'd',
        }); // seq 2, balance 6
      });
      afterAll(async () => {
        for (const session of sessions) await session.end();
        await client.query(`DROP OWNED BY ${role}`);
        await client.query(`DROP ROLE ${role}`);
      });

      it.each([
        [
          'a wrong balance',
          ['deduct', 'chat_message', 2, 'k', 3, 5],
          '23514',
          /^credit_transaction: balance 5 of user \S+ at seq 3 is not 4 \(the balance before it, 6, with the deduct of 2\)$/,
        ],
        [
          'a grant claiming more than it adds',
          ['grant', null, 1, 'k', 3, 100],
          '23514',
          /^credit_transaction: balance 100 of user \S+ at seq 3 is not 7 \(the balance before it, 6, with the grant of 1\)$/,
        ],
        [
          'a second successor of row 1 (a fork)',
          ['deduct', 'chat_message', 1, 'k', 2, 9],
          '23505',
          /violates unique constraint "uq_credit_transaction_user_id_seq"/,
        ],
        [
          'a second first row (a fork)',
          ['grant', null, 10, 'k', 1, 10],
          '23505',
          /violates unique constraint "uq_credit_transaction_user_id_seq"/,
        ],
        [
          'a row continuing no row',
          ['grant', null, 1, 'k', 5, 7],
          '23503',
          /^credit_transaction: seq 5 of user \S+ continues no row of that user \(the user's last row is seq 2\)$/,
        ],
        [
          'a deduct taking the balance below zero, balance given',
          ['deduct', 'chat_message', 7, 'k', 3, -1],
          '23514',
          /violates check constraint "chk_credit_transaction_running_balance"/,
        ],
        [
          'a deduct taking the balance below zero, balance left to the database',
          ['deduct', 'chat_message', 7, 'k', null, null],
          '23514',
          /violates check constraint "chk_credit_transaction_running_balance"/,
        ],
      ])(
        'refuses %s, and nothing is written',
        async (_, values, code, message) => {
          const before = await ledgerRows(userId);
          const error = await refusedAsApp(INSERT, [userId, ...values]);
          expect(error.code).toBe(code);
          expect(error.message).toMatch(message);
          expect(await ledgerRows(userId)).toEqual(before);
        },
      );

      it('checks against the real ledger, not a temporary table of the same name', async () => {
        const user = await newUser();
        await ledger.grant({ userId: user, amount: 6, idempotencyKey: 'g' });
        const session = await connectAsApp();
        // a temporary table comes first in the session's search_path: it claims a richer head
        await session.query(
          `CREATE TEMPORARY TABLE credit_transaction (user_id uuid, seq integer, balance bigint)`,
        );
        await session.query(
          `INSERT INTO credit_transaction VALUES ($1, 1, 1000000)`,
          [user],
        );
        const insert = (seq: number | null, balance: number | null) =>
          session.query<{ seq: number; balance: string }>(
            `INSERT INTO public.credit_transaction (user_id, operation, amount, idempotency_key, seq, balance)
             VALUES ($1, 'grant', 1, $2, $3, $4) RETURNING seq, balance::text AS balance`,
            [user, `k-${seq}`, seq, balance],
          );
        const error = await insert(2, 1000001).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error?.message).toBe(
          `credit_transaction: balance 1000001 of user ${user} at seq 2 is not 7 (the balance before it, 6, with the grant of 1)`,
        );
        const { rows } = await insert(null, null);
        expect(rows).toEqual([{ seq: 2, balance: '7' }]);
        await expectSound(user);
      });

      it("refuses a row continuing another user's ledger", async () => {
        const other = await newUser();
        const error = await refusedAsApp(INSERT, [
          other,
          'grant',
          null,
          5,
          'k',
          2,
          15,
        ]);
        expect(error.code).toBe('23503');
        expect(error.message).toContain(
          `seq 2 of user ${other} continues no row of that user (the user's last row is seq 0)`,
        );
        expect(await ledgerRows(other)).toEqual([]);
      });

      it('cannot rewrite the chain: UPDATE and DELETE are refused, and so are turning off or dropping the trigger', async () => {
        const before = await ledgerRows(userId);
        for (const sql of [
          `UPDATE credit_transaction SET balance = balance + 100 WHERE user_id = $1`,
          `UPDATE credit_transaction SET seq = seq + 10 WHERE user_id = $1`,
          `DELETE FROM credit_transaction WHERE user_id = $1 AND seq = 2`,
        ]) {
          expect((await refusedAsApp(sql, [userId])).code).toBe('42501');
        }
        for (const sql of [
          `ALTER TABLE credit_transaction DISABLE TRIGGER trg_credit_transaction_running_balance`,
          `DROP TRIGGER trg_credit_transaction_running_balance ON credit_transaction`,
          `ALTER TABLE credit_transaction DROP CONSTRAINT chk_credit_transaction_running_balance`,
        ]) {
          const error = await refusedAsApp(sql);
          expect(error.code).toBe('42501');
          expect(error.message).toMatch(
            /^must be owner of (table|relation) credit_transaction$/,
          );
        }
        expect(await ledgerRows(userId)).toEqual(before);
      });

      it('sets seq and balance when a row leaves them out, one after the other within a statement', async () => {
        const user = await newUser();
        await ledger.grant({ userId: user, amount: 10, idempotencyKey: 'g' });
        const { rows } = await appSql.query(
          `INSERT INTO credit_transaction (user_id, operation, feature, amount, idempotency_key)
           VALUES ($1, 'deduct', 'chat_message', 3, 'a'), ($1, 'grant', NULL, 5, 'b'),
                  ($1, 'deduct', 'chat_message', 12, 'c')
           RETURNING idempotency_key, seq, balance::text AS balance`,
          [user],
        );
        expect(rows).toEqual([
          { idempotency_key: 'a', seq: 2, balance: '7' },
          { idempotency_key: 'b', seq: 3, balance: '12' },
          { idempotency_key: 'c', seq: 4, balance: '0' },
        ]);
        expect(await ledger.balance(user)).toBe(0);
        await expectSound(user);
      });

      it('refuses the second of two REPEATABLE READ transactions spending the same credits without the lock', async () => {
        const user = await newUser();
        await ledger.grant({ userId: user, amount: 10, idempotencyKey: 'g' });
        const [first, second] = [appSql, await connectAsApp()];
        const spend = (session: Client, key: string) =>
          session.query(
            `INSERT INTO credit_transaction (user_id, operation, feature, amount, idempotency_key)
             VALUES ($1, 'deduct', 'chat_message', 10, $2)`,
            [user, key],
          );
        for (const session of [first, second]) {
          await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
          await session.query(
            'SELECT sum(amount) FROM credit_transaction WHERE user_id = $1',
            [user],
          );
        }
        await spend(first, 'first');
        await first.query('COMMIT');
        // the second still sees 10 credits in its snapshot, and continues row 1 as the first did
        const error = await spend(second, 'second').then(
          () => undefined,
          (e: unknown) => e,
        );
        await second.query('ROLLBACK');
        expect(error).toMatchObject({
          code: '23505',
          constraint: 'uq_credit_transaction_user_id_seq',
        });
        const rows = await expectSound(user);
        expect(rows.map((r) => r.balance)).toEqual(['10', '0']);
      });
    });
  });
});

describe('LedgerRunningBalance1795305860000 on a ledger with rows', () => {
  const ours = LOGGING_MIGRATIONS.findIndex(
    (m) => m.name === 'LedgerRunningBalance1795305860000',
  );
  const opened: { database: TestDatabase; dataSources: DataSource[] }[] = [];

  afterAll(async () => {
    for (const { database, dataSources } of opened) {
      for (const d of dataSources) if (d.isInitialized) await d.destroy();
      await database.drop();
    }
  });

  /** A database migrated up to the migration before this one, and a seeded user maker. */
  async function ledgerBefore() {
    const database = await createTestDatabase({ migrated: false });
    const before = await new DataSource({
      ...demoDataSourceOptions(database.url),
      migrations: [...DEMO_MIGRATIONS, ...LOGGING_MIGRATIONS.slice(0, ours)],
    }).initialize();
    const entry = { database, dataSources: [before] };
    opened.push(entry);
    await before.runMigrations();
    const newUser = async () =>
      (await seedFirm(before, `backfill-${randomUUID()}`)).userId;
    /** Inserts a row as the owner, dated `day` (2026-01-dd); returns its id. */
    const insert = async (
      userId: string,
      operation: string,
      amount: number,
      day: string,
      extra: { id?: string; refundOf?: string } = {},
    ) => {
      const [row] = await before.query<{ id: string }[]>(
        `INSERT INTO credit_transaction
           (id, user_id, operation, feature, amount, refund_of, idempotency_key, created_at)
         VALUES (coalesce($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8)
         RETURNING id`,
        [
          extra.id ?? null,
          userId,
          operation,
          operation === 'grant' ? null : 'chat_message',
          amount,
          extra.refundOf ?? null,
          randomUUID(),
          `2026-01-${day}Z`,
        ],
      );
      return row.id;
    };
    /** What TypeORM reports of the migrations (a failure included), kept off the console. */
    const migrationLog: string[] = [];
    /** Runs this migration (and no later one); `revert` then undoes it. */
    const migrateOurs = async (revert = false) => {
      const after = new DataSource({
        ...demoDataSourceOptions(database.url),
        migrations: [
          ...DEMO_MIGRATIONS,
          ...LOGGING_MIGRATIONS.slice(0, ours + 1),
        ],
        logger: {
          logQuery: () => undefined,
          logQueryError: () => undefined,
          logQuerySlow: () => undefined,
          logSchemaBuild: () => undefined,
          logMigration: (message: string) => void migrationLog.push(message),
          log: () => undefined,
        },
      });
      entry.dataSources.push(after);
      await after.initialize();
      try {
        const ran = await after.runMigrations();
        if (revert) await after.undoLastMigration();
        return ran;
      } finally {
        await after.destroy();
      }
    };
    const chainOf = async (userId: string) =>
      (
        await before.query<{ id: string; seq: number; balance: string }[]>(
          `SELECT id, seq, balance::text AS balance FROM credit_transaction
            WHERE user_id = $1 ORDER BY seq`,
          [userId],
        )
      ).map((r) => [r.id, r.seq, r.balance]);
    return { before, newUser, insert, migrateOurs, migrationLog, chainOf };
  }

  it('numbers and sums the existing rows per user in (created_at, id) order, and the ledger goes on from them', async () => {
    const { before, newUser, insert, migrateOurs, chainOf } =
      await ledgerBefore();
    const a = await newUser();
    const a1 = await insert(a, 'grant', 10, '01T00:00:00');
    const a3 = await insert(a, 'deduct', 4, '03T00:00:00');
    const a2 = await insert(a, 'grant', 5, '02T00:00:00');
    const a4 = await insert(a, 'refund', 2, '04T00:00:00', { refundOf: a3 });
    // b: two grants at the same instant, ordered by id
    const b = await newUser();
    const high = await insert(b, 'grant', 2, '05T00:00:00', {
      id: 'ffffffff-ffff-4fff-bfff-ffffffffffff',
    });
    const low = await insert(b, 'grant', 1, '05T00:00:00', {
      id: '00000000-0000-4000-8000-000000000000',
    });
    const b3 = await insert(b, 'deduct', 3, '06T00:00:00');
    const none = await newUser();

    const ran = await migrateOurs();
    expect(ran.map((m) => m.name)).toEqual([
      'LedgerRunningBalance1795305860000',
    ]);
    expect(await chainOf(a)).toEqual([
      [a1, 1, '10'],
      [a2, 2, '15'],
      [a3, 3, '11'],
      [a4, 4, '13'],
    ]);
    expect(await chainOf(b)).toEqual([
      [low, 1, '1'],
      [high, 2, '3'],
      [b3, 3, '0'],
    ]);
    // append-only again, and the ledger continues each chain
    const [trigger] = await before.query<{ enabled: string }[]>(
      `SELECT tgenabled AS enabled FROM pg_trigger WHERE tgname = 'trg_credit_transaction_append_only'`,
    );
    expect(trigger.enabled).toBe('O');
    const error = await before
      .query(`UPDATE credit_transaction SET balance = 0 WHERE id = $1`, [a1])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: '42501' });
    const ledger = new CreditLedgerService(before, resolveLedgerOptions({}));
    expect(await ledger.balance(a)).toBe(13);
    expect(await ledger.balance(none)).toBe(0);
    await expect(
      ledger.deduct({
        userId: a,
        amount: 13,
        feature: 'chat_message',
        idempotencyKey: 'all',
      }),
    ).resolves.toMatchObject({ balance: 0 });
    await expect(
      ledger.grant({ userId: none, amount: 1, idempotencyKey: 'first' }),
    ).resolves.toMatchObject({ balance: 1 });
    expect(
      (await chainOf(a)).map(([, seq, balance]) => [seq, balance]),
    ).toEqual([
      [1, '10'],
      [2, '15'],
      [3, '11'],
      [4, '13'],
      [5, '0'],
    ]);
    expect((await chainOf(none)).map(([, seq]) => seq)).toEqual([1]);
  });

  it('refuses a ledger that goes below zero, changing nothing, and names the user and the correction that lets it run', async () => {
    const { before, newUser, insert, migrateOurs, migrationLog, chainOf } =
      await ledgerBefore();
    const fine = await newUser();
    await insert(fine, 'grant', 3, '01T00:00:00');
    const overdrawn = await newUser();
    const g1 = await insert(overdrawn, 'grant', 5, '01T00:00:00');
    const d = await insert(overdrawn, 'deduct', 8, '02T00:00:00');
    const g2 = await insert(overdrawn, 'grant', 10, '03T00:00:00');

    const error = (await migrateOurs().then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain(
      `LedgerRunningBalance1795305860000: the credit ledger of user ${overdrawn} goes below zero ` +
        `(balance -3 after row ${d} of 2026-01-02T00:00:00.000000Z)`,
    );
    expect(error.message).toContain('Nothing was changed.');
    expect(migrationLog).toContain(
      `Migration "LedgerRunningBalance1795305860000" failed, error: ${error.message}`,
    );
    expect(error.message).toContain(
      `a grant of 3 credit(s) dated just before that row`,
    );
    // nothing changed: no new column, the migration not recorded, the trigger on
    const columns = await before.query(
      `SELECT column_name FROM information_schema.columns
        WHERE table_name = 'credit_transaction' AND column_name IN ('seq', 'balance')`,
    );
    expect(columns).toEqual([]);
    const recorded = await before.query<{ name: string }[]>(
      `SELECT name FROM migrations WHERE name = 'LedgerRunningBalance1795305860000'`,
    );
    expect(recorded).toEqual([]);
    const [trigger] = await before.query<{ enabled: string }[]>(
      `SELECT tgenabled AS enabled FROM pg_trigger WHERE tgname = 'trg_credit_transaction_append_only'`,
    );
    expect(trigger.enabled).toBe('O');

    // the correction the message gives, as the owner; then the migration runs
    const correction = /INSERT INTO credit_transaction .*?\);/.exec(
      error.message,
    );
    expect(correction).not.toBeNull();
    await before.query(correction![0]);
    await expect(migrateOurs()).resolves.toHaveLength(1);
    const chain = await chainOf(overdrawn);
    expect(
      chain.map(([id, seq, balance]) => [
        id === g1 || id === d || id === g2 ? id : 'correction',
        seq,
        balance,
      ]),
    ).toEqual([
      [g1, 1, '5'],
      ['correction', 2, '8'],
      [d, 3, '0'],
      [g2, 4, '10'],
    ]);
    expect(
      (await chainOf(fine)).map(([, seq, balance]) => [seq, balance]),
    ).toEqual([[1, '3']]);
  });

  it('reverts to the schema before it, keeping the rows', async () => {
    const { before, newUser, insert, migrateOurs } = await ledgerBefore();
    const user = await newUser();
    await insert(user, 'grant', 7, '01T00:00:00');
    const rowsBefore = await before.query(
      'SELECT * FROM credit_transaction ORDER BY id',
    );
    const schema = await schemaSnapshot(before);
    await migrateOurs(true);
    expect(await schemaSnapshot(before)).toEqual(schema);
    expect(
      await before.query('SELECT * FROM credit_transaction ORDER BY id'),
    ).toEqual(rowsBefore);
  });
});
