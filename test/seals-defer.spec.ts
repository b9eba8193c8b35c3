import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import {
  AuditSealService,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import { loggingApp } from './support/logging-app.js';
import { databaseSuite } from './support/suite.js';

type SealOptions = NonNullable<LoggingModuleOptions['seals']>;

/**
 * Background sealing gives way to the writer of its process: it waits while the writer has rows
 * queued or in flight, for at most `seals.maxDeferMs` in one run, then seals anyway. Explicit
 * `seal()` calls never wait. Nothing is sealed twice or left out either way.
 */
describe('background sealing gives way to the writer', () => {
  const suite = databaseSuite();

  async function app(seals: SealOptions) {
    const started = suite.own(
      await loggingApp(suite.url, {
        writer: { durability: 'buffered' },
        seals: { intervalMs: 100, settleMs: 0, logs: ['audit_log'], ...seals },
      }),
    );
    return { ...started, seals: started.moduleRef.get(AuditSealService) };
  }

  async function firm(): Promise<string> {
    const { rows } = await suite.reader.query<{ id: string }>(
      `INSERT INTO firms (name) VALUES ('defer-' || gen_random_uuid()) RETURNING id`,
    );
    return rows[0].id;
  }

  async function auditRows(firmId: string, count: number): Promise<void> {
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       SELECT $1, 'upload_file', 'uploaded_file', clock_timestamp()
         FROM generate_series(1, $2) AS i`,
      [firmId, count],
    );
  }

  /** The firm's seals of audit_log as the database holds them. */
  async function sealsOf(firmId: string) {
    const { rows } = await suite.reader.query<{
      seq: number;
      rowCount: number;
    }>(
      `SELECT seq, row_count::int AS "rowCount" FROM log_seal
        WHERE log = 'audit_log' AND firm_id = $1 ORDER BY seq`,
      [firmId],
    );
    return rows;
  }

  /** Every audit row of the firm is in exactly one seal, and the chain verifies. */
  async function sealedExactlyOnce(seals: AuditSealService, firmId: string) {
    const {
      rows: [{ n }],
    } = await suite.reader.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM audit_log WHERE firm_id = $1',
      [firmId],
    );
    const sealed = (await sealsOf(firmId)).reduce((s, x) => s + x.rowCount, 0);
    expect(sealed).toBe(n);
    const verdict = await seals.verify({ firmId });
    expect(verdict).toMatchObject({ ok: true, rowsChecked: n });
  }

  /**
   * Holds the writer busy: llm_usage_log locked by another session, so the writer's INSERT of
   * `firmId`'s usage row stays in flight until `release()`.
   */
  async function holdWriter(
    started: Awaited<ReturnType<typeof app>>,
    firmId: string,
  ) {
    const locker = new Client({ connectionString: suite.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE llm_usage_log IN ACCESS EXCLUSIVE MODE');
    let recorded = 0;
    const record = async () => {
      await started.usage.record({
        firmId,
        model: 'gemini-3-flash',
        taskType: 'extraction',
        inputTokens: 1000,
        outputTokens: 100,
        costUsd: '0.000124',
      });
      recorded++;
    };
    await record();
    const depth = () => started.writer.stats().bufferDepth.llm_usage_log ?? 0;
    expect(depth()).toBeGreaterThan(0);
    // a background run that began before the writer was busy has ended by now
    await sleep(300);
    return {
      record,
      depth,
      get recorded() {
        return recorded;
      },
      async release() {
        await locker.query('COMMIT');
        await locker.end();
        await started.writer.flush();
      },
    };
  }

  /** The writer held back nothing: every usage row recorded while it was busy is in the table. */
  async function everyUsageRowWritten(firmId: string, recorded: number) {
    const { rows } = await suite.reader.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM llm_usage_log WHERE firm_id = $1',
      [firmId],
    );
    expect(rows[0].n).toBe(recorded);
  }

  async function until(condition: () => Promise<boolean>, limitMs: number) {
    const start = Date.now();
    while (!(await condition())) {
      if (Date.now() - start > limitMs) {
        throw new Error(`not within ${limitMs} ms`);
      }
      await sleep(50);
    }
    return Date.now() - start;
  }

  it('waits while the writer holds rows, and seals once it is idle', async () => {
    const firmId = await firm();
    const started = await app({ maxDeferMs: 60_000 });
    const held = await holdWriter(started, firmId);
    await auditRows(firmId, 300);
    // ten intervals, the writer busy all along: nothing sealed
    await sleep(1000);
    expect(held.depth()).toBeGreaterThan(0);
    expect(await sealsOf(firmId)).toEqual([]);

    await held.release();
    expect(held.depth()).toBe(0);
    await until(async () => (await sealsOf(firmId)).length > 0, 10_000);
    await sleep(300); // and nothing more comes
    expect(await sealsOf(firmId)).toEqual([{ seq: 1, rowCount: 300 }]);
    await sealedExactlyOnce(started.seals, firmId);
    await everyUsageRowWritten(firmId, held.recorded);
  });

  it('seals anyway after maxDeferMs while the writer stays busy, each row once', async () => {
    const firmId = await firm();
    const started = await app({ maxDeferMs: 700 });
    const busySince = Date.now();
    const held = await holdWriter(started, firmId);
    await auditRows(firmId, 200);
    // the writer keeps taking rows while its statements wait: busy the whole time
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await held.record();
        await sleep(5);
      }
    })();
    try {
      await until(async () => (await sealsOf(firmId)).length > 0, 15_000);
      const waited = Date.now() - busySince;
      expect(held.depth()).toBeGreaterThan(0);
      expect(waited).toBeGreaterThanOrEqual(700);
      // more rows while still busy: the next runs wait maxDeferMs again, then take them in
      await auditRows(firmId, 100);
      await until(
        async () =>
          (await sealsOf(firmId)).reduce((s, x) => s + x.rowCount, 0) >= 300,
        15_000,
      );
      expect(held.depth()).toBeGreaterThan(0);
    } finally {
      writing = false;
      await writer;
      await held.release();
    }
    await sleep(300);
    await sealedExactlyOnce(started.seals, firmId);
    await everyUsageRowWritten(firmId, held.recorded);
  });

  it('never makes an explicit seal() wait for the writer', async () => {
    const firmId = await firm();
    const started = await app({ intervalMs: null, maxDeferMs: 60_000 });
    const held = await holdWriter(started, firmId);
    try {
      await auditRows(firmId, 50);
      const start = Date.now();
      const made = await started.seals.seal({ firmId, log: 'audit_log' });
      expect(Date.now() - start).toBeLessThan(5_000);
      expect(made.map((s) => s.rowCount)).toEqual([50]);
      expect(held.depth()).toBeGreaterThan(0);
      expect(await sealsOf(firmId)).toEqual([{ seq: 1, rowCount: 50 }]);
    } finally {
      await held.release();
    }
    await sealedExactlyOnce(started.seals, firmId);
  });
});
