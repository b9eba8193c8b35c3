import {
  type Batch,
  batchOf,
  BatchSender,
  type Pending,
} from './batch-sender.js';
import {
  type LogTable,
  packRow,
  type QueryExecutor,
  type WriterLogger,
} from './log-table.js';
import { DrainTimer } from './drain-timer.js';
import { nextMicros, uuidV7 } from './record-clock.js';
import { LogBufferFullError, LogWriterClosedError } from './writer.errors.js';
import type {
  Durability,
  LogWriterStats,
  ResolvedWriterOptions,
} from './writer.options.js';
import type { TableMetrics } from './writer.telemetry.js';

/** A caller waiting for room in the buffer: admitted in arrival order, as room frees. */
interface RoomWaiter<Entry> {
  entry: Entry;
  durability: Durability;
  resolve: (id: string) => void;
  reject: (error: Error) => void;
}

const noop = () => undefined;

/**
 * The batched writer behind both log services. Rows for a table queue up and leave as one
 * statement when a batch fills, `maxDelayMs` after the first `'await'` row arrived, or
 * `bufferedDelayMs` after the first `'buffered'` one, with up to `concurrency` statements in flight
 * per table. `'await'` callers resolve once their statement has committed, so concurrent callers
 * share one commit; `'buffered'` callers resolve at once. Retries and failures: batch-sender.ts.
 *
 * Shutdown: from `beginShutdown()` every queued row leaves as soon as a statement slot is free;
 * `close()` refuses new rows and waits for the accepted ones; `abandon()`, at the deadline, gives
 * up and reports whatever is not written yet.
 */
