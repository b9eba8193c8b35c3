import {
  type Observable,
  catchError,
  defer,
  of,
  from,
  lastValueFrom,
  retry,
  timeout,
  TimeoutError,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  type CallAttempts,
  type CallEnd,
  type Settling,
  watchCall,
} from './audit-outcome.js';

/**
 * The outcome of an audited call, decided when it ends: marble tests of `watchCall` in virtual
 * time. `settle` stands for the row's write: it notes the end and the frame, and takes `write`
 * frames (durability 'await' waiting for the commit).
 */

interface Row extends CallEnd {
  readonly frame: number;
}

function marbles(test: (helpers: MarbleHelpers) => void): void {
  const scheduler = new TestScheduler((actual, expected) =>
    expect(actual).toEqual(expected),
  );
  scheduler.run((helpers) => {
    const rows: Row[] = [];
    const attempts: CallAttempts = { count: 0, active: false };
    const audited = <T>(
      handle: () => Observable<T>,
      write = '--|',
      failWrite = false,
    ): Observable<T> =>
      watchCall(handle, {
        attempts,
        scheduler,
        settle: (end): Settling => {
          rows.push({ ...end, frame: scheduler.now() });
          return failWrite
            ? helpers.cold('--#', undefined, new Error('write failed'))
            : helpers.cold(write);
        },
      });
    test({ ...helpers, rows, attempts, audited });
  });
}

type MarbleHelpers = Parameters<Parameters<TestScheduler['run']>[0]>[0] & {
  rows: Row[];
  attempts: CallAttempts;
  audited: <T>(
    handle: () => Observable<T>,
    write?: string,
    failWrite?: boolean,
  ) => Observable<T>;
};

describe('watchCall: one row per call, with the outcome at its end', () => {
  it('sends a single answer after its row, which holds it and says success', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      const handler = cold('---(a|)', { a: { id: 'p1' } });
      expectObservable(audited(() => handler)).toBe('-----(a|)', {
        a: { id: 'p1' },
      });
      flush();
      expect(rows).toEqual([
        {
          outcome: 'success',
          value: { id: 'p1' },
          values: 1,
          attempt: 1,
          frame: 3,
        },
      ]);
    });
  });

  it('lets a stream flow and writes one row at its end, with the last value and the count', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      const handler = cold('a-b-c-|');
      expectObservable(audited(() => handler)).toBe('a-b-c---|');
      flush();
      expect(rows).toEqual([
        { outcome: 'success', value: 'c', values: 3, attempt: 1, frame: 6 },
      ]);
    });
  });

  it('holds the last of values emitted together until the row is written', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      expectObservable(audited(() => cold('(abc|)'), '-----|')).toBe(
        '(ab)-(c|)',
      );
      flush();
      expect(rows).toMatchObject([{ outcome: 'success', value: 'c' }]);
    });
  });

  it('records an error after values as a failure, and passes the error on after the row', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      const error = new TypeError('disk full');
      const handler = cold('a-b-#', undefined, error);
      expectObservable(audited(() => handler)).toBe(
        'a-b---#',
        undefined,
        error,
      );
      flush();
      expect(rows).toEqual([
        {
          outcome: 'failure',
          value: 'b',
          error,
          values: 2,
          attempt: 1,
          frame: 4,
        },
      ]);
    });
  });

  it('records an error before any value as a failure with no value', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      const error = new Error('refused');
      expectObservable(audited(() => cold('-#', undefined, error))).toBe(
        '---#',
        undefined,
        error,
      );
      flush();
      expect(rows).toEqual([
        {
          outcome: 'failure',
          value: undefined,
          error,
          values: 0,
          attempt: 1,
          frame: 1,
        },
      ]);
    });
  });

  it('records a call the subscriber leaves before the first value as cancelled', () => {
    marbles(
      ({
        cold,
        expectObservable,
        expectSubscriptions,
        flush,
        rows,
        audited,
      }) => {
        const handler = cold('-----a|');
        expectObservable(
          audited(() => handler),
          '--!',
        ).toBe('--');
        expectSubscriptions(handler.subscriptions).toBe('^-!');
        flush();
        expect(rows).toEqual([
          {
            outcome: 'cancelled',
            value: undefined,
            values: 0,
            attempt: 1,
            frame: 2,
          },
        ]);
      },
    );
  });

  it('records a call the subscriber leaves after the first value as cancelled, with what it had sent', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      const handler = cold('a--b--c|');
      expectObservable(
        audited(() => handler),
        '----!',
      ).toBe('a--b');
      flush();
      expect(rows).toEqual([
        { outcome: 'cancelled', value: 'b', values: 2, attempt: 1, frame: 4 },
      ]);
    });
  });

  it('records a call a timeout() around it gives up as cancelled; the timeout error goes on', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      const handler = cold('------a|');
      const timedOut = audited(() => handler).pipe(
        timeout(3),
        catchError((error: unknown) =>
          of(error instanceof TimeoutError ? 'timeout' : 'other'),
        ),
      );
      expectObservable(timedOut).toBe('---(t|)', { t: 'timeout' });
      flush();
      expect(rows).toMatchObject([
        { outcome: 'cancelled', values: 0, frame: 3 },
      ]);
    });
  });

  it('writes no cancelled row when the subscriber leaves after the end, while the row is written', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      expectObservable(
        audited(() => cold('-(a|)'), '----|'),
        '--!',
      ).toBe('--');
      flush();
      expect(rows).toMatchObject([{ outcome: 'success', frame: 1 }]);
    });
  });

  it('writes one row per attempt under an outer retry(), each numbered', () => {
    marbles(({ cold, expectObservable, flush, rows, audited, attempts }) => {
      const error = new Error('busy');
      const runs = [cold('-#', undefined, error), cold('-a|')];
      let run = 0;
      expectObservable(
        audited(() => defer(() => runs[run++])).pipe(retry(1)),
      ).toBe('----a--|');
      flush();
      expect(rows).toEqual([
        {
          outcome: 'failure',
          value: undefined,
          error,
          values: 0,
          attempt: 1,
          frame: 1,
        },
        { outcome: 'success', value: 'a', values: 1, attempt: 2, frame: 5 },
      ]);
      expect(attempts).toEqual({ count: 2, active: false });
    });
  });

  it('writes one row per call under a retry() inside it, at the end of the last try', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      const error = new Error('busy');
      const runs = [cold('-#', undefined, error), cold('-a|')];
      let run = 0;
      const handler = defer(() => runs[run++]).pipe(retry(1));
      expectObservable(audited(() => handler)).toBe('--a--|');
      flush();
      expect(rows).toEqual([
        { outcome: 'success', value: 'a', values: 1, attempt: 1, frame: 3 },
      ]);
    });
  });

  it('fails a completed call whose row cannot be written, without sending its answer', () => {
    marbles(({ cold, expectObservable, flush, rows, audited }) => {
      expectObservable(audited(() => cold('-(a|)'), '', true)).toBe(
        '---#',
        undefined,
        new Error('write failed'),
      );
      flush();
      expect(rows).toMatchObject([{ outcome: 'success', value: 'a' }]);
    });
  });

  it('passes a failed action its own error even when its row cannot be written', () => {
    marbles(({ cold, expectObservable, audited }) => {
      const error = new Error('refused');
      expectObservable(
        audited(() => cold('-#', undefined, error), '', true),
      ).toBe('---#', undefined, error);
    });
  });

  it('marks the call active while it runs, for the bindings inside it', () => {
    marbles(({ cold, expectObservable, flush, attempts, audited }) => {
      const seen: boolean[] = [];
      const handler = defer(() => {
        seen.push(attempts.active);
        return cold('-a|');
      });
      expectObservable(audited(() => handler)).toBe('-a--|');
      flush();
      expect(seen).toEqual([true]);
      expect(attempts.active).toBe(false);
    });
  });
});

