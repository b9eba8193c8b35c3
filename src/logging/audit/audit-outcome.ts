import {
  Observable,
  type SchedulerLike,
  type Subscriber,
  type Subscription,
  type TeardownLogic,
  isObservable,
} from 'rxjs';

/**
 * How an audited call ended, as its row records it.
 *
 * - `success`: the handler completed; `value` is the last value it emitted, the one the client
 *   received last (Nest answers HTTP with it).
 * - `failure`: the handler errored, before or after values.
 * - `cancelled`: the subscriber left before the handler completed (an SSE client disconnecting, a
 *   `timeout()` or a gateway upstream); the action may have started.
 */
export interface CallEnd {
  readonly outcome: 'success' | 'failure' | 'cancelled';
  /** The last value the handler emitted, if any. */
  readonly value: unknown;
  /** What the handler threw (`failure` only). */
  readonly error?: unknown;
  /** How many values the handler emitted. */
  readonly values: number;
  /** 1 for the call's first run; 2, 3... for each run again (an outer `retry()`). */
  readonly attempt: number;
}

/** The runs of one call: how many began, and whether one is under way. */
export interface CallAttempts {
  count: number;
  active: boolean;
}

/** What writing a row gives back: nothing when it is done, else its promise or Observable. */
export type Settling = PromiseLike<unknown> | Observable<unknown> | void;

export interface WatchOptions {
  /** The runs of the call: every subscription is one, counted here. */
  readonly attempts: CallAttempts;
  /** Writes the row of the end. A `success` whose row fails ends the call with that error. */
  readonly settle: (end: CallEnd) => Settling;
  /** Subscribes to the handler (the audit context is put in force there). Default: as is. */
  readonly enter?: <R>(subscribe: () => R) => R;
  /**
   * Where a value is let out when the handler did not complete in the turn that emitted it.
   * Default: a microtask. A test passes its `TestScheduler`.
   */
  readonly scheduler?: SchedulerLike;
}

/**
 * The handler's Observable, audited: one row per subscription, written when the call ends, with
 * the outcome, the last value and the count of values ({@link CallEnd}).
 *
 * Values pass on as they come, except the one the call ends with: a value followed by completion
 * in the same turn (a plain value, a promise, `of(x)`: every single answer) waits for the row,
 * so with durability `'await'` the client receives it after the commit. A value not followed by
 * completion in its turn goes out at the end of the turn, or when the next one comes: streams
 * (SSE, RPC streams) flow. Completion and errors always wait for the row; a row written at once
 * (`settle` returning nothing) lets them go in the same turn.
 */
export function watchCall<T>(
  handle: () => Observable<T>,
  options: WatchOptions,
): Observable<T> {
  return new Observable<T>((subscriber) =>
    new CallWatch(options, subscriber).start(handle),
  );
}

/**
 * One subscription of an audited call, in one object: the observer of the handler's Observable
 * (`next`, `error`, `complete`) and the teardown of the audited one (`unsubscribe`), the methods
 * rxjs calls.
 */
class CallWatch<T> {
  private readonly attempt: number;
  private values = 0;
  private last: unknown;
  /** The value held back, while `holding`. */
  private held: T | undefined;
  private holding = false;
  /** Values held so far, and the release checks run so far: the one for the value held is its number. */
  private holds = 0;
  private checks = 0;
  /** The release check, made once per call. */
  private check: (() => void) | undefined;
  private ended = false;
  /** The handler's error, passed on after its row. */
  private failure: unknown;
  private source: Subscription | undefined;

  constructor(
    private readonly options: WatchOptions,
    private readonly subscriber: Subscriber<T>,
  ) {
    this.attempt = ++options.attempts.count;
    options.attempts.active = true;
  }

  /** Subscribes to the handler, inside `enter`; returns the teardown (this object). */
  start(handle: () => Observable<T>): TeardownLogic {
    const subscribe = () => handle().subscribe(this);
    this.source = this.options.enter
      ? this.options.enter(subscribe)
      : subscribe();
    return this;
  }

  next(value: T): void {
    this.values++;
    this.last = value;
    this.release(); // the value before goes out as this one comes
    this.held = value;
    this.holding = true;
    this.holds++;
    this.check ??= () => this.onCheck();
    if (this.options.scheduler) this.options.scheduler.schedule(this.check);
    else queueMicrotask(this.check);
  }

  error(error: unknown): void {
    // the handler's error goes on unchanged, whether its row was written or not
    this.failure = error;
    this.end({
      outcome: 'failure',
      value: this.last,
      error,
      values: this.values,
      attempt: this.attempt,
    });
  }

  complete(): void {
    this.end({
      outcome: 'success',
      value: this.last,
      values: this.values,
      attempt: this.attempt,
    });
  }

  /** A release check runs once per value held, in order: the last one's may let it out. */
  private onCheck(): void {
    this.checks++;
    // at the end, the row goes first
    if (this.checks === this.holds && !this.ended) this.release();
  }

  private release(): void {
    if (!this.holding) return;
    const value = this.held as T;
    this.held = undefined;
    this.holding = false;
    this.subscriber.next(value);
  }

  /** The subscriber left: a call not ended yet is cancelled. */
  unsubscribe(): void {
    this.source?.unsubscribe();
    this.held = undefined;
    this.holding = false;
    if (this.ended) return;
    this.ended = true;
    this.options.attempts.active = false;
    this.settle({
      outcome: 'cancelled',
      value: this.last,
      values: this.values,
      attempt: this.attempt,
    });
  }

  private end(callEnd: CallEnd): void {
    this.ended = true;
    this.options.attempts.active = false;
    this.settle(callEnd);
  }

  /** Writes the row of `callEnd`, then lets the end out, or the write's error. */
  private settle(callEnd: CallEnd): void {
    const kind = callEnd.outcome;
    let settling: Settling;
    try {
      settling = this.options.settle(callEnd);
    } catch (error) {
      return this.unwritten(kind, error);
    }
    if (settling === undefined || settling === null) return this.written(kind);
    const written = () => this.written(kind);
    const unwritten = (error: unknown) => this.unwritten(kind, error);
    if (isObservable(settling)) {
      settling.subscribe({ complete: written, error: unwritten });
      return;
    }
    settling.then(written, unwritten);
  }

  private written(kind: CallEnd['outcome']): void {
    if (kind === 'success') {
      this.release();
      this.subscriber.complete();
    } else if (kind === 'failure') {
      this.release();
      this.subscriber.error(this.failure);
    }
  }

  private unwritten(kind: CallEnd['outcome'], writeError: unknown): void {
    if (kind === 'success') {
      // an answer off the record is not sent
      this.held = undefined;
      this.holding = false;
      this.subscriber.error(writeError);
    } else if (kind === 'failure') {
      this.release();
      this.subscriber.error(this.failure);
    }
  }
}
