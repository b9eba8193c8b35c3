import { BatchWriter } from './batch-writer.js';
import { RESTAMP_AFTER_MS, type LogTable } from './log-table.js';
import { resolveWriterOptions } from './writer.options.js';
import { sentColumns } from '../../../test/support/sent-columns.js';

/**
 * When rows are dated: the database refuses (for every role but the owner) a created_at more than
 * 5 s from its clock, so the writer dates a row when its batch is formed, and again when a retry
 * comes more than RESTAMP_AFTER_MS later. Ids keep the order rows were recorded in.
 */

interface Entry {
  n: number;
}

const TABLE: LogTable<Entry> = {
  name: 'stamped',
  entryClass: class {} as new () => Entry,
  columns: [
    ['id', 'uuid'],
    ['n', 'int4'],
    ['created_at', 'timestamptz'],
  ],
  values: (entry, id, createdAt) => [id, entry.n, createdAt],
};

const stats = () => ({
  rowsWritten: 0,
  batches: 0,
  retries: 0,
  rowsFailed: 0,
  rowsRejected: 0,
  rowsUnwritten: 0,
  bufferDepth: {},
});
const quiet = { warn: () => undefined, error: () => undefined };
const ms = (iso: unknown) => Date.parse(String(iso));

describe('the batched writer dates rows when they leave', () => {
  it('stamps created_at when the batch is formed, not when the row was recorded, in record order', async () => {
    const sent: unknown[][][] = [];
    const writer = new BatchWriter<Entry>(
      TABLE,
      (sql, parameters) => {
        sent.push(sentColumns(sql, parameters, 2));
        return Promise.resolve();
      },
      resolveWriterOptions({ bufferedDelayMs: 300 }),
      stats(),
      quiet,
    );
    const recorded = Date.now();
    const ids = [];
    for (let n = 0; n < 5; n++) ids.push(await writer.write({ n }, 'buffered'));
    await new Promise((resolve) => setTimeout(resolve, 400));
    await writer.close();
    expect(sent).toHaveLength(1);
    const [idColumn, , createdAt] = sent[0];
    expect(idColumn).toEqual(ids);
    expect([...ids].sort()).toEqual(ids);
    expect([...createdAt].sort()).toEqual(createdAt);
    expect(new Set(createdAt).size).toBe(5);
    // formed by the 300 ms timer: dated then, not at record time
    expect(ms(createdAt[0]) - recorded).toBeGreaterThanOrEqual(250);
  });

  it(`stamps a batch again when a retry comes more than ${RESTAMP_AFTER_MS} ms after it was dated, keeping its ids`, async () => {
    const attempts: { at: number; ids: unknown[]; createdAt: unknown[] }[] = [];
    const started = Date.now();
    const writer = new BatchWriter<Entry>(
      TABLE,
      (sql, parameters) => {
        const [ids, , createdAt] = sentColumns(sql, parameters, 2);
        attempts.push({ at: Date.now(), ids, createdAt: [...createdAt] });
        if (Date.now() - started < RESTAMP_AFTER_MS + 300) {
          return Promise.reject(
            Object.assign(new Error('connect ECONNREFUSED'), {
              code: 'ECONNREFUSED',
            }),
          );
        }
        return Promise.resolve();
      },
      resolveWriterOptions({
        maxDelayMs: 0,
        retry: { attempts: 40, baseDelayMs: 200, maxDelayMs: 400 },
      }),
      stats(),
      quiet,
    );
    const id = await writer.write({ n: 1 }, 'await');
    const first = attempts[0];
    const last = attempts.at(-1)!;
    expect(attempts.length).toBeGreaterThan(3);
    expect(last.ids).toEqual([id]);
    expect(first.ids).toEqual([id]);
    // early retries keep the stamp; the one past RESTAMP_AFTER_MS carries a new one
    expect(attempts[1].createdAt).toEqual(first.createdAt);
    expect(ms(last.createdAt[0]) - ms(first.createdAt[0])).toBeGreaterThan(
      RESTAMP_AFTER_MS,
    );
    expect(Math.abs(ms(last.createdAt[0]) - last.at)).toBeLessThan(
      RESTAMP_AFTER_MS,
    );
  });
});
