/**
 * A host's OpenTelemetry SDK whose exporters send nothing: tracer and meter providers registered
 * globally, spans through a BatchSpanProcessor and metrics through a periodic reader, as a host
 * wires them, into exporters that drop what they get. What the module's telemetry costs the app is
 * then all that differs from a run without it.
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

const done = { code: 0 };

export function registerNoopSdk(): () => Promise<void> {
  const spanExporter: SpanExporter = {
    export: (_spans, callback) => callback(done),
    shutdown: () => Promise.resolve(),
  };
  const metricExporter: PushMetricExporter = {
    export: (_metrics, callback) => callback(done),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
  };
  context.setGlobalContextManager(
    new AsyncLocalStorageContextManager().enable(),
  );
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(spanExporter)],
  });
  trace.setGlobalTracerProvider(tracerProvider);
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: metricExporter,
        exportIntervalMillis: 5_000,
      }),
    ],
  });
  metrics.setGlobalMeterProvider(meterProvider);
  // Stops the SDK and takes it out of the API's global slots: the process runs as before it.
  return async () => {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    trace.disable();
    metrics.disable();
    context.disable();
  };
}