describe('watchCall over what Nest hands it: a plain value, a promise, an Observable', () => {
  /** A write that resolves when the test says, noting what was sent before it did. */
  function pendingWrite() {
    const events: string[] = [];
    let finish!: () => void;
    const written = new Promise<void>((resolve) => (finish = resolve));
    const rows: CallEnd[] = [];
    const settle = (end: CallEnd) => {
      rows.push(end);
      events.push('row');
      return written.then(() => void events.push('committed'));
    };
    return { events, finish, rows, settle };
  }

  it.each([
    // Nest wraps a plain value in a resolved promise, and any promise with from()
    ['a plain value', () => from(Promise.resolve({ id: 'p1' }))],
    [
      'a promise',
      () =>
        from(
          new Promise<{ id: string }>((resolve) =>
            setTimeout(() => resolve({ id: 'p1' }), 5),
          ),
        ),
    ],
    ['an Observable', () => from([{ id: 'p1' }])],
  ])(
    'records %s as a success and sends it after the commit',
    async (_, handler) => {
      const { events, finish, rows, settle } = pendingWrite();
      const audited = watchCall(handler, {
        attempts: { count: 0, active: false },
        settle,
      });
      const answer = lastValueFrom(audited).then((value) => {
        events.push('sent');
        return value;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events).toEqual(['row']);
      finish();
      expect(await answer).toEqual({ id: 'p1' });
      expect(events).toEqual(['row', 'committed', 'sent']);
      expect(rows).toEqual([
        {
          outcome: 'success',
          value: { id: 'p1' },
          values: 1,
          attempt: 1,
        },
      ]);
    },
  );

  it('lets the values of an asynchronous stream out as they come, before the end', async () => {
    const { events, finish, settle } = pendingWrite();
    const ticks = new Promise<void>((resolve) => setTimeout(resolve, 5));
    const handler = () =>
      from(
        (async function* () {
          yield 1;
          await ticks;
          yield 2;
        })(),
      );
    const seen: number[] = [];
    const done = new Promise<void>((resolve) =>
      watchCall(handler, {
        attempts: { count: 0, active: false },
        settle,
      }).subscribe({
        next: (value) => seen.push(value),
        complete: resolve,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([1, 2]);
    expect(events).toEqual(['row']);
    finish();
    await done;
    expect(events).toEqual(['row', 'committed']);
  });
});