export class BatchWriter<Entry> {
  /** Its statements; their `metrics` are the table's, set at module init. */
  readonly sender: BatchSender<Entry>;
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Set<Batch>();
  private inFlightRows = 0;
  /** Rows accepted so far: the next row's `seq`. */
  private accepted = 0;
  /** Queued rows below this `seq` leave without waiting for a full batch: a flush waits for them. */
  private flushTarget = 0;
  private readonly drainTimer = new DrainTimer(() => this.drain(true));
  /** `'await'` rows in `queue`: while there are any, the short delay applies. */
  private awaitQueued = 0;
  private readonly roomWaiters: RoomWaiter<Entry>[] = [];
  private readonly flushWaiters: { upTo: number; resolve: () => void }[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  /** `'draining'`: shutdown has begun, rows leave at once; `'closed'`: new rows are refused. */
  private state: 'open' | 'draining' | 'closed' = 'open';
  /** Aborted at the shutdown deadline: pauses between tries end, statements out are given up. */
  private readonly abort = new AbortController();

  constructor(
    private readonly table: LogTable<Entry>,
    execute: QueryExecutor,
    private readonly options: ResolvedWriterOptions,
    private readonly stats: LogWriterStats,
    logger: WriterLogger,
    metrics?: TableMetrics,
  ) {
    this.sender = new BatchSender(table, execute, options, stats, logger);
    this.sender.metrics = metrics;
  }

  /** The name of the table this writer writes. */
  get tableName(): string {
    return this.table.name;
  }

  /** Rows queued or in flight: what counts against `bufferSize`. */
  get depth(): number {
    return this.queue.length + this.inFlightRows;
  }

  /**
   * Queues one validated entry and returns its id once the durability allows: at once for
   * `'buffered'`, after the commit for `'await'`. A full buffer makes the caller wait behind those
   * already waiting (`'wait'`) or refuses the row (`'reject'`).
   */
  write(entry: Entry, durability: Durability): Promise<string> {
    const taken = this.take(entry, durability);
    return typeof taken === 'string' ? Promise.resolve(taken) : taken;
  }

  /**
   * {@link write}, with the id of a `'buffered'` row taken into the queue at once given back as
   * it is, not in a promise: what the caller does next need not wait for a turn of the event loop.
   */
  take(entry: Entry, durability: Durability): string | Promise<string> {
    if (this.state === 'closed') return Promise.reject(this.refused());
    if (this.roomWaiters.length > 0 || this.depth >= this.options.bufferSize) {
      if (this.options.onFullBuffer === 'reject') {
        this.stats.rowsRejected++;
        this.sender.metrics?.rejected('buffer_full');
        return Promise.reject(
          new LogBufferFullError(this.table.name, this.options.bufferSize),
        );
      }
      return new Promise((resolve, reject) =>
        this.roomWaiters.push({ entry, durability, resolve, reject }),
      );
    }
    return this.accept(entry, durability);
  }

  /**
   * Takes one entry into the queue: its id at once for `'buffered'`, else once the durability
   * allows.
   */
  private accept(
    entry: Entry,
    durability: Durability,
  ): string | Promise<string> {
    // The id keeps the order rows were recorded in; created_at is stamped when the batch is formed.
    const id = uuidV7(nextMicros());
    let row: string | unknown[];
    try {
      const values = this.table.values(entry, id, '');
      row = packRow(values) ?? values;
    } catch (error) {
      return Promise.reject(
        error instanceof Error ? error : new Error(String(error)),
      );
    }
    const pending: Pending = {
      seq: this.accepted++,
      row,
      createdAt: '',
      stamped: 0,
      durability,
      at: Date.now(),
      settled: false,
      resolve: noop,
      reject: noop,
    };
    this.sender.metrics?.queued(1);
    if (durability === 'buffered') {
      this.enqueue(pending);
      return id;
    }
    return new Promise((resolve, reject) => {
      pending.resolve = () => resolve(id);
      pending.reject = reject;
      this.enqueue(pending);
    });
  }

  /** A row refused because the writer is shut down, counted. */
  private refused(): LogWriterClosedError {
    this.stats.rowsRejected++;
    this.sender.metrics?.rejected('closed');
    return new LogWriterClosedError(this.table.name);
  }

  /**
   * Sends the rows accepted so far without waiting for their batches to fill, and resolves once
   * each of them is settled: written, failed, or reported at the shutdown deadline. Rows accepted
   * after the call do not hold it.
   */
  flush(): Promise<void> {
    const upTo = this.accepted;
    if (this.firstUnsettled() >= upTo) return Promise.resolve();
    this.flushTarget = Math.max(this.flushTarget, upTo);
    this.drain(false);
    return new Promise((resolve) => this.flushWaiters.push({ upTo, resolve }));
  }

  /** Shutdown has begun: rows are still accepted, and every queued row leaves at once. */
  beginShutdown(): void {
    if (this.state !== 'open') return;
    this.state = 'draining';
    this.drain(true);
  }

  /**
   * Refuses new rows, and callers still waiting for room (`LogWriterClosedError`, counted in
   * `rowsRejected`); resolves once every accepted row is settled.
   */
  close(): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.refuseWaiters();
      this.drain(true);
    }
    if (this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * The shutdown deadline passed: refuses new rows, gives up every accepted row not written yet (a
   * statement out is aborted, its connection closed) and reports them (`BatchSender.giveUp`).
   */
  abandon(shutdownTimeoutMs: number): void {
    this.state = 'closed';
    this.refuseWaiters();
    this.drainTimer.cancel();
    const lost = this.queue.splice(0);
    const queued = lost.length;
    this.awaitQueued = 0;
    let unanswered = 0;
    for (const batch of this.inFlight) {
      batch.abandoned = true;
      const rows = batch.rows.filter((pending) => !pending.settled);
      lost.push(...rows);
      if (batch.unsure || batch.sending) unanswered += rows.length;
    }
    this.inFlight.clear();
    this.inFlightRows = 0;
    this.abort.abort();
    this.updateDepth();
    this.sender.giveUp(lost, queued, unanswered, shutdownTimeoutMs);
    this.settleWaiters();
  }

  private refuseWaiters(): void {
    for (const waiter of this.roomWaiters.splice(0)) {
      waiter.reject(this.refused());
    }
  }

  private enqueue(pending: Pending): void {
    this.queue.push(pending);
    if (pending.durability === 'await') this.awaitQueued++;
    this.updateDepth();
    if (this.queue.length >= this.options.batchSize) {
      this.drain(false);
    } else {
      this.armTimer();
    }
  }

  /**
   * Sends whatever is queued when its oldest row has waited long enough: `maxDelayMs` while an
   * `'await'` row waits, else `bufferedDelayMs`, and at once once shutdown has begun. An earlier
   * timer already set stays.
   */
  private armTimer(): void {
    if (this.queue.length === 0) return;
    const due =
      this.state !== 'open'
        ? 0
        : this.awaitQueued > 0
          ? Date.now() + this.options.maxDelayMs
          : this.queue[0].at + this.options.bufferedDelayMs;
    this.drainTimer.arm(due);
  }

  /**
   * Starts batches while there are free slots: full ones, the rows a flush waits for, or any when
   * `all` is set or shutdown has begun.
   */
  private drain(all: boolean): void {
    const now = all || this.state !== 'open';
    if (this.drainTimer.armed && (now || this.queue.length === 0)) {
      this.drainTimer.cancel();
    }
    const { batchSize, concurrency } = this.options;
    while (
      this.queue.length > 0 &&
      this.inFlight.size < concurrency &&
      (now ||
        this.queue.length >= batchSize ||
        this.queue[0].seq < this.flushTarget)
    ) {
      const rows = this.queue.splice(0, batchSize);
      if (this.awaitQueued > 0) {
        for (const pending of rows) {
          if (pending.durability === 'await') this.awaitQueued--;
        }
      }
      const batch = batchOf(rows);
      this.inFlight.add(batch);
      this.inFlightRows += rows.length;
      void this.sender.send(batch, this.abort.signal).finally(() => {
        if (!batch.abandoned) {
          this.inFlight.delete(batch);
          this.inFlightRows -= rows.length;
        }
        this.afterBatch();
      });
    }
    if (this.queue.length > 0 && this.inFlight.size < concurrency) {
      this.armTimer();
    }
  }

  private afterBatch(): void {
    // 'await' rows that piled up while every slot was busy have waited long enough; 'buffered'
    // ones keep waiting for a full batch or their delay.
    this.drain(this.awaitQueued > 0);
    // Room freed: callers waiting for it come in, first come first served, one per free row.
    while (
      this.roomWaiters.length > 0 &&
      this.depth < this.options.bufferSize
    ) {
      const waiter = this.roomWaiters.shift()!;
      const taken = this.accept(waiter.entry, waiter.durability);
      if (typeof taken === 'string') waiter.resolve(taken);
      else taken.then(waiter.resolve, waiter.reject);
    }
    this.updateDepth();
    this.settleWaiters();
  }

  /** Wakes the flushes whose rows are all settled, and the waiters for an idle writer. */
  private settleWaiters(): void {
    if (this.flushWaiters.length > 0) {
      const low = this.firstUnsettled();
      for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
        if (this.flushWaiters[i].upTo <= low) {
          this.flushWaiters.splice(i, 1)[0].resolve();
        }
      }
    }
    if (this.depth === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
  }

  /** The `seq` of the first accepted row not settled yet (`accepted` when every row is). */
  private firstUnsettled(): number {
    let low = this.queue.length > 0 ? this.queue[0].seq : this.accepted;
    for (const batch of this.inFlight) {
      const first = batch.rows.find((pending) => !pending.settled);
      if (first && first.seq < low) low = first.seq;
    }
    return low;
  }

  private updateDepth(): void {
    this.stats.bufferDepth[this.table.name] = this.depth;
  }
}
