import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { AuditSealService } from '../src/logging/index.js';
import type { Seal } from '../src/logging/seals/seal.types.js';
import { loggingApp } from './support/logging-app.js';
import { databaseSuite } from './support/suite.js';

/**
 * Late arrivals: rows whose created_at is already behind the last seal when they commit (a writer
 * whose clock is behind, a transaction that commits late) go into the next seal, once, and never
 * break the chain; two background sealers never seal at the same time.
 */

describe('seals with late arrivals', () => {
  const suite = databaseSuite();

  it('20 concurrent writers, skewed clocks and late commits: every row sealed exactly once', async () => {
    const firms: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { rows } = await suite.reader.query<{ id: string }>(
        `INSERT INTO firms (name) VALUES ('late-' || $1) RETURNING id`,
        [i],
      );
      firms.push(rows[0].id);
    }
    const published: Seal[] = [];
    // two "processes" sealing in the background, every 50 ms, rows older than 100 ms
    const sealers = [];
    for (let i = 0; i < 2; i++) {
      sealers.push(
        suite.own(
          await loggingApp(suite.url, {
            seals: {
              intervalMs: 100,
              settleMs: 100,
              logs: ['audit_log'],
              onSeal: (seal) => void published.push(seal),
            },
          }),
        ),
      );
    }
    const writers = Array.from({ length: 20 }, (_, i) => ({
      firmId: firms[i % firms.length],
      // a quarter of the clocks run 1.5 s behind, a quarter 0.4 s behind
      skewMs: i % 4 === 0 ? 1500 : i % 4 === 1 ? 400 : 0,
      // a third of the writers hold their transaction open before committing
      holdMs: i % 3 === 0 ? 600 : 0,
    }));
    const until = Date.now() + 4000;
    let written = 0;
    await Promise.all(
      writers.map(async ({ firmId, skewMs, holdMs }) => {
        const client = new Client({ connectionString: suite.url });
        await client.connect();
        try {
          while (Date.now() < until) {
            await client.query('BEGIN');
            for (let n = 0; n < 3; n++) {
              await client.query(
                `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
                 VALUES ($1, 'upload_file', 'uploaded_file', clock_timestamp() - $2 * interval '1 ms')`,
                [firmId, skewMs],
              );
            }
            await sleep(holdMs || 20);
            await client.query('COMMIT');
            written += 3;
          }
        } finally {
          await client.end();
        }
      }),
    );
    // let the background sealers take in what is left
    const sealed = () => published.reduce((n, s) => n + s.rowCount, 0);
    for (let waited = 0; sealed() < written && waited < 30_000; waited += 100) {
      await sleep(100);
    }
    await sleep(300); // and nothing more comes
    expect(sealed()).toBe(written);
    const { rows } = await suite.reader.query<{
      late: number;
      distinct: number;
      seals: number;
      rowCount: number;
    }>(
      `SELECT (SELECT count(*) FROM log_seal s, unnest(s.late_ids))::int AS late,
              (SELECT count(DISTINCT l) FROM log_seal s, unnest(s.late_ids) l)::int AS distinct,
              count(*)::int AS seals, sum(row_count)::int AS "rowCount"
         FROM log_seal WHERE firm_id = ANY ($1)`,
      [firms],
    );
    expect(rows[0]).toMatchObject({
      rowCount: written,
      seals: published.length,
    });
    // late arrivals happened, and no row was taken in twice
    expect(rows[0].late).toBeGreaterThan(0);
    expect(rows[0].distinct).toBe(rows[0].late);
    const total = await suite.reader.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM audit_log WHERE firm_id = ANY ($1)',
      [firms],
    );
    expect(total.rows[0].n).toBe(written);
    const seals = sealers[0].moduleRef.get(AuditSealService);
    for (const firmId of firms) {
      const verdict = await seals.verify({ firmId });
      expect(verdict).toMatchObject({ ok: true, pendingLate: 0 });
    }
    const checked = await Promise.all(
      firms.map((firmId) =>
        seals.verify({ firmId }).then((v) => v.rowsChecked),
      ),
    );
    expect(checked.reduce((a, b) => a + b, 0)).toBe(written);
  });
});
