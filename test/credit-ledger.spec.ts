import { randomUUID } from 'node:crypto';
import { IsIn, IsInt, IsUUID, Max } from 'class-validator';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { User } from '../src/demo/entities/index.js';
import {
  AuditMetadataError,
  CreditIdempotencyConflictError,
  CreditLedgerService,
  CreditRefundError,
  CreditUserNotFoundError,
  InsufficientCreditsError,
  LogEntryValidationError,
} from '../src/logging/index.js';
import { resolveLedgerOptions } from '../src/logging/logging.providers.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { maskUuids } from './support/leak-finder.js';
import { seedFirm } from './support/seed.js';
import { refusal } from './support/sql.js';

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
        { name: 'fk_credit_transaction_refund_of', type: 'f' },
        { name: 'fk_credit_transaction_user_id', type: 'f' },
        { name: 'pk_credit_transaction', type: 'p' },
        { name: 'uq_credit_transaction_user_id_idempotency_key', type: 'u' },
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
    const declaredLedger = (audit = {}) =>
      new CreditLedgerService(
        dataSource,
        resolveLedgerOptions({
          audit,
          ledger: { metadata: { grant: GrantMetadata } },
        }),
      );

    it('keeps the declared references and counts and drops every other key', async () => {
      const userId = await newUser();
      const documentId = randomUUID();
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
        sentDigest: expect.stringMatching(/^[a-p]{24}$/) as unknown,
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

    it('stores metadata without a digest when nothing was dropped', async () => {
      const userId = await newUser();
      const metadata = { documentId: randomUUID(), pages: 3 };
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
      const documentId = randomUUID();
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
});
