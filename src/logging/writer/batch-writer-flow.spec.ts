import { BatchWriter } from './batch-writer.js';
import type { LogTable, QueryExecutor } from './log-table.js';
import { LogWriteError, LogWriterClosedError } from './writer.errors.js';
import {
  type LogWriterOptions,
  type LogWriterStats,
  resolveWriterOptions,
} from './writer.options.js';
import { sentColumns } from '../../../test/support/sent-columns.js';

/**
 * How rows flow through the batched writer when the database holds its statements: what a flush
 * waits for, in what order callers waiting for room come in, and what the shutdown deadline does
 * with rows not written. The statements go to a stand-in the test answers by hand; the same paths
 * against PostgreSQL are in test/writer.spec.ts and test/faults.spec.ts.
 */

interface Entry {
  n: number;
}

const TABLE: LogTable<Entry> = {
  name: 'flow',
  entryClass: class {} as new () => Entry,
  columns: [
    ['id', 'uuid'],
    ['n', 'int4'],
    ['created_at', 'timestamptz'],
  ],
  values: (entry, id, createdAt) => [id, entry.n, createdAt],
};

interface Statement {
  /** The `n` of each row, in the statement's order. */
  ns: number[];
  signal: AbortSignal | undefined;
  answer(error?: Error): void;
}

/**
 * A database whose statements wait until the test answers them; `refuse` makes the next ones fail
 * at once, before they are sent (a connection refused).
 */
function heldDatabase() {
  const statements: Statement[] = [];
  let refusing = false;
  const execute: QueryExecutor = (sql, parameters, control) =>
    new Promise((resolve, reject) => {
      const signal = control?.signal;
      const ns = sentColumns(sql, parameters, 2)[1] as number[];
      if (refusing) {
        statements.push({ ns, signal, answer: () => undefined });
        reject(
          Object.assign(new Error('connect ECONNREFUSED'), {
            code: 'ECONNREFUSED',
          }),
        );
        return;
      }
      control?.sent();
      statements.push({
        ns,
        signal,
        answer: (error) => (error ? reject(error) : resolve(undefined)),
      });
      signal?.addEventListener('abort', () => reject(new Error('aborted')));
    });
  return {
    statements,
    execute,
    refuse: (on: boolean) => (refusing = on),
  };
}

function start(options: LogWriterOptions) {
  const database = heldDatabase();
  const stats: LogWriterStats = {
    rowsWritten: 0,
    batches: 0,
    retries: 0,
    rowsFailed: 0,
    rowsRejected: 0,
    rowsUnwritten: 0,
    bufferDepth: {},
  };
  const logs = { warn: [] as string[], error: [] as string[] };
  const writer = new BatchWriter<Entry>(
    TABLE,
    database.execute,
    resolveWriterOptions(options),
    stats,
    {
      warn: (line) => logs.warn.push(line),
      error: (line) => logs.error.push(line),
    },
  );
  return { writer, stats, logs, ...database };
}

