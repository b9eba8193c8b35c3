import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  type LoggingModuleOptions,
  TELEMETRY_ATTRIBUTES,
  UnknownModelError,
  usageFromGemini,
} from '../src/logging/index.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { loggingApp } from './support/logging-app.js';
import { inMemoryOtel } from './support/otel.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';

/**
 * The spans of `track()` through the host's own SDK (in memory here): one CLIENT span per call,
 * named and attributed by the GenAI conventions, a child of the active span, linked to its row.
 */

class ProviderError extends Error {
  override readonly name = 'ProviderError';
}

const SECRET = 'AIzaSyD0123456789abcdefghijklmnop';

/** What an exporter sends of a span: its name, attributes, status and events. */
const exported = (span: ReadableSpan) =>
  JSON.stringify([span.name, span.attributes, span.status, span.events]);

describe('telemetry: spans of track()', () => {
  const suite = databaseSuite();
  const otel = inMemoryOtel();
  beforeEach(() => otel.install());
  afterEach(() => otel.uninstall());

  async function start(options: LoggingModuleOptions = {}) {
    const app = suite.own(await loggingApp(suite.url, options));
    const firm = await seedFirm(app.dataSource, `firm-${suite.started}`);
    return { ...app, ...firm };
  }

  async function row(id: string) {
    const { rows } = await suite.reader.query<{
      cost_usd: string;
      success: boolean;
    }>(
      'SELECT cost_usd::text AS cost_usd, success FROM llm_usage_log WHERE id = $1',
      [id],
    );
    return rows[0];
  }

  it('wraps a successful call in a CLIENT span under the active span, with the GenAI attributes and the row id', async () => {
    const { usage, firmId, projectId } = await start();
    const tracer = trace.getTracer('host');
    let inner: string | undefined;
    const parent = await tracer.startActiveSpan(
      'POST /extract',
      async (span) => {
        await usage.track(
          {
            firmId,
            cmaProjectId: projectId,
            model: 'gemini-2.5-flash',
            taskType: 'extraction',
          },
          () => {
            // the provider client's own spans nest under the tracked call
            tracer.startSpan('HTTP POST generativelanguage').end();
            inner = trace.getActiveSpan()?.spanContext().spanId;
            return {
              result: 'the completion text',
              usage: usageFromGemini(
                { promptTokenCount: 1200, candidatesTokenCount: 300 },
                'gemini-2.5-flash-001',
              ),
            };
          },
        );
        span.end();
        return span.spanContext();
      },
    );

    const spans = otel.spans();
    const call = spans.find(
      (s) => s.name === 'generate_content gemini-2.5-flash',
    );
    expect(call).toBeDefined();
    expect(call!.kind).toBe(SpanKind.CLIENT);
    expect(call!.spanContext().traceId).toBe(parent.traceId);
    expect(call!.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(inner).toBe(call!.spanContext().spanId);
    const http = spans.find((s) => s.name === 'HTTP POST generativelanguage');
    expect(http!.parentSpanContext?.spanId).toBe(call!.spanContext().spanId);
    expect(call!.status.code).toBe(SpanStatusCode.UNSET);

    const rowId = call!.attributes[TELEMETRY_ATTRIBUTES.rowId] as string;
    const stored = await row(rowId);
    expect(stored).toEqual({ cost_usd: '0.001110', success: true });
    // exactly these attributes: no prompt, no completion, nothing else
    expect(call!.attributes).toEqual({
      'gen_ai.operation.name': 'generate_content',
      'gen_ai.provider.name': 'gcp.gemini',
      'gen_ai.request.model': 'gemini-2.5-flash',
      'gen_ai.response.model': 'gemini-2.5-flash-001',
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.output_tokens': 300,
      'cma_logging.task_type': 'extraction',
      'cma_logging.firm_id': firmId,
      'cma_logging.project_id': projectId,
      'cma_logging.cost_usd': stored.cost_usd,
      'cma_logging.row_id': rowId,
    });
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(
      'the completion text',
    );
  });

  it('takes the operation and the provider from the meta', async () => {
    const { usage, firmId } = await start();
    await usage.track(
      {
        firmId,
        model: 'gemini-2.5-flash',
        taskType: 'classification',
        operation: 'chat',
        provider: 'gcp.vertex_ai',
      },
      () => ({ result: 1, usage: { inputTokens: 10, outputTokens: 2 } }),
    );
    const [span] = otel.spans();
    expect(span.name).toBe('chat gemini-2.5-flash');
    expect(span.attributes['gen_ai.operation.name']).toBe('chat');
    expect(span.attributes['gen_ai.provider.name']).toBe('gcp.vertex_ai');
    expect(span.attributes['gen_ai.response.model']).toBeUndefined();
  });

  it('marks a failed call with error.type and status ERROR, without the message unless asked', async () => {
    const { usage, firmId } = await start();
    const failure = new ProviderError(`quota exceeded for key=${SECRET}`);
    await expect(
      usage.track(
        { firmId, model: 'gemini-2.5-flash', taskType: 'extraction' },
        () => Promise.reject(failure),
      ),
    ).rejects.toBe(failure);

    const [span] = otel.spans();
    expect(span.name).toBe('generate_content gemini-2.5-flash');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span.attributes['error.type']).toBe('ProviderError');
    expect(span.attributes[TELEMETRY_ATTRIBUTES.errorMessage]).toBeUndefined();
    expect(span.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
    const stored = await row(
      span.attributes[TELEMETRY_ATTRIBUTES.rowId] as string,
    );
    expect(stored).toEqual({ cost_usd: '0.000000', success: false });
    expect(exported(span)).not.toContain('quota exceeded');
  });

  it('puts the scrubbed message on the span with captureErrorMessages', async () => {
    const { usage, firmId } = await start({
      telemetry: { captureErrorMessages: true },
    });
    await expect(
      usage.track(
        { firmId, model: 'gemini-2.5-flash', taskType: 'extraction' },
        () => {
          throw new ProviderError(`quota exceeded for key=${SECRET}`);
        },
      ),
    ).rejects.toThrow(ProviderError);
    const [span] = otel.spans();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toBe(
      'ProviderError: quota exceeded for key=[REDACTED]',
    );
    expect(span.attributes[TELEMETRY_ATTRIBUTES.errorMessage]).toBe(
      span.status.message,
    );
    expect(exported(span)).not.toContain(SECRET);
  });

  it('makes no span for a model without a price: the call never runs', async () => {
    const { usage, firmId } = await start();
    let called = false;
    const fn = () => {
      called = true;
      return { result: 1, usage: { inputTokens: 1, outputTokens: 1 } };
    };
    await expect(
      usage.track(
        { firmId, model: 'no-such-model', taskType: 'extraction' },
        fn,
      ),
    ).rejects.toThrow(UnknownModelError);
    expect(called).toBe(false);
    expect(otel.spans()).toEqual([]);
  });

  it('with telemetry.enabled false, records as before and makes no span nor metric', async () => {
    const { usage, firmId, dataSource } = await start({
      telemetry: { enabled: false },
    });
    await usage.track(
      { firmId, model: 'gemini-2.5-flash', taskType: 'extraction' },
      () => ({ result: 1, usage: { inputTokens: 10, outputTokens: 2 } }),
    );
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM llm_usage_log WHERE firm_id = $1',
      [firmId],
    );
    expect(n).toBe(1);
    expect(otel.spans()).toEqual([]);
    expect([...(await otel.metrics()).keys()]).toEqual([]);
  });
});
