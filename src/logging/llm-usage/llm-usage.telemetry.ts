import { performance } from 'node:perf_hooks';
import type {
  Attributes,
  Counter,
  Histogram,
  Span,
  SpanStatus,
} from '@opentelemetry/api';
import {
  OPERATION_DURATION_BUCKETS,
  type Otel,
  TOKEN_USAGE_BUCKETS,
} from '../core/otel.js';
import type { EntryViolation } from '../core/entry-validation.js';
import { TELEMETRY_ATTRIBUTES as A } from '../core/telemetry.options.js';
import { describeError } from './scrub.js';

/** The GenAI conventions' names the module emits (semantic conventions v1.41.0). */
export const GEN_AI = Object.freeze({
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  tokenType: 'gen_ai.token.type',
  errorType: 'error.type',
  tokenUsage: 'gen_ai.client.token.usage',
  operationDuration: 'gen_ai.client.operation.duration',
} as const);

/** The operation `track()` reports when the meta names none. */
export const DEFAULT_OPERATION = 'generate_content';

/** What `operation` and `provider` of a meta must look like: `generate_content`, `gcp.gemini`. */
const TELEMETRY_NAME = /^[a-z][a-z0-9_.]{0,63}$/;

/** The meta's telemetry fields that break {@link TELEMETRY_NAME}. */
export function telemetryNameViolations(
  fields: Record<'operation' | 'provider', unknown>,
): EntryViolation[] {
  return Object.entries(fields)
    .filter(
      ([, value]) =>
        value !== undefined &&
        (typeof value !== 'string' || !TELEMETRY_NAME.test(value)),
    )
    .map(([field]) => ({
      field,
      rule: 'matches',
      message: `${field} must be lowercase letters, digits, _ and . (at most 64, e.g. 'gcp.gemini')`,
    }));
}

/** What is known of a tracked call before it runs. */
export interface CallDescription {
  operation: string;
  provider: string | undefined;
  model: string;
  taskType: string;
  firmId: string | undefined;
  projectId: string | null | undefined;
}

/** What a tracked call reported, once it returned. */
export interface CallUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd: string;
  responseModel: string | undefined;
}

/** The class of a thrown value, for `error.type`: `_OTHER` when it is not an Error. */
function errorType(error: unknown): string {
  if (!(error instanceof Error)) return '_OTHER';
  const constructorName = (error.constructor as { name?: unknown } | undefined)
    ?.name;
  return typeof constructorName === 'string' && constructorName !== 'Error'
    ? constructorName
    : error.name || 'Error';
}

/**
 * One tracked call's span and measurements: the span is started before `fn` and is the active span
 * while `fn` runs; it ends at the time `fn` settled, after the row's id was set on it.
 */
export class TrackedCall {
  private readonly started = performance.now();
  private settled = this.started;
  private readonly metricAttributes: Attributes;

  constructor(
    private readonly telemetry: LlmUsageTelemetry,
    private readonly otel: Otel,
    private readonly span: Span,
    call: CallDescription,
  ) {
    this.metricAttributes = {
      [GEN_AI.operationName]: call.operation,
      [GEN_AI.requestModel]: call.model,
      [A.taskType]: call.taskType,
    };
    if (call.provider !== undefined) {
      this.metricAttributes[GEN_AI.providerName] = call.provider;
    }
    if (otel.options.firmIdAttribute && call.firmId !== undefined) {
      this.metricAttributes[A.firmId] = call.firmId;
    }
  }

  /** Runs `fn` with this call's span active, so that the provider client's spans nest under it. */
  run<T>(fn: () => T): T {
    const { context, trace } = this.otel.api;
    return context.with(trace.setSpan(context.active(), this.span), fn);
  }

