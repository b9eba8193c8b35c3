import {
  LogEntryValidationError,
  LogWriterClosedError,
  type LlmUsageEntry,
  type LoggingModuleOptions,
  usageFromGemini,
} from '../src/logging/index.js';
import { loggingApp } from './support/logging-app.js';
import { captureLogs } from './support/logs.js';
import { inMemoryOtel, pointOf } from './support/otel.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';

/**
 * The metrics through the host's meter after a known sequence: tracked calls, a failure, a
 * statement retried while the table is locked, an entry rejected, audited actions.
 */

const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
  16777216, 67108864,
];
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
  40.96, 81.92,
];

/** The metric attributes of the tracked calls below. */
const EXTRACTION = {
  'gen_ai.operation.name': 'generate_content',
  'gen_ai.provider.name': 'gcp.gemini',
  'gen_ai.request.model': 'gemini-2.5-flash',
  'cma_logging.task_type': 'extraction',
};

describe('telemetry: metrics', () => {
  const suite = databaseSuite();
  const otel = inMemoryOtel();
  beforeEach(() => otel.install());
  afterEach(() => otel.uninstall());

  /** The app on a connection whose statements give up after 100 ms waiting for a lock. */
  async function start(options: LoggingModuleOptions = {}) {
    const url = new URL(suite.url);
    url.searchParams.set('options', '-c lock_timeout=100');
    const app = suite.own(await loggingApp(url.toString(), options));
    const firm = await seedFirm(app.dataSource, `firm-${suite.started}`);
    return { ...app, ...firm };
  }

  it('counts tokens, durations, cost and the writer rows, a retry and a rejection included', async () => {
    const { usage, writer, firmId } = await start({
      writer: { retry: { attempts: 20, baseDelayMs: 50, maxDelayMs: 100 } },
    });
    const meta = {
      firmId,
      model: 'gemini-2.5-flash',
      taskType: 'extraction',
    } as const;
    await usage.track(meta, () => ({
      result: 1,
      usage: { inputTokens: 1000, outputTokens: 200 },
    }));
    await expect(
      usage.track(meta, () => Promise.reject(new RangeError('boom'))),
    ).rejects.toThrow(RangeError);

    // The table is locked longer than lock_timeout: the INSERT fails (55P03) and is retried.
    await suite.reader.query('BEGIN');
    await suite.reader.query('LOCK TABLE llm_usage_log IN EXCLUSIVE MODE');
    const locked = usage.track(meta, () => ({
      result: 2,
      usage: { inputTokens: 50, outputTokens: 7 },
    }));
    await new Promise((resolve) => setTimeout(resolve, 400));
    await suite.reader.query('COMMIT');
    await locked;

    await expect(
      usage.record({ firmId, model: '' } as unknown as LlmUsageEntry),
    ).rejects.toThrow(LogEntryValidationError);

    const stats = writer.stats();
    expect(stats.retries).toBeGreaterThanOrEqual(1);
    const m = await otel.metrics();
    const call = EXTRACTION;
    const tokens = m.get('gen_ai.client.token.usage');
    expect(pointOf(tokens, { ...call, 'gen_ai.token.type': 'input' })).toEqual({
      count: 2,
      sum: 1050,
      boundaries: TOKEN_BUCKETS,
    });
    expect(pointOf(tokens, { ...call, 'gen_ai.token.type': 'output' })).toEqual(
      { count: 2, sum: 207, boundaries: TOKEN_BUCKETS },
    );
    expect(tokens).toHaveLength(2); // the failed call reported no tokens

    const durations = m.get('gen_ai.client.operation.duration');
    expect(durations).toHaveLength(2);
    expect(pointOf(durations, call)).toMatchObject({
      count: 2,
      boundaries: DURATION_BUCKETS,
    });
    expect(
      pointOf(durations, { ...call, 'error.type': 'RangeError' }),
    ).toMatchObject({ count: 1 });

    // 0.000800 + 0 (the failure) + 0.000033 USD, stored exactly; the counter is a float
    const { rows } = await suite.reader.query<{ total: string }>(
      'SELECT sum(cost_usd)::text AS total FROM llm_usage_log WHERE firm_id = $1',
      [firmId],
    );
    expect(pointOf(m.get('cma_logging.llm.cost'), call)).toBeCloseTo(
      Number(rows[0].total),
      12,
    );

    const table = { 'cma_logging.table': 'llm_usage_log' };
    expect(pointOf(m.get('cma_logging.writer.rows.queued'), table)).toBe(3);
    expect(pointOf(m.get('cma_logging.writer.rows.written'), table)).toBe(3);
    expect(pointOf(m.get('cma_logging.writer.rows.retried'), table)).toBe(
      stats.retries,
    );
    expect(
      pointOf(m.get('cma_logging.writer.rows.rejected'), {
        ...table,
        'cma_logging.reason': 'invalid',
      }),
    ).toBe(1);
    expect(m.get('cma_logging.writer.rows.failed')).toBeUndefined();
    expect(
      pointOf(m.get('cma_logging.writer.statement.duration'), table),
    ).toMatchObject({ count: stats.batches + stats.retries });
    expect(pointOf(m.get('cma_logging.writer.buffer.depth'), table)).toBe(0);
  });

  it('counts the rows its shutdown deadline left unwritten, and those refused once it shut down', async () => {
    const { usage, writer, firmId, close, moduleRef } = await start({
      writer: {
        shutdownTimeoutMs: 300,
        retry: { attempts: 1_000, baseDelayMs: 20, maxDelayMs: 50 },
      },
    });
    const entry = {
      firmId,
      model: 'gemini-2.5-flash',
      taskType: 'extraction',
      inputTokens: 1,
      outputTokens: 1,
      costUsd: '0.000001',
    } as const;
    const logs = captureLogs(moduleRef);
    // Locked past lock_timeout: every INSERT is refused (55P03) and tried again, to the deadline.
    await suite.reader.query('BEGIN');
    await suite.reader.query('LOCK TABLE llm_usage_log IN EXCLUSIVE MODE');
    try {
      for (let i = 0; i < 4; i++) {
        await usage.record(entry, { durability: 'buffered' });
      }
      await close();
      await expect(
        usage.record(entry, { durability: 'buffered' }),
      ).rejects.toBeInstanceOf(LogWriterClosedError);
    } finally {
      await suite.reader.query('ROLLBACK');
    }
    expect(writer.stats()).toMatchObject({ rowsUnwritten: 4, rowsRejected: 1 });
    expect(logs.error).toEqual([
      expect.stringContaining(
        'llm_usage_log: 4 accepted row(s) not written by the shutdown deadline',
      ),
    ]);
    const m = await otel.metrics();
    const table = { 'cma_logging.table': 'llm_usage_log' };
    expect(pointOf(m.get('cma_logging.writer.rows.unwritten'), table)).toBe(4);
    expect(
      pointOf(m.get('cma_logging.writer.rows.rejected'), {
        ...table,
        'cma_logging.reason': 'closed',
      }),
    ).toBe(1);
    expect(pointOf(m.get('cma_logging.writer.buffer.depth'), table)).toBe(0);
  });

  it('counts audited actions and dropped metadata, without the firm unless the host opts in', async () => {
    for (const firmIdAttribute of [false, true]) {
      otel.install();
      const { audit, firmId, usage } = await start({
        telemetry: { firmIdAttribute },
      });
      await audit.record({
        firmId,
        action: 'create_project',
        entityType: 'cma_project',
        metadata: { amount: 150000 },
      });
      await usage.track(
        { firmId, model: 'gemini-2.5-flash', taskType: 'validation' },
        () => ({ result: 1, usage: { inputTokens: 3, outputTokens: 1 } }),
      );
      const m = await otel.metrics();
      const firm = firmIdAttribute ? { 'cma_logging.firm_id': firmId } : {};
      expect(m.get('cma_logging.audit.actions')).toEqual([
        {
          attributes: { 'cma_logging.action': 'create_project', ...firm },
          value: 1,
        },
      ]);
      expect(m.get('cma_logging.audit.metadata.dropped')).toEqual([
        { attributes: {}, value: 1 },
      ]);
      expect(m.get('cma_logging.audit.skipped')).toEqual([
        { attributes: {}, value: 0 },
      ]);
      const tokens = m.get('gen_ai.client.token.usage') ?? [];
      expect(tokens).toHaveLength(2);
      for (const point of tokens) {
        expect(point.attributes['cma_logging.firm_id']).toBe(
          firmIdAttribute ? firmId : undefined,
        );
      }
      await otel.uninstall();
    }
  });

  it('gives the calls answered by another model their own points, with gen_ai.response.model', async () => {
    const { usage, firmId } = await start();
    const meta = {
      firmId,
      model: 'gemini-2.5-flash',
      taskType: 'extraction',
    } as const;
    const answeredBy = (modelVersion: string | undefined, input: number) =>
      usage.track(meta, () => ({
        result: 1,
        usage: usageFromGemini(
          { promptTokenCount: input, candidatesTokenCount: 10 },
          modelVersion,
        ),
      }));
    await answeredBy('gemini-2.5-flash-001', 100);
    await answeredBy(undefined, 200);
    await answeredBy('gemini-2.5-flash-001', 300);
    await answeredBy('gemini-2.5-flash-002', 400);

    const m = await otel.metrics();
    const call = EXTRACTION;
    const tokens = m.get('gen_ai.client.token.usage');
    const input = (responseModel?: string) =>
      pointOf(tokens, {
        ...call,
        ...(responseModel ? { 'gen_ai.response.model': responseModel } : {}),
        'gen_ai.token.type': 'input',
      });
    expect(input('gemini-2.5-flash-001')).toMatchObject({ count: 2, sum: 400 });
    expect(input()).toMatchObject({ count: 1, sum: 200 });
    expect(input('gemini-2.5-flash-002')).toMatchObject({ count: 1, sum: 400 });
    expect(tokens).toHaveLength(6);

    // each point's cost is the sum of its calls' rows
    const { rows } = await suite.reader.query<{ total: string }>(
      `SELECT sum(cost_usd)::text AS total FROM llm_usage_log
        WHERE firm_id = $1 AND input_tokens IN (100, 300)`,
      [firmId],
    );
    const costs = m.get('cma_logging.llm.cost');
    expect(costs).toHaveLength(3);
    expect(
      pointOf(costs, {
        ...call,
        'gen_ai.response.model': 'gemini-2.5-flash-001',
      }),
    ).toBeCloseTo(Number(rows[0].total), 12);
  });
});
