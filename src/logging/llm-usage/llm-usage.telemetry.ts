import { performance } from 'node:perf_hooks';
import type {
  Attributes,
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
  const violations: EntryViolation[] = [];
  for (const field of ['operation', 'provider'] as const) {
    const value = fields[field];
    if (
      value !== undefined &&
      (typeof value !== 'string' || !TELEMETRY_NAME.test(value))
    ) {
      violations.push({
        field,
        rule: 'matches',
        message: `${field} must be lowercase letters, digits, _ and . (at most 64, e.g. 'gcp.gemini')`,
      });
    }
  }
  return violations;
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
 * The metric attributes of one shape of call (operation, provider, model, task type, the firm when
 * opted in, and the model that answered once known), with the token type's variants: built once
 * per shape and reused for every call of it, so a call's metric points allocate nothing.
 */
interface CallShape {
  attributes: Attributes;
  input: Attributes;
  output: Attributes;
  /** The same shape with `gen_ai.response.model`, per response model seen. */
  answered?: Map<string, CallShape>;
  /** Kept for reuse (else made for one call: its cost goes to the overflow's). */
  kept: boolean;
  /** The cost of its successful calls so far (USD, a float), read when the meter collects. */
  costUsd: number;
}

/** The attributes a call's span and metrics share: operation, model, task type, provider, firm. */
function callAttributes(
  call: CallDescription,
  firmId: string | undefined,
): Attributes {
  const attributes: Attributes = {
    [GEN_AI.operationName]: call.operation,
    [GEN_AI.requestModel]: call.model,
    [A.taskType]: call.taskType,
  };
  if (call.provider !== undefined) {
    attributes[GEN_AI.providerName] = call.provider;
  }
  if (firmId !== undefined) attributes[A.firmId] = firmId;
  return attributes;
}

/** Shapes kept at most: the host's few operations, models and task types; the firms when opted in. */
const MAX_SHAPES = 2000;

function shapeOf(attributes: Attributes): CallShape {
  return {
    attributes,
    input: { ...attributes, [GEN_AI.tokenType]: 'input' },
    output: { ...attributes, [GEN_AI.tokenType]: 'output' },
    kept: false,
    costUsd: 0,
  };
}

/**
 * One tracked call's span and measurements: the span is started before `fn` and is the active span
 * while `fn` runs; it ends at the time `fn` settled, after the row's id was set on it.
 */
export class TrackedCall {
  private readonly started = performance.now();
  private settled = this.started;

  constructor(
    private readonly telemetry: LlmUsageTelemetry,
    private readonly otel: Otel,
    private readonly span: Span,
    private readonly shape: CallShape,
  ) {}

  /** Runs `fn` with this call's span active, so that the provider client's spans nest under it. */
  run<T>(fn: () => T): T {
    const { context, trace } = this.otel.api;
    return context.with(trace.setSpan(context.active(), this.span), fn);
  }

  /** `fn` returned: tokens, cost and the model that answered go on the span and the metrics. */
  succeeded(usage: CallUsage): void {
    this.settled = performance.now();
    const { span } = this;
    if (span.isRecording()) {
      span.setAttribute(GEN_AI.inputTokens, usage.inputTokens);
      span.setAttribute(GEN_AI.outputTokens, usage.outputTokens);
      span.setAttribute(A.costUsd, usage.costUsd);
      if (usage.responseModel !== undefined) {
        span.setAttribute(GEN_AI.responseModel, usage.responseModel);
      }
    }
    this.telemetry.measured(
      usage.responseModel === undefined
        ? this.shape
        : this.telemetry.answered(this.shape, usage.responseModel),
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
    this.telemetry.failedAfter(
      { ...this.shape.attributes, [GEN_AI.errorType]: type },
      (this.settled - this.started) / 1000,
    );
  }

  /** The row was written (its id links span and row), or could not be: the span ends. */
  end(rowId: string | undefined, recordError?: unknown): void {
    if (this.settled === this.started) this.settled = performance.now();
    const { span } = this;
    if (span.isRecording()) {
      if (rowId !== undefined) span.setAttribute(A.rowId, rowId);
      if (recordError !== undefined) {
        span.setAttribute(A.recordError, errorType(recordError));
      }
    }
    span.end(this.settled);
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
  private readonly shapes = new Map<string, CallShape>();
  private shapeCount = 0;
  /** The shapes with a successful call, whose cost the cost counter reports. */
  private readonly costed = new Set<CallShape>();
  /** Where the cost of calls of shapes past MAX_SHAPES goes, as the SDK's own overflow does. */
  private readonly overflow = shapeOf({ 'otel.metric.overflow': true });

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
    // The sum per shape is kept here and read when the host's reader collects: no metric call
    // per tracked call for it.
    meter
      .createObservableCounter('cma_logging.llm.cost', {
        unit: 'USD',
        description:
          'Cost of tracked LLM calls, approximate (a float); llm_usage_log holds the exact cost',
      })
      .addCallback((result) => {
        for (const shape of this.costed) {
          result.observe(shape.costUsd, shape.attributes);
        }
      });
  }

  /** Starts the span of a call about to run. */
  start(call: CallDescription): TrackedCall {
    const { api, tracer } = this.otel;
    const shape = this.shapeFor(call);
    const attributes = callAttributes(call, call.firmId);
    if (call.projectId) attributes[A.projectId] = call.projectId;
    const span = tracer.startSpan(`${call.operation} ${call.model}`, {
      kind: api.SpanKind.CLIENT,
      attributes,
    });
    return new TrackedCall(this, this.otel, span, shape);
  }

  /** The metric attributes of `call`'s shape, made once per shape. */
  private shapeFor(call: CallDescription): CallShape {
    const firmId = this.otel.options.firmIdAttribute ? call.firmId : undefined;
    const key = `${call.operation}\u0000${call.provider ?? ''}\u0000${call.model}\u0000${call.taskType}\u0000${firmId ?? ''}`;
    const known = this.shapes.get(key);
    if (known) return known;
    return this.kept(this.shapes, key, shapeOf(callAttributes(call, firmId)));
  }

  /** @internal `shape` with the model that answered. */
  answered(shape: CallShape, responseModel: string): CallShape {
    const answered = (shape.answered ??= new Map<string, CallShape>());
    return (
      answered.get(responseModel) ??
      this.kept(
        answered,
        responseModel,
        shapeOf({
          ...shape.attributes,
          [GEN_AI.responseModel]: responseModel,
        }),
      )
    );
  }

  /** Keeps a new shape while fewer than MAX_SHAPES are kept; past that, each call makes its own. */
  private kept(
    map: Map<string, CallShape>,
    key: string,
    shape: CallShape,
  ): CallShape {
    if (this.shapeCount < MAX_SHAPES) {
      map.set(key, shape);
      this.shapeCount++;
      shape.kept = true;
    }
    return shape;
  }

  /** @internal Records a successful call's duration, tokens and cost. */
  measured(shape: CallShape, seconds: number, usage: CallUsage): void {
    this.duration.record(seconds, shape.attributes);
    this.tokens.record(usage.inputTokens, shape.input);
    this.tokens.record(usage.outputTokens, shape.output);
    const costed = shape.kept ? shape : this.overflow;
    costed.costUsd += Number(usage.costUsd);
    this.costed.add(costed);
  }

  /** @internal Records a failed call's duration. */
  failedAfter(attributes: Attributes, seconds: number): void {
    this.duration.record(seconds, attributes);
  }
}
