import { setTimeout as sleep } from 'node:timers/promises';
import {
  LlmCostError,
  LlmUsageRecordError,
  LogEntryValidationError,
  type LoggingModuleOptions,
  ModelPricingService,
  UnknownModelError,
  auditContext,
  usageFromGemini,
} from '../src/logging/index.js';
import { loggingApp } from './support/logging-app.js';
import { captureLogs } from './support/logs.js';
import { databaseSuite } from './support/suite.js';
import { seedFirm } from './support/seed.js';

/**
 * LLM costs end to end: `track()` and `record()` with computed costs, read back from
 * llm_usage_log with SQL. "µ$" is a micro-dollar (10^-6 USD), the unit of NUMERIC(10,6).
 */

interface Row {
  model: string;
  task_type: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
  latency_ms: number | null;
  success: boolean;
  error_message: string | null;
  cma_project_id: string | null;
}

describe('LLM costs: prices and track()', () => {
  const suite = databaseSuite();

  async function start(options: LoggingModuleOptions = {}) {
    const app = suite.own(await loggingApp(suite.url, options));
    const firm = await seedFirm(app.dataSource, `firm-${suite.started}`);
    return { ...app, ...firm };
  }

  async function rows(firmId: string): Promise<Row[]> {
    const result = await suite.reader.query<Row>(
      `SELECT model, task_type, input_tokens, output_tokens, cost_usd::text AS cost_usd,
              latency_ms, success, error_message, cma_project_id
         FROM llm_usage_log WHERE firm_id = $1 ORDER BY created_at, input_tokens`,
      [firmId],
    );
    return result.rows;
  }

  async function count(firmId: string): Promise<number> {
    const {
      rows: [{ n }],
    } = await suite.reader.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM llm_usage_log WHERE firm_id = $1',
      [firmId],
    );
    return n;
  }

  /** Records one call through track() and returns the cost stored for it. */
  async function tracked(
    usage: Awaited<ReturnType<typeof start>>['usage'],
    firmId: string,
    model: string,
    inputTokens: number,
    outputTokens: number,
    cachedInputTokens?: number,
  ): Promise<string> {
    await usage.track({ firmId, model, taskType: 'extraction' }, () => ({
      result: null,
      usage: { inputTokens, outputTokens, cachedInputTokens },
    }));
    const {
      rows: [row],
    } = await suite.reader.query<{ cost_usd: string }>(
      `SELECT cost_usd::text AS cost_usd FROM llm_usage_log
        WHERE firm_id = $1 ORDER BY created_at DESC LIMIT 1`,
      [firmId],
    );
    return row.cost_usd;
  }

  it('stores hand-computed costs exactly, with and without cached tokens, on both sides of the 200k tier', async () => {
    const { usage, firmId } = await start();
    const cases: [string, number, number, number | undefined, string][] = [
      // gemini-2.0-flash 0.10 / 0.025 / 0.40
      // 1000 × 0.10 = 100 µ$ + 500 × 0.40 = 200 µ$ = 300 µ$
      ['gemini-2.0-flash', 1000, 500, undefined, '0.000300'],
      // (10000 - 4000) × 0.10 = 600 + 4000 × 0.025 = 100 + 1000 × 0.40 = 400 → 1100 µ$
      ['gemini-2.0-flash', 10_000, 1000, 4000, '0.001100'],
      // gemini-3-flash 0.50 / 0.05 / 3.00
      // 1200 × 0.50 = 600 + 300 × 3.00 = 900 → 1500 µ$
      ['gemini-3-flash', 1200, 300, undefined, '0.001500'],
      // (1200 - 1000) × 0.50 = 100 + 1000 × 0.05 = 50 + 300 × 3.00 = 900 → 1050 µ$
      ['gemini-3-flash-preview', 1200, 300, 1000, '0.001050'],
      // gemini-3.1-pro 2.00 / 0.20 / 12.00; above 200k: 4.00 / 0.40 / 18.00
      // 200000 × 2.00 = 400000 + 1000 × 12.00 = 12000 → 412000 µ$ (200,000 exactly: lower tier)
      ['gemini-3.1-pro', 200_000, 1000, undefined, '0.412000'],
      // 200001 × 4.00 = 800004 + 1000 × 18.00 = 18000 → 818004 µ$ (upper tier)
      ['gemini-3.1-pro', 200_001, 1000, undefined, '0.818004'],
      // 150000 × 2.00 = 300000 + 50000 × 0.20 = 10000 + 1000 × 12.00 = 12000 → 322000 µ$
      ['gemini-3.1-pro', 200_000, 1000, 50_000, '0.322000'],
      // 150001 × 4.00 = 600004 + 50000 × 0.40 = 20000 + 1000 × 18.00 = 18000 → 638004 µ$
      ['models/gemini-3.1-pro-preview', 200_001, 1000, 50_000, '0.638004'],
      // rounding: 5 × 0.10 = 0.5 µ$ → 1 µ$; 4 × 0.10 = 0.4 µ$ → 0
      ['gemini-2.0-flash', 5, 0, undefined, '0.000001'],
      ['gemini-2.0-flash', 4, 0, undefined, '0.000000'],
      // rounding once: 3 × 0.10 + 1 × 0.40 = 0.7 µ$ → 1 µ$
      ['gemini-2.0-flash', 3, 1, undefined, '0.000001'],
      // 200001 × 2.50 = 500002.5 µ$ → 500003 µ$ (gemini-2.5-pro upper tier)
      ['gemini-2.5-pro', 200_001, 0, undefined, '0.500003'],
    ];
    for (const [model, input, output, cached, expected] of cases) {
      expect([
        model,
        input,
        output,
        cached,
        await tracked(usage, firmId, model, input, output, cached),
      ]).toEqual([model, input, output, cached, expected]);
      // cost() without recording agrees with what was stored
      expect(
        usage.cost(model, {
          inputTokens: input,
          outputTokens: output,
          cachedInputTokens: cached,
        }),
      ).toBe(expected);
    }
    expect(await count(firmId)).toBe(cases.length);
  });

  it('sums 10,000 recorded micro-costs in SQL to the exact BigInt sum', async () => {
    const { usage, writer, firmId } = await start();
    // Independent prices in 10^-9 USD per 1M tokens: input, cached input, output.
    const PRICES: Record<string, [bigint, bigint, bigint]> = {
      'gemini-2.0-flash': [100_000_000n, 25_000_000n, 400_000_000n],
      'gemini-3-flash': [500_000_000n, 50_000_000n, 3_000_000_000n],
      'gemini-2.5-flash': [300_000_000n, 30_000_000n, 2_500_000_000n],
    };
    const models = Object.keys(PRICES);
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    let expected = 0n;
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const model = models[i % models.length];
      const inputTokens = next(60);
      const cachedInputTokens = next(inputTokens + 1);
      const outputTokens = next(25);
      const [p, c, o] = PRICES[model];
      // Exact cost in 10^-15 USD, then half up to micro-dollars (10^9 of those).
      const exact =
        BigInt(inputTokens - cachedInputTokens) * p +
        BigInt(cachedInputTokens) * c +
        BigInt(outputTokens) * o;
      expected +=
        exact / 1_000_000_000n +
        ((exact % 1_000_000_000n) * 2n >= 1_000_000_000n ? 1n : 0n);
      calls.push(
        usage.track(
          { firmId, model, taskType: 'classification', durability: 'buffered' },
          () => ({
            result: i,
            usage: { inputTokens, outputTokens, cachedInputTokens },
          }),
        ),
      );
    }
    await Promise.all(calls);
    await writer.flush();
    const {
      rows: [sum],
    } = await suite.reader.query<{ n: number; total: string; micros: string }>(
      `SELECT count(*)::int AS n, sum(cost_usd)::text AS total, (sum(cost_usd) * 1000000)::bigint::text AS micros
         FROM llm_usage_log WHERE firm_id = $1`,
      [firmId],
    );
    expect(sum.n).toBe(10_000);
    expect(BigInt(sum.micros)).toBe(expected);
    const whole = expected / 1_000_000n;
    const fraction = (expected % 1_000_000n).toString().padStart(6, '0');
    expect(sum.total).toBe(`${whole}.${fraction}`);
    expect(expected).toBeGreaterThan(0n);
  });

  it('records a successful call: tokens, exact cost, latency, project, success', async () => {
    const { usage, firmId, projectId } = await start();
    const result = await usage.track(
      {
        firmId,
        cmaProjectId: projectId,
        model: 'gemini-3-flash',
        taskType: 'validation',
      },
      async () => {
        await sleep(60);
        return {
          result: { text: 'ok' },
          usage: usageFromGemini({
            promptTokenCount: 1200,
            cachedContentTokenCount: 1000,
            candidatesTokenCount: 250,
            thoughtsTokenCount: 50,
          }),
        };
      },
    );
    expect(result).toEqual({ text: 'ok' });
    const [row] = await rows(firmId);
    expect(row).toMatchObject({
      model: 'gemini-3-flash',
      task_type: 'validation',
      input_tokens: 1200,
      output_tokens: 300, // 250 candidates + 50 thoughts
      // (1200 - 1000) × 0.50 = 100 + 1000 × 0.05 = 50 + 300 × 3.00 = 900 → 1050 µ$
      cost_usd: '0.001050',
      success: true,
      error_message: null,
      cma_project_id: projectId,
    });
    expect(row.latency_ms).toBeGreaterThanOrEqual(59); // performance.now, rounded to ms
    expect(row.latency_ms).toBeLessThan(5000);
    expect(usage.stats()).toMatchObject({ callsTracked: 1, recordFailures: 0 });
  });

  it('records a failed call with a scrubbed, bounded message and rethrows the original error', async () => {
    const { usage, firmId } = await start();
    const original = new Error(
      'request to https://generativelanguage.googleapis.com/v1/models/x?key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW failed; ' +
        'Authorization: Bearer sk-proj-abcDEF123456ghiJKL; proxy http://svc:hunter2@proxy.internal:3128 ' +
        'z'.repeat(2000),
    );
    let thrown: unknown;
    try {
      await usage.track(
        { firmId, model: 'gemini-3.1-pro', taskType: 'fallback' },
        async () => {
          await sleep(30);
          throw original;
        },
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(original);
    expect((thrown as Error).message).toContain(
      'AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW',
    );
    const [row] = await rows(firmId);
    expect(row).toMatchObject({
      model: 'gemini-3.1-pro',
      task_type: 'fallback',
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: '0.000000',
      success: false,
    });
    expect(row.latency_ms).toBeGreaterThanOrEqual(29);
    const message = row.error_message ?? '';
    // one bound for every path: record({ errorMessage }) and track() store the same text
    expect(message.length).toBe(2000);
    expect(message.endsWith('…')).toBe(true);
    expect(message).toMatch(/^Error: request to https:\/\/generativelanguage/);
    for (const secret of ['AIza', 'sk-proj', 'hunter2', 'abcDEF']) {
      expect(message).not.toContain(secret);
    }
    expect(message).toContain('key=[REDACTED]');
    expect(usage.stats()).toMatchObject({ callsFailed: 1 });
  });

  it('rethrows non-Error throws unchanged too', async () => {
    const { usage, firmId } = await start();
    const thrown = { code: 503 };
    await expect(
      usage.track(
        { firmId, model: 'gemini-3-flash', taskType: 'extraction' },
        () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- what some SDKs throw
          throw thrown;
        },
      ),
    ).rejects.toBe(thrown);
    expect((await rows(firmId))[0]).toMatchObject({
      success: false,
      error_message: 'thrown value: [object Object]',
    });
  });

  it('refuses an unknown model before calling fn, and writes nothing', async () => {
    const { usage, firmId } = await start();
    let calls = 0;
    const fn = () => {
      calls++;
      return { result: 1, usage: { inputTokens: 1, outputTokens: 1 } };
    };
    for (const model of [
      'gemini-3.1-pro-ultra',
      'gemini-2.0-flash-lite',
      'gpt-4o',
    ]) {
      await expect(
        usage.track({ firmId, model, taskType: 'extraction' }, fn),
      ).rejects.toThrow(UnknownModelError);
      expect(() =>
        usage.cost(model, { inputTokens: 1, outputTokens: 1 }),
      ).toThrow(`No price for model "${model}"`);
    }
    expect(calls).toBe(0);
    expect(await count(firmId)).toBe(0);
  });

  it('takes a caller-given cost for a model without a price', async () => {
    const { usage, firmId } = await start();
    await usage.track(
      { firmId, model: 'acme-7b', taskType: 'extraction', costUsd: '0.000124' },
      () => ({ result: 'x', usage: { inputTokens: 10, outputTokens: 5 } }),
    );
    expect((await rows(firmId))[0]).toMatchObject({
      model: 'acme-7b',
      cost_usd: '0.000124',
      input_tokens: 10,
    });
  });

  it('refuses a bad meta before calling fn, naming every bad field, and writes nothing', async () => {
    const { usage, firmId } = await start();
    let calls = 0;
    const fn = () => {
      calls++;
      return { result: 1, usage: { inputTokens: 1, outputTokens: 1 } };
    };
    let error: unknown;
    try {
      await usage.track(
        {
          firmId: 'not-a-uuid',
          model: 'gemini-3-flash',
          taskType: 'summary' as 'extraction',
          durability: 'eventually' as 'await',
          inputTokens: 5,
        } as never,
        fn,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LogEntryValidationError);
    expect(
      (error as LogEntryValidationError).violations.map((v) => v.field).sort(),
    ).toEqual(['durability', 'firmId', 'inputTokens', 'taskType']);
    // no firm at all: outside an audited request, firmId is required
    await expect(
      usage.track({ model: 'gemini-3-flash', taskType: 'extraction' }, fn),
    ).rejects.toThrow('firmId must be a UUID');
    // a bad caller-given cost
    await expect(
      usage.track(
        { firmId, model: 'acme', taskType: 'extraction', costUsd: 10_000 },
        fn,
      ),
    ).rejects.toThrow(
      /costUsd must be a non-negative decimal that fits NUMERIC\(10,6\)/,
    );
    expect(calls).toBe(0);
    expect(await count(firmId)).toBe(0);
  });

  it('fills firmId from the audit context', async () => {
    const { usage, firmId } = await start();
    await auditContext.run(
      { firmId, userId: null, ipAddress: null, requestId: null },
      () =>
        usage.track(
          { model: 'gemini-2.0-flash', taskType: 'extraction' },
          () => ({
            result: null,
            usage: { inputTokens: 1000, outputTokens: 0 },
          }),
        ),
    );
    // 1000 × 0.10 = 100 µ$
    expect((await rows(firmId))[0]).toMatchObject({ cost_usd: '0.000100' });
  });

  it('keeps the result of a successful call whose row cannot be recorded: overflowing cost, invalid usage', async () => {
    const { usage, firmId } = await start();
    const big = { answer: 42 };
    let error: unknown;
    try {
      // 2147483647 × 4.00 + 2147483647 × 18.00 = 47244.640234 USD: does not fit NUMERIC(10,6)
      await usage.track(
        { firmId, model: 'gemini-3.1-pro', taskType: 'extraction' },
        () => ({
          result: big,
          usage: { inputTokens: 2_147_483_647, outputTokens: 2_147_483_647 },
        }),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LlmUsageRecordError);
    expect((error as LlmUsageRecordError).result).toBe(big);
    expect((error as LlmUsageRecordError).cause).toBeInstanceOf(LlmCostError);
    expect((error as Error).message).toMatch(
      /costUsd must be below 10000 USD to fit NUMERIC\(10,6\)/,
    );

    await expect(
      usage.track(
        { firmId, model: 'gemini-3-flash', taskType: 'extraction' },
        () => ({
          result: big,
          usage: { inputTokens: 10, outputTokens: 1, cachedInputTokens: 11 },
        }),
      ),
    ).rejects.toMatchObject({
      result: big,
      cause: { field: 'usage.cachedInputTokens', rule: 'cachedWithinInput' },
    });
    expect(() =>
      usage.cost('gemini-3.1-pro', {
        inputTokens: 2_147_483_647,
        outputTokens: 2_147_483_647,
      }),
    ).toThrow(LlmCostError);
    expect(await count(firmId)).toBe(0);
    expect(usage.stats()).toMatchObject({ callsTracked: 0, recordFailures: 2 });
  });

  it('keeps the result when the write itself fails', async () => {
    const { usage, moduleRef } = await start();
    const logs = captureLogs(moduleRef);
    const missingFirm = '00000000-0000-4000-8000-000000000000';
    await expect(
      usage.track(
        {
          firmId: missingFirm,
          model: 'gemini-3-flash',
          taskType: 'extraction',
        },
        () => ({
          result: 'kept',
          usage: { inputTokens: 1, outputTokens: 1 },
        }),
      ),
    ).rejects.toMatchObject({
      name: 'LlmUsageRecordError',
      result: 'kept',
      cause: { name: 'LogWriteError' },
    });
    expect(logs.error).toEqual([
      expect.stringContaining(
        'llm_usage_log: 1 row(s) could not be written: insert or update on table "llm_usage_log" violates foreign key constraint "fk_llm_usage_log_firm_id"',
      ),
    ]);
  });

  it('uses the prices and aliases of forRoot, and record() takes the cost of cost()', async () => {
    const { usage, firmId, moduleRef } = await start({
      pricing: {
        models: {
          'gemini-3-flash': {
            inputPerMTok: '0.40',
            cachedInputPerMTok: '0.04',
            outputPerMTok: '2.00',
          },
          'acme-7b': {
            inputPerMTok: '0.07',
            cachedInputPerMTok: '0.007',
            outputPerMTok: '0.21',
          },
        },
        aliases: { 'gemini-3.1-pro-ultra': 'gemini-3.1-pro' },
      },
    });
    // override: 1200 × 0.40 = 480 + 300 × 2.00 = 600 → 1080 µ$
    expect(await tracked(usage, firmId, 'gemini-3-flash', 1200, 300)).toBe(
      '0.001080',
    );
    // added: 10000 × 0.07 = 700 + 1000 × 0.21 = 210 → 910 µ$
    expect(
      await tracked(usage, firmId, 'google/acme-7b-001', 10_000, 1000),
    ).toBe('0.000910');
    // alias: 1000 × 2.00 + 100 × 12.00 = 3200 µ$
    expect(
      await tracked(usage, firmId, 'gemini-3.1-pro-ultra', 1000, 100),
    ).toBe('0.003200');
    expect(
      moduleRef.get(ModelPricingService).resolve('acme-7b')?.price.inputPerMTok,
    ).toBe('0.07');
    const costUsd = usage.cost('acme-7b', { inputTokens: 1, outputTokens: 0 });
    // 1 × 0.07 = 0.07 µ$ → 0
    expect(costUsd).toBe('0.000000');
    await usage.record({
      firmId,
      model: 'acme-7b',
      taskType: 'extraction',
      inputTokens: 1,
      outputTokens: 0,
      costUsd,
    });
    expect(await count(firmId)).toBe(4);
  });

  it('refuses invalid pricing options at startup, naming the field', async () => {
    await expect(
      loggingApp(suite.url, {
        pricing: {
          models: {
            'acme-7b': {
              inputPerMTok: '0.07',
              cachedInputPerMTok: '0.007',
              outputPerMTok: '-1',
            },
          },
        },
      }),
    ).rejects.toThrow(
      "LoggingModule option pricing.models.acme-7b.outputPerMTok must be a non-negative decimal string (at most 6 integer and 9 fractional digits, e.g. '0.10'), in USD per 1M tokens",
    );
    await expect(
      loggingApp(suite.url, {
        pricing: { aliases: { 'gemini-4': 'gemini-5' } },
      }),
    ).rejects.toThrow(
      'LoggingModule option pricing.aliases.gemini-4 must be the name of a model in the price table (built-in or in pricing.models)',
    );
  });
});
