import { randomUUID } from 'node:crypto';
import {
  LlmCostError,
  LlmUsageRecordError,
  LogEntryValidationError,
  UnknownModelError,
  type AuditLogEntry,
  type CreditDeductInput,
  CreditLedgerService,
  type LlmTrackMeta,
  type LlmUsageEntry,
} from '../src/logging/index.js';
import {
  BAD_COUNTS,
  BAD_STRINGS,
  BAD_UUIDS,
  type BadCase,
  NOT_ENTRIES,
  badCases,
  nested,
} from './support/bad-input.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';

/**
 * Hundreds of generated bad entries for each record API: each gets one clear error naming exactly
 * its bad fields, or (bad metadata) a row with the bad values taken out; none writes anything else,
 * none crashes the process.
 */

describe('bad input to the record APIs', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof loggingApp>>;
  let firm: { firmId: string; userId: string; projectId: string };

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await loggingApp(database.url);
    firm = await seedFirm(app.dataSource, 'bad-input');
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  async function rowCount(): Promise<number> {
    const [{ n }] = await app.dataSource.query<{ n: number }[]>(
      `SELECT (SELECT count(*) FROM llm_usage_log) + (SELECT count(*) FROM audit_log)
              + (SELECT count(*) FROM credit_transaction) AS n`,
    );
    return Number(n);
  }

  /** Runs every case; returns those whose error was not the one expected. */
  async function misjudged(
    cases: BadCase[],
    record: (input: unknown) => Promise<unknown>,
  ): Promise<string[]> {
    const wrong: string[] = [];
    for (const { label, input, fields } of cases) {
      const error = await record(input).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(error instanceof LogEntryValidationError)) {
        wrong.push(
          `${label}: ${error === undefined ? 'accepted' : error instanceof Error ? error.message : typeof error}`,
        );
        continue;
      }
      const named = [
        ...new Set(error.violations.map((v) => v.field.split('.')[0])),
      ].sort();
      if (named.join() !== [...fields].sort().join()) {
        wrong.push(`${label}: named ${named.join(', ')}`);
      }
      if (error.violations.some((v) => !error.message.includes(v.message))) {
        wrong.push(`${label}: the message leaves a violation out`);
      }
    }
    return wrong;
  }

  it('LlmUsageService.record: 200+ bad entries, each refused naming its bad fields, nothing written', async () => {
    const valid: LlmUsageEntry = {
      firmId: firm.firmId,
      cmaProjectId: firm.projectId,
      model: 'gemini-3-flash',
      taskType: 'extraction',
      inputTokens: 1200,
      outputTokens: 300,
      costUsd: '0.001500',
      latencyMs: 840,
      success: true,
      errorMessage: null,
    };
    const cases = badCases(
      valid as unknown as Record<string, unknown>,
      {
        firmId: [...BAD_UUIDS, null, undefined],
        cmaProjectId: BAD_UUIDS,
        model: [...BAD_STRINGS, 'm'.repeat(129), 'gemini 3', '-gemini'],
        taskType: [
          'EXTRACTION',
          'summarize',
          'extraction ',
          "extraction' OR '1'='1",
          '',
          null,
          undefined,
          1,
          {},
        ],
        inputTokens: [...BAD_COUNTS, null, undefined],
        outputTokens: [...BAD_COUNTS, null, undefined],
        costUsd: [
          '-0.01',
          -0.01,
          'abc',
          '1e-7',
          1e-7,
          '10000',
          10_000,
          '0.0000001',
          0.1 + 0.2,
          NaN,
          Infinity,
          '',
          ' 0.1',
          '0x10',
          '1,5',
          null,
          undefined,
          {},
          [],
        ],
        latencyMs: BAD_COUNTS,
        success: ['true', 1, 0, null, 'yes', {}],
        errorMessage: [123, {}, [], true],
      },
      {
        pairs: 60,
        seed: 7,
        extra: [
          ...NOT_ENTRIES,
          {
            label: 'an unknown field',
            input: { ...valid, cost: '0.1' },
            fields: ['cost'],
          },
          {
            label: 'a __proto__ key from JSON',
            input: JSON.parse(
              `{"__proto__": {"polluted": true}, ${JSON.stringify(valid).slice(1)}`,
            ) as unknown,
            fields: ['__proto__'],
          },
          {
            label: 'a constructor key',
            input: { ...valid, constructor: { prototype: { polluted: true } } },
            fields: ['constructor'],
          },
        ],
      },
    );
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const before = await rowCount();
    expect(
      await misjudged(cases, (input) =>
        app.usage.record(input as LlmUsageEntry),
      ),
    ).toEqual([]);
    expect(await rowCount()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // and the valid entry itself goes in
    await app.usage.record(valid);
    expect(await rowCount()).toBe(before + 1);
  });

  it('LlmUsageService.track: 200+ bad metas, each refused before the call naming its bad fields, nothing written', async () => {
    const valid: LlmTrackMeta = {
      firmId: firm.firmId,
      cmaProjectId: firm.projectId,
      model: 'gemini-3-flash',
      taskType: 'extraction',
    };
    const cases = badCases(
      valid as unknown as Record<string, unknown>,
      {
        firmId: [...BAD_UUIDS, null],
        cmaProjectId: BAD_UUIDS,
        model: [...BAD_STRINGS, 'm'.repeat(129), 'gemini 3', null, undefined],
        taskType: ['EXTRACTION', 'summarize', '', null, undefined, 1, {}],
        costUsd: ['-0.01', 'abc', '1e-7', '10000', NaN, Infinity, {}, []],
        durability: ['later', '', 1, null, {}],
      },
      {
        pairs: 110,
        seed: 13,
        extra: [
          ...NOT_ENTRIES.filter(({ input }) => input !== undefined).map(
            (c) => ({ ...c, fields: ['meta'] }),
          ),
          {
            label: 'an unknown field',
            input: { ...valid, inputTokens: 5 },
            fields: ['inputTokens'],
          },
        ],
      },
    );
    expect(cases.length).toBeGreaterThanOrEqual(200);
    let called = 0;
    const call = () => {
      called++;
      return Promise.resolve({
        result: 'ok',
        usage: { inputTokens: 10, outputTokens: 1 },
      });
    };
    const before = await rowCount();
    expect(
      await misjudged(cases, (input) =>
        app.usage.track(input as LlmTrackMeta, call),
      ),
    ).toEqual([]);
    expect(called).toBe(0);
    expect(await rowCount()).toBe(before);

    // a well-formed model without a price: refused before the call too
    for (const model of ['gemini-3.1-pro-ultra', 'gpt-9', 'models/unknown']) {
      await expect(app.usage.track({ ...valid, model }, call)).rejects.toThrow(
        UnknownModelError,
      );
    }
    expect(called).toBe(0);

    // usage the call reports that cannot be costed: the call ran, its result is handed back
    // inside the error, and no row with a made-up cost is written
    for (const usage of [
      { inputTokens: -1, outputTokens: 1 },
      { inputTokens: 1.5, outputTokens: 1 },
      { inputTokens: NaN, outputTokens: 1 },
      { inputTokens: 10, outputTokens: Infinity },
      { inputTokens: 10, outputTokens: 1, cachedInputTokens: 11 },
      { inputTokens: 2_147_483_648, outputTokens: 1 },
      { inputTokens: '10', outputTokens: 1 },
    ]) {
      const error: unknown = await app.usage
        .track(valid, () =>
          Promise.resolve({ result: 'answer', usage } as never),
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(LlmUsageRecordError);
      expect((error as LlmUsageRecordError).result).toBe('answer');
      expect((error as LlmUsageRecordError).cause).toBeInstanceOf(LlmCostError);
    }
    expect(await rowCount()).toBe(before);
  });

  it('AuditLogService.record: 200+ bad entries, each refused naming its bad fields, nothing written', async () => {
    const valid: AuditLogEntry = {
      firmId: firm.firmId,
      userId: firm.userId,
      action: 'create_project',
      entityType: 'cma_project',
      entityId: firm.projectId,
      metadata: { pages: 3 },
      ipAddress: '203.0.113.7',
    };
    const identifiers = [
      ...BAD_STRINGS,
      'Create_Project',
      'create-project',
      '1create',
      'a'.repeat(65),
      null,
      undefined,
    ];
    const cases = badCases(
      valid as unknown as Record<string, unknown>,
      {
        firmId: [...BAD_UUIDS, null, undefined],
        userId: BAD_UUIDS,
        action: identifiers,
        entityType: identifiers,
        entityId: BAD_UUIDS,
        ipAddress: [
          ...BAD_STRINGS,
          '256.0.0.1',
          '1.2.3',
          '::g',
          '203.0.113.7, 10.0.0.1',
          'localhost',
        ],
        metadata: ['text', 42, true, [], [{ pages: 1 }]],
      },
      {
        pairs: 60,
        seed: 11,
        extra: [
          ...NOT_ENTRIES,
          {
            label: 'an unknown field',
            input: { ...valid, amount: 150_000 },
            fields: ['amount'],
          },
          {
            label: 'a __proto__ key from JSON',
            input: JSON.parse(
              `{"__proto__": {"polluted": true}, ${JSON.stringify(valid).slice(1)}`,
            ) as unknown,
            fields: ['__proto__'],
          },
        ],
      },
    );
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const before = await rowCount();
    expect(
      await misjudged(cases, (input) =>
        app.audit.record(input as AuditLogEntry),
      ),
    ).toEqual([]);
    expect(await rowCount()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('AuditLogService.record in the heuristic mode: bad metadata is taken out, and the row keeps the rest', async () => {
    const heuristic = await loggingApp(database.url, {
      audit: { metadataPolicy: { mode: 'heuristic' } },
    });
    const pollutedKey = JSON.parse(
      '{"__proto__": {"polluted": true}, "pages": 2}',
    ) as Record<string, unknown>;
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] =
      [
        ['an amount', { amount: 150_000.5, pages: 2 }, { pages: 2 }],
        ['an amount under a neutral key', { v: 150_000.5 }, {}],
        ['free text', { note: 'client is late on EMI payments' }, {}],
        ['a PAN', { ref: 'ABCPE1234F' }, {}],
        ['a GSTIN', { ref: '27ABCPE1234F1Z5' }, {}],
        ['an Aadhaar number', { ref: '1234 5678 9012' }, {}],
        ['an Aadhaar number as a number', { ref: 123_456_789_012 }, {}],
        ['a bank account', { ref: '50100123456789' }, {}],
        ['an IFSC', { ref: 'HDFC0001234' }, {}],
        ['an email', { ref: 'cfo@acme.example' }, {}],
        ['a currency amount', { ref: 'INR15000' }, {}],
        ['a negative number', { pages: -1 }, {}],
        ['NaN', { pages: NaN }, {}],
        ['Infinity', { pages: Infinity }, {}],
        ['a Date', { at: new Date() }, {}],
        ['a function', { fn: () => 1 }, {}],
        ['a BigInt', { n: BigInt(12) }, {}],
        ['a __proto__ key', pollutedKey, { pages: 2 }],
        [
          'a constructor key',
          { constructor: { a: 1 }, pages: 2 },
          { pages: 2 },
        ],
        ['a key that is no identifier', { 'a b': 1, pages: 2 }, { pages: 2 }],
        ['SQL as a key', { "'; DROP TABLE audit_log; --": 1 }, {}],
        ['SQL as a value', { ref: "'; DROP TABLE audit_log; --" }, {}],
        ['a password', { password: 'hunter2' }, {}],
        ['a token', { accessToken: 'abc123' }, {}],
        // kept to the depth bound (3 levels), the rest cut
        [
          'deep nesting',
          { deep: nested(50), pages: 2 },
          { deep: { a: { a: {} } }, pages: 2 },
        ],
        [
          'a huge string',
          { blob: 'x'.repeat(100_000), pages: 2 },
          { pages: 2 },
        ],
        [
          'a huge array',
          { ids: Array.from({ length: 10_000 }, () => 1), pages: 2 },
          { pages: 2 },
        ],
        [
          'thousands of keys',
          Object.fromEntries(
            Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]),
          ),
          'bounded',
        ] as unknown as [
          string,
          Record<string, unknown>,
          Record<string, unknown>,
        ],
      ];
    for (const [label, metadata, expected] of cases) {
      const id = await heuristic.audit.record({
        firmId: firm.firmId,
        action: 'upload_file',
        entityType: 'uploaded_file',
        entityId: randomUUID(),
        metadata,
      });
      const [row] = await app.dataSource.query<
        { metadata: Record<string, unknown> }[]
      >('SELECT metadata FROM audit_log WHERE id = $1', [id]);
      if (expected === ('bounded' as unknown)) {
        // the JSON bound of audit metadata, less room for the module's own keys
        const bytes = Buffer.byteLength(JSON.stringify(row.metadata));
        expect(bytes).toBeLessThanOrEqual(7680);
        expect(Object.keys(row.metadata).length).toBeGreaterThan(100);
      } else {
        expect({ label, stored: row.metadata }).toEqual({
          label,
          stored: expected,
        });
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await heuristic.close();
  });

  it('CreditLedgerService.deduct and grant: 200+ bad inputs each, refused naming their bad fields, nothing written', async () => {
    const ledger = app.moduleRef.get(CreditLedgerService);
    await ledger.grant({
      userId: firm.userId,
      amount: 100,
      idempotencyKey: 'bad-input-grant',
    });
    const valid: CreditDeductInput = {
      userId: firm.userId,
      amount: 1,
      feature: 'chat_message',
      idempotencyKey: 'deduct-1',
      metadata: { messages: 1 },
    };
    const bad = {
      userId: [...BAD_UUIDS, null, undefined],
      amount: [...BAD_COUNTS, 0, null, undefined],
      idempotencyKey: [
        ...BAD_STRINGS.filter((v) => v !== 'x'.repeat(10_000)),
        'k'.repeat(129),
        'has space',
        'a/b',
        null,
        undefined,
      ],
      metadata: ['text', 42, true, [], [{ a: 1 }]],
    };
    const deducts = badCases(
      valid as unknown as Record<string, unknown>,
      {
        ...bad,
        feature: ['DOCUMENT_GENERATION', 'chat', '', null, undefined, 1, {}],
      },
      { pairs: 120, seed: 17, extra: NOT_ENTRIES },
    );
    const { feature: _feature, ...grant } = valid;
    const grants = badCases(grant, bad, {
      pairs: 130,
      seed: 19,
      extra: NOT_ENTRIES,
    });
    expect(deducts.length).toBeGreaterThanOrEqual(200);
    expect(grants.length).toBeGreaterThanOrEqual(200);
    const before = await rowCount();
    expect(
      await misjudged(deducts, (input) =>
        ledger.deduct(input as CreditDeductInput),
      ),
    ).toEqual([]);
    expect(
      await misjudged(grants, (input) =>
        ledger.grant(input as CreditDeductInput),
      ),
    ).toEqual([]);
    expect(await rowCount()).toBe(before);
    expect(await ledger.balance(firm.userId)).toBe(100);
  });
});