/** Lets queued callbacks and immediates run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('the batched writer: flush, room and the shutdown deadline', () => {
  it('flush() waits for the rows accepted before it, sent at once, and not for rows accepted after', async () => {
    const { writer, statements } = start({
      batchSize: 3,
      concurrency: 1,
      bufferedDelayMs: 60_000,
    });
    for (let n = 0; n < 2; n++) await writer.write({ n }, 'buffered');
    const flushing = writer.flush();
    await settle();
    // sent at once, not after the 60 s delay
    expect(statements.map((s) => s.ns)).toEqual([[0, 1]]);
    for (let n = 2; n < 9; n++) await writer.write({ n }, 'buffered');
    statements[0].answer();
    // resolved though the rows accepted after it are still queued
    await flushing;
    expect(writer.depth).toBe(7);
    await settle();
    expect(statements[1].ns).toEqual([2, 3, 4]); // a full batch leaves as usual

    let flushed = false;
    const second = writer.flush().then(() => (flushed = true));
    await writer.write({ n: 9 }, 'buffered');
    statements[1].answer();
    await settle();
    expect(statements[2].ns).toEqual([5, 6, 7]);
    expect(flushed).toBe(false);
    statements[2].answer();
    await settle();
    // the last row below the flush leaves without waiting for a full batch, row 9 with it
    expect(statements[3].ns).toEqual([8, 9]);
    await writer.write({ n: 10 }, 'buffered');
    statements[3].answer();
    await second;
    expect(writer.depth).toBe(1); // row 10 waits for its batch or its delay
    expect(statements).toHaveLength(4);
    const closing = writer.close(); // and leaves at once on close
    await settle();
    expect(statements[4].ns).toEqual([10]);
    statements[4].answer();
    await closing;
  });

  it('admits callers waiting for room one per free row, in the order they came', async () => {
    const { writer, statements, stats } = start({
      batchSize: 2,
      bufferSize: 4,
      concurrency: 1,
      bufferedDelayMs: 0,
      onFullBuffer: 'wait',
    });
    for (let n = 0; n < 4; n++) await writer.write({ n }, 'buffered');
    const admitted: number[] = [];
    const waiting = Array.from({ length: 6 }, (_, i) =>
      writer
        .write({ n: 100 + i }, i % 2 ? 'await' : 'buffered')
        .then(() => admitted.push(100 + i)),
    );
    await settle();
    expect(statements.map((s) => s.ns)).toEqual([[0, 1]]);
    expect(writer.depth).toBe(4);

    statements[0].answer(); // two rows of room
    await settle();
    // the next batch left; the first two callers came in, in order, and no one else
    expect(statements.map((s) => s.ns)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(writer.depth).toBe(4);
    expect(admitted).toEqual([100]); // 101 is 'await': admitted, resolves when written

    // a caller arriving now waits behind those already waiting
    const late = writer.write({ n: 200 }, 'buffered');
    statements[1].answer();
    await settle();
    expect(statements[2].ns).toEqual([100, 101]);
    expect(admitted).toEqual([100, 102]);
    statements[2].answer();
    await settle();
    expect(admitted).toEqual([100, 102, 101, 104]);
    statements[3].answer();
    await settle();
    statements[4].answer();
    await settle();
    await late;
    expect(statements.map((s) => s.ns).flat()).toEqual([
      0, 1, 2, 3, 100, 101, 102, 103, 104, 105, 200,
    ]);
    statements.slice(5).forEach((s) => s.answer());
    await Promise.all(waiting);
    await writer.flush();
    expect(stats.bufferDepth.flow).toBe(0);
  });

  it('at the deadline, refuses new rows and reports every accepted row not written, by where it was', async () => {
    const { writer, statements, stats, logs, refuse } = start({
      batchSize: 2,
      concurrency: 2,
      bufferSize: 5,
      retry: { attempts: 10, baseDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    const awaited = writer.write({ n: 0 }, 'await').catch((e: unknown) => e);
    await writer.write({ n: 1 }, 'buffered');
    await settle();
    refuse(true); // the second batch is refused, and waits 10 s for its next try
    await writer.write({ n: 2 }, 'buffered');
    await writer.write({ n: 3 }, 'buffered');
    await settle();
    await writer.write({ n: 4 }, 'buffered'); // every slot busy: queued
    const waiter = writer.write({ n: 5 }, 'buffered').catch((e: unknown) => e);
    expect(statements.map((s) => s.ns)).toEqual([
      [0, 1],
      [2, 3],
    ]);

    writer.beginShutdown();
    const flushing = writer.flush();
    const closing = writer.close();
    // the caller waiting for room, and any new one, are refused and counted
    expect(await waiter).toBeInstanceOf(LogWriterClosedError);
    await expect(writer.write({ n: 6 }, 'buffered')).rejects.toThrow(
      'flow: the log writer is shut down and accepts no more rows',
    );
    expect(stats.rowsRejected).toBe(2);

    writer.abandon(250);
    await closing;
    await flushing;
    expect(statements[0].signal?.aborted).toBe(true); // the statement out is given up
    expect(stats).toMatchObject({
      rowsUnwritten: 5,
      rowsWritten: 0,
      rowsFailed: 0,
      bufferDepth: { flow: 0 },
    });
    expect(logs.error).toEqual([
      'flow: 5 accepted row(s) not written by the shutdown deadline (writer.shutdownTimeoutMs, 250 ms): ' +
        '1 queued, 2 tried and refused, 2 sent without an answer (these may have been committed); ' +
        '4 of them buffered: no caller is waiting for them',
    ]);
    const error = (await awaited) as LogWriteError;
    expect(error).toBeInstanceOf(LogWriteError);
    expect(error.cause).toBeInstanceOf(LogWriterClosedError);
    expect(error.message).toBe(
      'flow: 5 row(s) could not be written: flow: the log writer shut down before writing them: ' +
        'its deadline, writer.shutdownTimeoutMs (250 ms), passed',
    );
    // nothing is tried again after the deadline
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(statements).toHaveLength(2);
    expect(logs.warn).toHaveLength(1); // the one retry announced before the deadline
  });
});
