import { HttpException } from '@nestjs/common';
import { Observable, type SchedulerLike, isObservable } from 'rxjs';
import type { AuditCall } from './audit-call.js';
import type { AuditArgs } from './audit-spec.js';

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
  /**
   * Writes the row of the end. A `success` whose row fails ends the call with that error. Called
   * as a method of the options, as `enter` is.
   */
  readonly settle: (end: CallEnd) => Settling;
  /** Subscribes to the handler (the audit context is put in force there). Default: as is. */
  readonly enter?: <R>(subscribe: () => R) => R;
  /**
   * Where a value is let out when the handler did not complete in the turn that emitted it.
   * Default: a microtask. A test passes its `TestScheduler`.
   */
  readonly scheduler?: SchedulerLike;
}

const ignore = (): void => undefined;

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
  const { attempts, scheduler } = options;
  return new Observable<T>((subscriber) => {
    const attempt = ++attempts.count;
    attempts.active = true;
    let values = 0;
    let last: unknown;
    let held: { readonly value: T } | undefined;
    let ended = false;

    const release = () => {
      const box = held;
      if (box === undefined) return;
      held = undefined;
      subscriber.next(box.value);
    };
    const hold = (value: T) => {
      release(); // the value before goes out as this one comes
      const box = { value };
      held = box;
      const later = () => {
        if (held === box && !ended) release(); // at the end, the row goes first
      };
      if (scheduler) scheduler.schedule(later);
      else queueMicrotask(later);
    };
    const end = (
      callEnd: CallEnd,
      then: () => void,
      unwritten: (error: unknown) => void,
    ) => {
      ended = true;
      attempts.active = false;
      whenSettled(options, callEnd, then, unwritten);
    };

    const subscribe = () =>
      handle().subscribe({
        next: (value) => {
          values++;
          last = value;
          hold(value);
        },
        error: (error: unknown) => {
          // the handler's error goes on unchanged, whether its row was written or not
          const fail = () => {
            release();
            subscriber.error(error);
          };
          end(
            { outcome: 'failure', value: last, error, values, attempt },
            fail,
            fail,
          );
        },
        complete: () =>
          end(
            { outcome: 'success', value: last, values, attempt },
            () => {
              release();
              subscriber.complete();
            },
            (writeError) => {
              held = undefined; // an answer off the record is not sent
              subscriber.error(writeError);
            },
          ),
      });
    // Nest's pipeline (pipes, the handler) runs inside the subscription: `enter` puts the audit
    // context in force around it
    const source = options.enter ? options.enter(subscribe) : subscribe();
    return () => {
      source.unsubscribe();
      held = undefined;
      if (ended) return;
      ended = true;
      attempts.active = false;
      const callEnd: CallEnd = {
        outcome: 'cancelled',
        value: last,
        values,
        attempt,
      };
      whenSettled(options, callEnd, ignore, ignore);
    };
  });
}

/** Writes the row of `callEnd` (`options.settle`), then `done`, or `failed` with the write's error. */
function whenSettled(
  options: WatchOptions,
  callEnd: CallEnd,
  done: () => void,
  failed: (error: unknown) => void,
): void {
  let settling: Settling;
  try {
    settling = options.settle(callEnd);
  } catch (error) {
    return failed(error);
  }
  if (settling === undefined || settling === null) return done();
  if (isObservable(settling)) {
    settling.subscribe({ complete: done, error: failed });
    return;
  }
  settling.then(done, failed);
}

/** What an entity-id or metadata function of `@Audit` receives for the call's end. */
export function argsOf(call: AuditCall, end: CallEnd): AuditArgs {
  return {
    outcome: end.outcome,
    context: call.context,
    request: call.request,
    params: call.params,
    result: end.value,
    values: end.values,
    error: end.error,
  };
}

/** What an SSE `MessageEvent` carries: its `data`. */
export function dataOf(event: unknown): unknown {
  return event !== null && typeof event === 'object'
    ? (event as { data?: unknown }).data
    : undefined;
}

/** The class of what a handler threw, as a row stores it: a plain name, else `Error`. */
export function errorClass(error: unknown): string {
  const name =
    error instanceof Error
      ? error.constructor.name || error.name
      : typeof error;
  return /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name) ? name : 'Error';
}

/**
 * The HTTP status of an error: an `HttpException`'s, else a `status` or `statusCode` of 400-599
 * it carries, else 500.
 */
export function httpStatus(error: unknown): number {
  if (error instanceof HttpException) return error.getStatus();
  const status =
    (error as { status?: unknown; statusCode?: unknown } | null)?.status ??
    (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' &&
    Number.isInteger(status) &&
    status >= 400 &&
    status <= 599
    ? status
    : 500;
}
