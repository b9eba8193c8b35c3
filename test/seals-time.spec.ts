import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import {
  AuditSealService,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import type { SealRun } from '../src/logging/seals/seal.types.js';
import { loggingApp } from './support/logging-app.js';
import { auditVerify } from './support/processes.js';
import { refusal } from './support/sql.js';
import { databaseSuite } from './support/suite.js';

type SealOptions = NonNullable<LoggingModuleOptions['seals']>;

/**
 * Seals cover time: a run covers every firm up to its cutoff, idle firms included, so a row dated
 * in sealed time that was not there when it was sealed is `row-inserted`; a late arrival is a row
 * whose transaction the database shows in flight at the run; an edit is `row-edited`, never taken
 * in by a later seal. Every back-dated row is inserted by the owner with the triggers off.
 */
describe('seals that cover time', () => {
  const suite = databaseSuite();

  // each test starts from logs no run has covered yet (the owner may delete runs)
  beforeEach(async () => {
    await suite.reader.query('DELETE FROM log_seal_run');
  });

  async function app(seals: SealOptions = {}) {
    const runs: SealRun[] = [];
    const started = suite.own(
      await loggingApp(suite.url, {
        seals: {
          settleMs: 0,
          logs: ['audit_log'],
          onRun: (r) => void runs.push(r),
          ...seals,
        },
      }),
    );
    return { seals: started.moduleRef.get(AuditSealService), runs };
  }

  async function firm(): Promise<string> {
    const { rows } = await suite.reader.query<{ id: string }>(
      `INSERT INTO firms (name) VALUES ($1) RETURNING id`,
      [`time-${randomUUID()}`],
    );
    return rows[0].id;
  }

  /** One audit row of `firmId` dated `minutesAgo` before now, as the owner with triggers off. */
  async function backDated(firmId: string, minutesAgo: number) {
    await suite.reader.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
    try {
      const { rows } = await suite.reader.query<{ id: string }>(
        `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
         VALUES ($1, 'download_cma', 'generated_file', now() - $2 * interval '1 minute')
         RETURNING id`,
        [firmId, minutesAgo],
      );
      return rows[0].id;
    } finally {
      await suite.reader.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    }
  }

  /** Rows of `firmId` dated `minutesAgo` (each a millisecond apart), inserted honestly. */
  async function rows(firmId: string, count: number, minutesAgo: number) {
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       SELECT $1, 'upload_file', 'uploaded_file', now() - $3 * interval '1 minute' + i * interval '1 ms'
         FROM generate_series(1, $2) AS i`,
      [firmId, count, minutesAgo],
    );
  }

  /** Rows of `firmId` dated now by the database clock: after every run so far. */
  async function fresh(firmId: string, count: number) {
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       SELECT $1, 'upload_file', 'uploaded_file', clock_timestamp() FROM generate_series(1, $2)`,
      [firmId, count],
    );
  }

  // first: its run anchors recompute every firm's heads, which the runs deleted before each
  // later test would leave in disorder
  it('one run row per run whatever the idle firms, published by onRun; run anchors catch a run removed or changed', async () => {
    const { seals, runs } = await app();
    const firms: string[] = [];
    for (let i = 0; i < 30; i++) firms.push(await firm());
    await rows(firms[0], 3, 10);
    await rows(firms[1], 3, 10);
    const made = await seals.seal();
    expect(made.map((s) => s.firmId).sort()).toEqual(
      [firms[0], firms[1]].sort(),
    );
    expect(runs).toHaveLength(1);
    const {
      rows: [{ n }],
    } = await suite.reader.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM log_seal_run`,
    );
    expect(n).toBe(1);
    await seals.seal();
    expect(runs).toHaveLength(2);
    expect(runs[1]).toMatchObject({ seq: 2, prevDigest: runs[0].digest });
    expect(await seals.listRuns({ log: 'audit_log' })).toEqual(runs);
    const runAnchors = runs.map((r) => ({ seq: r.seq, digest: r.digest }));
    expect(await seals.verify({ firmId: firms[0], runAnchors })).toMatchObject({
      ok: true,
    });
    // the owner moves the latest run's cutoff back: its digest no longer matches its fields
    await suite.reader.query('ALTER TABLE log_seal_run DISABLE TRIGGER USER');
    await suite.reader.query(
      `UPDATE log_seal_run SET upto = upto - interval '1 hour' WHERE seq = 2`,
    );
    await suite.reader.query('ALTER TABLE log_seal_run ENABLE TRIGGER USER');
    expect(await seals.verify({ firmId: firms[5] })).toMatchObject({
      ok: false,
      problem: { seq: 0, run: 2, kind: 'seal-edited' },
    });
    // and removes it: only the published digest shows it
    await suite.reader.query(`DELETE FROM log_seal_run WHERE seq = 2`);
    expect(await seals.verify({ firmId: firms[5] })).toMatchObject({
      ok: true,
    });
    expect(await seals.verify({ firmId: firms[5], runAnchors })).toMatchObject({
      ok: false,
      problem: { seq: 0, run: 2, kind: 'seal-removed' },
    });
  });

  it("(a) a row back-dated into a firm's quiet time before the seal is row-inserted, and no later seal takes it in", async () => {
    const { seals } = await app();
    const firmId = await firm();
    // the last row at 10:05, the seal at 11:45, the back-dated row at 10:15; and one dated 11:35,
    // inside the late window
    await rows(firmId, 5, 100);
    const [seal] = await seals.seal({ log: 'audit_log' });
    expect(seal).toMatchObject({ firmId, seq: 1, rowCount: 5 });
    await backDated(firmId, 90);
    const expected = {
      ok: false,
      problem: { seq: 1, kind: 'row-inserted', rows: 1 },
    };
    expect(await seals.verify({ firmId })).toMatchObject(expected);
    expect(await seals.seal({ log: 'audit_log' })).toEqual([]);
    expect(await seals.verify({ firmId })).toMatchObject(expected);
    await backDated(firmId, 10);
    expect(await seals.seal({ log: 'audit_log' })).toEqual([]);
    expect(await seals.verify({ firmId })).toMatchObject({
      ok: false,
      pendingLate: 0,
      problem: { seq: 1, kind: 'row-inserted', rows: 2 },
    });
  });

  it('(b) a row back-dated into a firm with no rows since its last seal is row-inserted, after that seal, naming the run', async () => {
    const { seals, runs } = await app();
    const firmId = await firm();
    const busy = await firm();
    await rows(firmId, 3, 120);
    // the first run an hour behind the clock, so the firm's idle time is older than the bound
    // within which an honest row inserted after a run may still be dated
    await (await app({ settleMs: 3_600_000 })).seals.seal();
    // two runs later, the firm idle in both; another firm active
    for (let i = 0; i < 2; i++) {
      await fresh(busy, 2);
      const made = (await seals.seal()).map((s) => s.firmId);
      expect(made).toContain(busy);
      expect(made).not.toContain(firmId);
    }
    expect(await seals.verify({ firmId })).toMatchObject({ ok: true });
    // dated after the firm's last seal ended (the first run's cutoff), 30 minutes ago
    const { rows: cut } = await suite.reader.query<{ at: Date }>(
      `SELECT upto + interval '30 minutes' AS at FROM log_seal_run WHERE seq = 1`,
    );
    await suite.reader.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       VALUES ($1, 'download_cma', 'generated_file', $2)`,
      [firmId, cut[0].at],
    );
    await suite.reader.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    const last = runs.at(-1)!;
    const expected = {
      ok: false,
      problem: { seq: 2, run: last.seq, kind: 'row-inserted', rows: 1 },
    };
    expect(await seals.verify({ firmId })).toMatchObject(expected);
    expect(
      (await seals.verifyAll()).find((v) => v.firmId === firmId),
    ).toMatchObject(expected);
    // the next run does not take it in
    await fresh(busy, 1);
    const made = (await seals.seal()).map((s) => s.firmId);
    expect(made).toContain(busy);
    expect(made).not.toContain(firmId);
    expect(await seals.verify({ firmId })).toMatchObject({
      ok: false,
      problem: { seq: 2, kind: 'row-inserted', rows: 1 },
    });
  });

  it('(c) a row back-dated into a firm that had no rows when the run was made is row-inserted, and verifyAll names the firm', async () => {
    const { seals } = await app();
    const other = await firm();
    await rows(other, 2, 30);
    const empty = await firm();
    await seals.seal();
    expect(await seals.verify({ firmId: empty })).toMatchObject({
      ok: true,
      last: null,
    });
    await backDated(empty, 5);
    const expected = {
      firmId: empty,
      ok: false,
      last: null,
      problem: { seq: 1, kind: 'row-inserted', rows: 1 },
    };
    expect(await seals.verify({ firmId: empty })).toMatchObject(expected);
    const all = await seals.verifyAll();
    expect(all.find((v) => v.firmId === empty)).toMatchObject(expected);
    expect(all.find((v) => v.firmId === other)).toMatchObject({ ok: true });
    expect(await seals.seal()).toEqual([]);
    expect(await seals.verify({ firmId: empty })).toMatchObject(expected);
  });

  it("an owner's UPDATE of a sealed row is row-edited and no later seal adopts it, near the run's cutoff too", async () => {
    const { seals } = await app();
    const firmId = await firm();
    await rows(firmId, 4, 20);
    // dated within logging_clock_bound() of the run: an honest row inserted after it could be
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       VALUES ($1, 'upload_file', 'uploaded_file', clock_timestamp())`,
      [firmId],
    );
    await seals.seal();
    for (const which of ['min', 'max']) {
      await suite.reader.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
      await suite.reader.query(
        `UPDATE audit_log SET action = 'tampered'
          WHERE id = (SELECT id FROM audit_log WHERE firm_id = $1
                       ORDER BY created_at ${which === 'min' ? 'ASC' : 'DESC'} LIMIT 1)`,
        [firmId],
      );
      await suite.reader.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
      const expected = { ok: false, problem: { seq: 1, kind: 'row-edited' } };
      expect(await seals.verify({ firmId })).toMatchObject(expected);
      expect(await seals.seal()).toEqual([]);
      expect(await seals.verify({ firmId })).toMatchObject({
        ...expected,
        pendingLate: 0,
      });
    }
    const { rows: listed } = await suite.reader.query(
      `SELECT count(*)::int AS n FROM log_seal s, unnest(s.late_ids) WHERE firm_id = $1`,
      [firmId],
    );
    expect(listed[0].n).toBe(0);
  });

  it('a row whose transaction was in flight at the run is a late arrival, by the window the run recorded, in the CLI too', async () => {
    // a late window of 3 hours: a row dated 2 hours back in flight at the run is late
    const { seals, runs } = await app({ lateWindowMs: 3 * 3_600_000 });
    const firmId = await firm();
    await rows(firmId, 2, 200);
    const writer = new Client({ connectionString: suite.url });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      const { rows: inserted } = await writer.query<{ id: string }>(
        `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
         VALUES ($1, 'upload_file', 'uploaded_file', now() - interval '2 hours') RETURNING id`,
        [firmId],
      );
      await seals.seal();
      await writer.query('COMMIT');
      expect(runs.at(-1)).toMatchObject({ lateWindowMs: 3 * 3_600_000 });
      // a verifier with the default window (1 hour) uses the run's
      const plain = await app();
      expect(await plain.seals.verify({ firmId })).toMatchObject({
        ok: true,
        pendingLate: 1,
        unsealed: 1,
      });
      const cli = await auditVerify(
        suite.url,
        '--firm',
        firmId,
        '--log',
        'audit_log',
      );
      // the sealed rows verify; the late arrival waits for the next seal, not verified yet
      expect(cli.output).toContain(`VERIFIED  audit_log of firm ${firmId}`);
      expect(cli.output).toContain(
        `UNSEALED  audit_log of firm ${firmId}: 1 row(s) not sealed yet (1 late arrival(s) among them)`,
      );
      expect(cli.code).toBe(3);
      const [late] = await seals.seal();
      expect(late).toMatchObject({
        firmId,
        seq: 2,
        lateIds: [inserted[0].id],
        rangeCount: 0,
      });
      expect(await seals.verify({ firmId })).toMatchObject({
        ok: true,
        pendingLate: 0,
        rowsChecked: 3,
      });
    } finally {
      await writer.end();
    }
  });

  it('log_seal_run holds against the application role: no run without the lock, no update, no delete', async () => {
    const role = `seal_app_${randomUUID().slice(0, 8)}`;
    await suite.reader.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
    try {
      await suite.reader.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role};
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${role};`,
      );
      const { seals } = await app();
      const firmId = await firm();
      await rows(firmId, 2, 5);
      await seals.seal();
      const url = new URL(suite.url);
      url.username = role;
      url.password = 'app';
      const client = new Client({ connectionString: url.toString() });
      await client.connect();
      try {
        const insert = await refusal(
          client,
          `INSERT INTO log_seal_run (log, seq, upto, snapshot, late_window_ms, settle_ms,
                                     heads_count, heads_digest, prev_digest, digest)
           SELECT 'audit_log', max(seq) + 1, now(), '1:1:', 0, 0, 0, sha256(''), max(digest), sha256('')
             FROM log_seal_run WHERE log = 'audit_log'`,
        );
        expect(insert).toMatchObject({ code: '42501' });
        expect(insert.message).toContain(
          "pg_advisory_lock(hashtext('logging.log_seal'))",
        );
        for (const sql of [
          `UPDATE log_seal_run SET upto = upto - interval '1 day'`,
          `DELETE FROM log_seal_run`,
          `TRUNCATE log_seal_run`,
        ]) {
          expect(await refusal(client, sql)).toMatchObject({ code: '42501' });
        }
      } finally {
        await client.end();
      }
      const { rows: left } = await suite.reader.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM log_seal_run WHERE upto > now() - interval '1 hour'`,
      );
      expect(left[0].n).toBe(1);
    } finally {
      await suite.reader.query(
        `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role};
         REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM ${role};
         DROP ROLE ${role}`,
      );
    }
  });

  it('a seal never spans two months: retention purges a closed month whole and the chain still verifies', async () => {
    const { seals } = await app();
    const firmId = await firm();
    const at = async (instant: string) =>
      (
        await suite.reader.query<{ id: string }>(
          `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
           VALUES ($1, 'upload_file', 'uploaded_file', $2::timestamptz) RETURNING id`,
          [firmId, instant],
        )
      ).rows[0].id;
    await at('2025-09-15T10:00:00Z');
    await at('2025-10-03T10:00:00Z');
    await at('2025-10-31T23:59:59.999999Z');
    const november = await at('2025-11-01T00:00:00Z');
    await fresh(firmId, 1);
    const made = await seals.seal({ firmId });
    const { rows: bounds } = await suite.reader.query<{ to: string }>(
      `SELECT to_char(to_created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS to
         FROM log_seal WHERE firm_id = $1 ORDER BY seq`,
      [firmId],
    );
    expect(made.map((seal) => seal.rowCount)).toEqual([1, 2, 1, 1]);
    expect(bounds.slice(0, 3).map((b) => b.to)).toEqual([
      '2025-09-30T23:59:59.999999',
      '2025-10-31T23:59:59.999999',
      '2025-11-30T23:59:59.999999',
    ]);
    // the owner lowers the floor for this test; the months before November go whole
    await suite.reader.query(
      `UPDATE logging_retention_floor SET min_age = interval '1 day' WHERE log = 'audit_log'`,
    );
    expect(
      await seals.purge('audit_log', new Date('2025-11-01T00:00:00Z')),
    ).toEqual({ rows: 3, seals: 2 });
    const { rows: left } = await suite.reader.query<{ id: string }>(
      `SELECT id FROM audit_log WHERE firm_id = $1 AND created_at < now() - interval '1 day'`,
      [firmId],
    );
    expect(left).toEqual([{ id: november }]);
    expect(await seals.verify({ firmId })).toMatchObject({ ok: true });
  });
});
