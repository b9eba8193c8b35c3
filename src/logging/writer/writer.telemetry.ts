import type { Attributes, Histogram } from '@opentelemetry/api';
import { type Otel, STATEMENT_DURATION_BUCKETS } from '../core/otel.js';
import { TELEMETRY_ATTRIBUTES } from '../core/telemetry.options.js';

/** Why the writer refused a row: it broke its table's rules, the buffer was full, or it was shut down. */
export type RejectReason = 'invalid' | 'buffer_full' | 'closed';

const REJECT_REASONS: readonly RejectReason[] = [
  'invalid',
  'buffer_full',
  'closed',
];

/** The metrics of one table's writer; every count is of rows. */
export interface TableMetrics {
  queued(rows: number): void;
  written(rows: number): void;
  retried(rows: number): void;
  rejected(reason: RejectReason): void;
  failed(rows: number): void;
  /** Rows accepted and not written when the shutdown deadline passed. */
  unwritten(rows: number): void;
  /** One INSERT statement took `seconds`, whether it committed or not. */
  statement(seconds: number): void;
}

type RowCount =
  'queued' | 'written' | 'retried' | 'rejected' | 'failed' | 'unwritten';

const ROW_COUNTS: Record<RowCount, string> = {
  queued: 'Rows accepted into the write buffer',
  written: 'Rows committed to their table',
  retried: 'Rows sent again after a transient database failure',
  rejected:
    'Rows refused before queueing: invalid, the buffer was full, or the writer was shut down',
  failed: 'Rows that could not be written once retries were spent',
  unwritten:
    'Rows accepted and not written when the shutdown deadline (writer.shutdownTimeoutMs) passed',
};

/** One table's counts: plain numbers the writer adds to, read by the meter when it collects. */
class TableCounts implements TableMetrics {
  readonly counts: Record<Exclude<RowCount, 'rejected'>, number> = {
    queued: 0,
    written: 0,
    retried: 0,
    failed: 0,
    unwritten: 0,
  };
  readonly rejections: Record<RejectReason, number> = {
    invalid: 0,
    buffer_full: 0,
    closed: 0,
  };
  readonly attributes: Attributes;
  readonly reasons: Record<RejectReason, Attributes>;

  constructor(
    table: string,
    private readonly duration: Histogram,
  ) {
    this.attributes = { [TELEMETRY_ATTRIBUTES.table]: table };
    const reason = (why: RejectReason) => ({
      ...this.attributes,
      [TELEMETRY_ATTRIBUTES.reason]: why,
    });
    this.reasons = {
      invalid: reason('invalid'),
      buffer_full: reason('buffer_full'),
      closed: reason('closed'),
    };
  }

  queued(rows: number): void {
    this.counts.queued += rows;
  }
  written(rows: number): void {
    this.counts.written += rows;
  }
  retried(rows: number): void {
    this.counts.retried += rows;
  }
  rejected(reason: RejectReason): void {
    this.rejections[reason]++;
  }
  failed(rows: number): void {
    this.counts.failed += rows;
  }
  unwritten(rows: number): void {
    this.counts.unwritten += rows;
  }
  statement(seconds: number): void {
    this.duration.record(seconds, this.attributes);
  }
}

/**
 * The writer's metrics, through the host's meter: rows queued, written, retried, rejected,
 * failed and left unwritten at the shutdown deadline (monotonic counters), the buffer depth (an observable gauge) and the statement latency (a
 * histogram), each with the table's name as `cma_logging.table`. The row counts are plain numbers
 * the writer adds to, read when the host's reader collects (observable counters): a row costs no
 * metric call. A count shows once it is above 0, as a counter's first `add` would.
 */
export class WriterMetrics {
  private readonly duration: Histogram;
  private readonly tables: TableCounts[] = [];

  constructor(otel: Otel, depths: () => Iterable<[table: string, number]>) {
    const { meter } = otel;
    for (const [name, description] of Object.entries(ROW_COUNTS) as [
      RowCount,
      string,
    ][]) {
      meter
        .createObservableCounter(`cma_logging.writer.rows.${name}`, {
          unit: '{row}',
          description,
        })
        .addCallback((result) => {
          for (const table of this.tables) {
            if (name === 'rejected') {
              for (const reason of REJECT_REASONS) {
                const rows = table.rejections[reason];
                if (rows > 0) result.observe(rows, table.reasons[reason]);
              }
            } else if (table.counts[name] > 0) {
              result.observe(table.counts[name], table.attributes);
            }
          }
        });
    }
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
    const counts = new TableCounts(table, this.duration);
    this.tables.push(counts);
    return counts;
  }
}
