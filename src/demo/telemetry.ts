/**
 * The demo host's OpenTelemetry, as a host wires its own: a tracer provider registered before the
 * app is created, the LoggingModule's spans reaching it through `@opentelemetry/api`. By default the
 * spans are kept in memory and the tour prints them; with `OTEL=console` the SDK's
 * ConsoleSpanExporter prints each span as it ends, as an exporter would send it.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  ConsoleSpanExporter,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type Row, formatTable } from './format-table.js';

export function startDemoTelemetry() {
  const toConsole = process.env.OTEL === 'console';
  const memory = new InMemorySpanExporter();
  context.setGlobalContextManager(
    new AsyncLocalStorageContextManager().enable(),
  );
  const provider = new BasicTracerProvider({
    spanProcessors: [
      new SimpleSpanProcessor(toConsole ? new ConsoleSpanExporter() : memory),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    /** The spans kept, as a table: none when they went to the console. */
    table(): string {
      const rows: Row[] = memory.getFinishedSpans().map((span) => {
        const a = span.attributes;
        const [seconds, nanos] = span.duration;
        return {
          span: span.name,
          provider: (a['gen_ai.provider.name'] as string) ?? null,
          'in tokens': (a['gen_ai.usage.input_tokens'] as number) ?? null,
          'out tokens': (a['gen_ai.usage.output_tokens'] as number) ?? null,
          'cost (USD)': (a['cma_logging.cost_usd'] as string) ?? null,
          error: (a['error.type'] as string) ?? null,
          ms: Math.round(seconds * 1000 + nanos / 1e6),
          row: ((a['cma_logging.row_id'] as string) ?? '').slice(0, 13),
        };
      });
      return toConsole
        ? 'Spans: exported to the console above (OTEL=console).'
        : formatTable(
            'Spans of the tracked LLM calls (OTEL=console to export them)',
            rows,
          );
    },
    shutdown: () => provider.shutdown(),
  };
}
