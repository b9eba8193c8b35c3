import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { type Otel, STATEMENT_DURATION_BUCKETS } from '../core/otel.js';
import { TELEMETRY_ATTRIBUTES } from '../core/telemetry.options.js';

/** Why the writer refused a row: it broke its table's rules, or the buffer was full. */
export type RejectReason = 'invalid' | 'buffer_full';

/** The metrics of one table's writer; every count is of rows. */
export interface TableMetrics {
  queued(rows: number): void;
  written(rows: number): void;
  retried(rows: number): void;
  rejected(reason: RejectReason): void;
  failed(rows: number): void;
  /** One INSERT statement took `seconds`, whether it committed or not. */
  statement(seconds: number): void;
}

/**
 * The writer's metrics, through the host's meter: rows queued, written, retried, rejected and
 * failed (counters), the buffer depth (an observable gauge) and the statement latency (a
 * histogram), each with the table's name as `cma_logging.table`.
 */
export class WriterMetrics {
  private readonly rows: Record<
    'queued' | 'written' | 'retried' | 'rejected' | 'failed',
    Counter
  >;
  private readonly duration: Histogram;

  constructor(otel: Otel, depths: () => Iterable<[table: string, number]>) {
    const { meter } = otel;
    const counter = (name: string, description: string) =>
      meter.createCounter(`cma_logging.writer.rows.${name}`, {
        unit: '{row}',
        description,
      });
    this.rows = {
      queued: counter('queued', 'Rows accepted into the write buffer'),
      written: counter('written', 'Rows committed to their table'),
      retried: counter(
        'retried',
        'Rows sent again after a transient database failure',
      ),
      rejected: counter(
        'rejected',
        'Rows refused before queueing: invalid, or the buffer was full',
      ),
      failed: counter(
        'failed',
        'Rows that could not be written once retries were spent',
      ),
    };
    this.duration = meter.createHistogram(
      'cma_logging.writer.statement.duration',
      {
        unit: 's',
        description: 'Duration of one batched INSERT statement',
        advice: { explicitBucketBoundaries: STATEMENT_DURATION_BUCKETS },
      },
    );
    meter
      .createObservableGauge('cma_logging.writer.buffer.depth', {
        unit: '{row}',
        description: 'Rows queued or in flight, per table',
      })
      .addCallback((result) => {
        for (const [table, depth] of depths()) {
          result.observe(depth, { [TELEMETRY_ATTRIBUTES.table]: table });
        }
      });
  }

  /** The metrics of `table`, with its attributes made once. */
  forTable(table: string): TableMetrics {
    const attributes: Attributes = { [TELEMETRY_ATTRIBUTES.table]: table };
    const reasons: Record<RejectReason, Attributes> = {
      invalid: { ...attributes, [TELEMETRY_ATTRIBUTES.reason]: 'invalid' },
      buffer_full: {
        ...attributes,
        [TELEMETRY_ATTRIBUTES.reason]: 'buffer_full',
      },
    };
    const { rows, duration } = this;
    return {
      queued: (n) => rows.queued.add(n, attributes),
      written: (n) => rows.written.add(n, attributes),
      retried: (n) => rows.retried.add(n, attributes),
      rejected: (reason) => rows.rejected.add(1, reasons[reason]),
      failed: (n) => rows.failed.add(n, attributes),
      statement: (seconds) => duration.record(seconds, attributes),
    };
  }
}
