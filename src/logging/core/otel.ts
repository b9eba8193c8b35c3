import type * as OtelApi from '@opentelemetry/api';
import {
  type LoggingTelemetryOptions,
  type ResolvedTelemetryOptions,
  resolveTelemetryOptions,
} from './telemetry.options.js';

let api: typeof OtelApi | undefined;

/**
 * Resolves, once `@opentelemetry/api` was looked for, with it, or with `undefined` when the host did
 * not install it. An optional peer dependency: a guarded dynamic import started when this file is
 * first loaded, so the package installs and runs without it and no static import of it is in the
 * module's graph. The module's options provider awaits it, so the services see the outcome. The API
 * keeps its providers in one global slot: this sees whatever SDK the host registered.
 */
export const otelLoaded: Promise<typeof OtelApi | undefined> =
  import('@opentelemetry/api').then(
    (loaded) => {
      const namespace = loaded as typeof OtelApi & { default?: typeof OtelApi };
      api = namespace.default?.trace ? namespace.default : namespace;
      return api;
    },
    () => undefined,
  );

/** The instrumentation scope of the module's spans and metrics. */
export const TELEMETRY_SCOPE = '@cma/logging';

/** The API, the module's tracer and meter: what a feature needs to emit telemetry. */
export interface Otel {
  api: typeof OtelApi;
  tracer: OtelApi.Tracer;
  meter: OtelApi.Meter;
  options: ResolvedTelemetryOptions;
}

/**
 * The host's tracer and meter under {@link TELEMETRY_SCOPE}, or `undefined` when telemetry is off
 * (or the API is absent), once the API was looked for: the services call it in `onModuleInit`. The
 * meter is taken from the provider registered then: the host's SDK must be started before the Nest
 * app is initialised, as OpenTelemetry's own setup asks.
 *
 * @throws Error when `enabled` is `true` and the API is not installed
 */
export async function otelFor(
  given: LoggingTelemetryOptions | undefined,
): Promise<Otel | undefined> {
  await otelLoaded;
  const options = resolveTelemetryOptions(given, api !== undefined);
  if (!options.enabled || !api) return undefined;
  return {
    api,
    tracer: api.trace.getTracer(TELEMETRY_SCOPE),
    meter: api.metrics.getMeter(TELEMETRY_SCOPE),
    options,
  };
}

/** Histogram boundaries of `gen_ai.client.token.usage`, as the GenAI conventions give them. */
export const TOKEN_USAGE_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
  16777216, 67108864,
];

/** Histogram boundaries of `gen_ai.client.operation.duration` (s), from the GenAI conventions. */
export const OPERATION_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
  40.96, 81.92,
];

/** Histogram boundaries of the writer's statement latency (s). */
export const STATEMENT_DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
