import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** Reads metrics when the test asks, like a host's exporter would on its interval. */
class TestMetricReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** One metric point as the tests compare it. */
export interface Point {
  attributes: Record<string, unknown>;
  value: number | { count: number; sum: number; boundaries: number[] };
}

/**
 * A host's OpenTelemetry SDK in memory: a tracer provider with an in-memory exporter, a meter
 * provider with a reader the test collects from, and the AsyncLocalStorage context manager, all
 * registered as the global providers the module reads. Call `install()` before the app starts.
 */
export function inMemoryOtel() {
  let spans = new InMemorySpanExporter();
  let reader = new TestMetricReader();
  let meterProvider: MeterProvider | undefined;
  let tracerProvider: BasicTracerProvider | undefined;

  return {
    install(): void {
      context.disable();
      context.setGlobalContextManager(
        new AsyncLocalStorageContextManager().enable(),
      );
      trace.disable();
      spans = new InMemorySpanExporter();
      tracerProvider = new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(spans)],
      });
      trace.setGlobalTracerProvider(tracerProvider);
      metrics.disable();
      reader = new TestMetricReader();
      meterProvider = new MeterProvider({ readers: [reader] });
      metrics.setGlobalMeterProvider(meterProvider);
    },
    async uninstall(): Promise<void> {
      await meterProvider?.shutdown();
      await tracerProvider?.shutdown();
      trace.disable();
      metrics.disable();
      context.disable();
    },
    /** The spans ended so far. */
    spans(): ReadableSpan[] {
      return spans.getFinishedSpans();
    },
    /** The points of each metric by name, collected now. */
    async metrics(): Promise<Map<string, Point[]>> {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const byName = new Map<string, Point[]>();
      for (const scope of resourceMetrics.scopeMetrics) {
        expect(scope.scope.name).toBe('@cma/logging');
        for (const metric of scope.metrics) {
          byName.set(
            metric.descriptor.name,
            (metric.dataPoints as DataPoint<number | Histogram>[]).map(
              (point) => ({
                attributes: { ...point.attributes },
                value:
                  typeof point.value === 'number'
                    ? point.value
                    : {
                        count: point.value.count,
                        sum: point.value.sum ?? 0,
                        boundaries: point.value.buckets.boundaries,
                      },
              }),
            ),
          );
        }
      }
      return byName;
    },
  };
}

/** The point of `points` whose attributes are exactly `attributes`. */
export function pointOf(
  points: Point[] | undefined,
  attributes: Record<string, unknown>,
): Point['value'] | undefined {
  return points?.find(
    (point) =>
      JSON.stringify(Object.entries(point.attributes).sort()) ===
      JSON.stringify(Object.entries(attributes).sort()),
  )?.value;
}