  /** `fn` returned: tokens, cost and the model that answered go on the span and the metrics. */
  succeeded(usage: CallUsage): void {
    this.settled = performance.now();
    const attributes = this.metricAttributes;
    if (usage.responseModel !== undefined) {
      attributes[GEN_AI.responseModel] = usage.responseModel;
    }
    if (this.span.isRecording()) {
      this.span.setAttributes({
        [GEN_AI.inputTokens]: usage.inputTokens,
        [GEN_AI.outputTokens]: usage.outputTokens,
        [A.costUsd]: usage.costUsd,
        ...(usage.responseModel === undefined
          ? {}
          : { [GEN_AI.responseModel]: usage.responseModel }),
      });
    }
    this.telemetry.measured(
      attributes,
      (this.settled - this.started) / 1000,
      usage,
    );
  }

  /** `fn` threw: `error.type`, status ERROR, and the scrubbed message only when asked for. */
  failed(error: unknown): void {
    this.settled = performance.now();
    const type = errorType(error);
    const status: SpanStatus = { code: this.otel.api.SpanStatusCode.ERROR };
    if (this.span.isRecording()) {
      this.span.setAttribute(GEN_AI.errorType, type);
      if (this.otel.options.captureErrorMessages) {
        status.message = describeError(error);
        this.span.setAttribute(A.errorMessage, status.message);
      }
    }
    this.span.setStatus(status);
    this.telemetry.measured(
      { ...this.metricAttributes, [GEN_AI.errorType]: type },
      (this.settled - this.started) / 1000,
    );
  }

  /** The row was written (its id links span and row), or could not be: the span ends. */
  end(rowId: string | undefined, recordError?: unknown): void {
    if (this.settled === this.started) this.settled = performance.now();
    if (rowId !== undefined) this.span.setAttribute(A.rowId, rowId);
    if (recordError !== undefined) {
      this.span.setAttribute(A.recordError, errorType(recordError));
    }
    this.span.end(this.settled);
  }
}

/**
 * The spans and metrics of `track()`, through the host's tracer and meter: one CLIENT span per
 * call named `{gen_ai.operation.name} {gen_ai.request.model}`, the GenAI client metrics
 * `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`, and the module's cost
 * counter `cma_logging.llm.cost` (USD, a float: approximate; the table holds the exact cost).
 */
export class LlmUsageTelemetry {
  private readonly tokens: Histogram;
  private readonly duration: Histogram;
  private readonly cost: Counter;

  constructor(private readonly otel: Otel) {
    const { meter } = otel;
    this.tokens = meter.createHistogram(GEN_AI.tokenUsage, {
      unit: '{token}',
      description: 'Number of input and output tokens used',
      advice: { explicitBucketBoundaries: TOKEN_USAGE_BUCKETS },
    });
    this.duration = meter.createHistogram(GEN_AI.operationDuration, {
      unit: 's',
      description: 'GenAI operation duration',
      advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS },
    });
    this.cost = meter.createCounter('cma_logging.llm.cost', {
      unit: 'USD',
      description:
        'Cost of tracked LLM calls, approximate (a float); llm_usage_log holds the exact cost',
    });
  }

  /** Starts the span of a call about to run. */
  start(call: CallDescription): TrackedCall {
    const { api, tracer } = this.otel;
    const attributes: Attributes = {
      [GEN_AI.operationName]: call.operation,
      [GEN_AI.requestModel]: call.model,
      [A.taskType]: call.taskType,
    };
    if (call.provider !== undefined) {
      attributes[GEN_AI.providerName] = call.provider;
    }
    if (call.firmId !== undefined) attributes[A.firmId] = call.firmId;
    if (call.projectId) attributes[A.projectId] = call.projectId;
    const span = tracer.startSpan(`${call.operation} ${call.model}`, {
      kind: api.SpanKind.CLIENT,
      attributes,
    });
    return new TrackedCall(this, this.otel, span, call);
  }

  /** @internal Records a settled call's duration and, when it succeeded, its tokens and cost. */
  measured(attributes: Attributes, seconds: number, usage?: CallUsage): void {
    this.duration.record(seconds, attributes);
    if (!usage) return;
    this.tokens.record(usage.inputTokens, {
      ...attributes,
      [GEN_AI.tokenType]: 'input',
    });
    this.tokens.record(usage.outputTokens, {
      ...attributes,
      [GEN_AI.tokenType]: 'output',
    });
    this.cost.add(Number(usage.costUsd), attributes);
  }
}
