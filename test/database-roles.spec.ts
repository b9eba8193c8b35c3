import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import {
  AuditSealService,
  CreditLedgerService,
  LogRetentionError,
  LogRetentionService,
} from '../src/logging/index.js';
import {
  clockOffsetMicros,
  followClock,
} from '../src/logging/writer/record-clock.js';
import { plainUuid } from './support/ids.js';
import { loggingApp, loggingModuleRef } from './support/logging-app.js';
import { captureLogs } from './support/logs.js';
import { type AppRole, createAppRole } from './support/roles.js';
import { refusal } from './support/sql.js';
import { eventually } from './support/streams.js';
import { databaseSuite } from './support/suite.js';

/**
 * What the database holds against the application itself: tried from a second role, with the
 * grants hosts usually give an application (every privilege on the tables, EXECUTE on every
 * function), while the schema's owner (the test server's admin) ran the migrations and seeds the
 * fixtures.
 */

const LOGS = ['audit_log', 'llm_usage_log'] as const;
const APPEND_ONLY = [...LOGS, 'credit_transaction', 'log_seal'] as const;

describe('guarantees held against the application role', () => {
  const suite = databaseSuite();
  let role: AppRole;
  let app: Client;

  beforeAll(async () => {
    role = await createAppRole(suite.url, 'crud');
    app = await role.connect();
  });
  afterAll(async () => {
    await role.drop();
  });

  /** A firm with a user and a project, and rows of both logs and the ledger, made by the owner. */
  async function fixture(daysAgo: number) {
    const q = async (sql: string, parameters: unknown[] = []) =>
      (await suite.reader.query<{ id: string }>(sql, parameters)).rows[0].id;
    const firmId = await q(
      `INSERT INTO firms (name) VALUES ($1) RETURNING id`,
      [`roles-${randomUUID()}`],
    );
    const userId = await q(
      `INSERT INTO users (firm_id, email) VALUES ($1, $2) RETURNING id`,
      [firmId, `${randomUUID()}@roles.test`],
    );
    const projectId = await q(
      `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'p') RETURNING id`,
      [firmId],
    );
    const at = new Date(Date.now() - daysAgo * 86_400_000);
    const auditId = await q(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, created_at)
       VALUES ($1, $2, 'create_project', 'cma_project', $3) RETURNING id`,
      [firmId, userId, at],
    );
    const usageId = await q(
      `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
         output_tokens, cost_usd, created_at)
       VALUES ($1, $2, 'gemini-3-flash', 'extraction', 10, 1, 0.000124, $3) RETURNING id`,
      [firmId, projectId, at],
    );
    await q(
      `INSERT INTO credit_transaction (user_id, operation, amount, idempotency_key, created_at)
       VALUES ($1, 'grant', 5, 'roles-fixture', $2) RETURNING id`,
      [userId, at],
    );
    return { firmId, userId, projectId, auditId, usageId };
  }

  /** Every row of the append-only tables, as the owner reads them. */
  async function everything(): Promise<unknown[]> {
    const all: unknown[] = [];
    for (const table of [...APPEND_ONLY, 'logging_retention_floor']) {
      const { rows } = await suite.reader.query(
        `SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY to_jsonb(t)::text`,
      );
      all.push(table, rows);
    }
    return all;
  }

  async function sealAll(): Promise<void> {
    const started = suite.own(
      await loggingApp(suite.url, { seals: { settleMs: 0 } }),
    );
    const ledger = started.moduleRef.get(CreditLedgerService);
    const { rows } = await suite.reader.query<{ id: string }>(
      'SELECT id FROM users LIMIT 1',
    );
    await ledger.grant({
      userId: rows[0].id,
      amount: 10,
      idempotencyKey: plainUuid(),
    });
    await started.moduleRef.get(AuditSealService).seal();
  }

  it('no setting, statement or trigger switch removes or changes a row of the logs, the ledger or the seals', async () => {
    await fixture(800);
    await fixture(0);
    await sealAll();
    const before = await everything();
    const refused = async (sql: string) => {
      await app.query('BEGIN');
      try {
        // the back doors of the past: settings the triggers once trusted
        await app.query(
          `SELECT set_config('logging.purge_cutoff', 'infinity', true),
                  set_config('logging.seal_purge', 'on', true)`,
        );
        return await refusal(app, sql);
      } finally {
        await app.query('ROLLBACK');
      }
    };
    for (const table of APPEND_ONLY) {
      for (const sql of [
        `DELETE FROM ${table}`,
        `UPDATE ${table} SET created_at = created_at - interval '1 day'`,
        `TRUNCATE ${table}`,
      ]) {
        if (table === 'log_seal' && sql.startsWith('UPDATE')) continue;
        const error = await refused(sql);
        expect([sql, error.code]).toEqual([sql, '42501']);
        expect(error.message).toMatch(`${table} is append-only`);
      }
    }
    const sealRefused = await refused(`UPDATE log_seal SET row_count = 0`);
    expect(sealRefused.message).toBe('log_seal is append-only: UPDATE refused');
    for (const sql of [
      'ALTER TABLE audit_log DISABLE TRIGGER ALL',
      'ALTER TABLE audit_log DISABLE TRIGGER trg_audit_log_append_only',
      'DROP TRIGGER trg_audit_log_append_only ON audit_log',
      'DROP FUNCTION audit_log_append_only() CASCADE',
      `CREATE OR REPLACE FUNCTION logging_owner_acts(rel regclass) RETURNS boolean LANGUAGE sql AS 'SELECT true'`,
      'SET session_replication_role = replica',
      `SET ROLE ${(await suite.reader.query<{ u: string }>('SELECT current_user AS u')).rows[0].u}`,
    ]) {
      const error = await refusal(app, sql);
      expect([sql, error.code]).toEqual([sql, '42501']);
    }
    expect(await everything()).toEqual(before);
  });

  it('no function it may call removes rows outside retention: purges inside the floor are refused', async () => {
    const recent = await fixture(2);
    const before = await everything();
    // Every function the role can call, by name: a new one must join this test.
    const { rows } = await app.query<{ name: string }>(
      `SELECT DISTINCT p.proname AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.prorettype <> 'trigger'::regtype
          AND has_function_privilege(current_user, p.oid, 'EXECUTE') ORDER BY 1`,
    );
    expect(rows.map((r) => r.name)).toEqual([
      'logging_audit_page',
      'logging_check_retention_floor',
      'logging_clock_bound',
      'logging_default_partition',
      'logging_holds_seal_lock',
      'logging_id_ranges',
      'logging_id_stray',
      'logging_month_after',
      'logging_month_partition',
      'logging_owner_acts',
      'logging_partition_add',
      'logging_partition_protect',
      'logging_partition_retire',
      'logging_partitions_ensure',
      'logging_purge_batch',
      'logging_purge_cutoff',
      'logging_purge_sealed',
      'logging_require_partitioned',
      'logging_rollup_compact',
      'logging_uuid_floor',
    ]);
    // a month inside the floor does not leave by its partition, and the DDL of the partitions'
    // functions is the owner's alone
    for (const [sql, message] of [
      [
        `SELECT * FROM logging_partition_retire('llm_usage_log', date_trunc('month', now() - interval '60 days', 'UTC'))`,
        /^logging_partition_retire: cutoff .* is inside the retention floor of llm_usage_log \(90 days\)/,
      ],
      [
        `SELECT logging_partition_add('audit_log', 'audit_log', date_trunc('month', now(), 'UTC') + interval '5 years')`,
        /permission denied|must be owner/,
      ],
    ] as const) {
      const error = await refusal(app, sql);
      expect(error.code).toBe('42501');
      expect(error.message).toMatch(message);
    }
    for (const [sql, floor] of [
      [
        `SELECT logging_purge_batch('audit_log', now() + interval '1 day', 100000)`,
        '365 days',
      ],
      [
        `SELECT logging_purge_batch('audit_log', now() - interval '364 days')`,
        '365 days',
      ],
      [
        `SELECT logging_purge_batch('llm_usage_log', now() - interval '89 days')`,
        '90 days',
      ],
    ] as const) {
      const error = await refusal(app, sql);
      expect(error.code).toBe('42501');
      expect(error.message).toMatch(
        new RegExp(
          `^logging_purge_batch: cutoff .* is inside the retention floor of \\w+ \\(${floor}\\)`,
        ),
      );
    }
    await app.query(`SELECT logging_rollup_compact(1000)`);
    await app.query(
      `SELECT logging_check_retention_floor('x', 'audit_log', now() - interval '1000 days')`,
    );
    expect(await everything()).toEqual(before);
    const { rows: kept } = await suite.reader.query(
      'SELECT id FROM audit_log WHERE id = $1',
      [recent.auditId],
    );
    expect(kept).toHaveLength(1);
  });

  it("stands no temporary table of the same name in for the module's tables", async () => {
    const f = await fixture(0);
    const before = await everything();
    const daily = async () =>
      (
        await suite.reader.query<{ n: number }>(
          `SELECT coalesce(sum(events), 0)::int AS n FROM audit_log_daily WHERE firm_id = $1`,
          [f.firmId],
        )
      ).rows[0].n;
    const events = await daily();
    await app.query(`CREATE TEMPORARY TABLE firms (id uuid)`);
    await app.query(`CREATE TEMPORARY TABLE users (id uuid)`);
    await app.query(
      `CREATE TEMPORARY TABLE logging_retention_floor AS SELECT 'audit_log'::text AS log, interval '0' AS min_age`,
    );
    await app.query(
      `CREATE TEMPORARY TABLE audit_log_daily (LIKE public.audit_log_daily INCLUDING ALL)`,
    );
    try {
      for (const sql of [
        `DELETE FROM public.audit_log WHERE firm_id = '${f.firmId}'`,
        `DELETE FROM public.credit_transaction`,
        `SELECT logging_purge_batch('audit_log', now())`,
      ]) {
        const error = await refusal(app, sql);
        expect([sql, error.code]).toEqual([sql, '42501']);
      }
      await app.query(
        `INSERT INTO public.audit_log (firm_id, action, entity_type) VALUES ($1, 'upload_file', 'uploaded_file')`,
        [f.firmId],
      );
      // the rollup went to the module's table, not to the session's
      expect(await daily()).toBe(events + 1);
      const { rows } = await app.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_temp.audit_log_daily`,
      );
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await app.query('DISCARD TEMP');
    }
    const after = await everything();
    expect(after.length).toBe(before.length);
  });

  it('cannot move the retention floor: only the owner can', async () => {
    const before = await everything();
    for (const sql of [
      `UPDATE logging_retention_floor SET min_age = interval '0'`,
      `DELETE FROM logging_retention_floor`,
      `INSERT INTO logging_retention_floor VALUES ('audit_log', interval '0') ON CONFLICT (log) DO UPDATE SET min_age = interval '0'`,
      `TRUNCATE logging_retention_floor`,
    ]) {
      const error = await refusal(app, sql);
      expect([sql, error.code]).toEqual([sql, '42501']);
    }
    expect(await everything()).toEqual(before);
    // the owner moves it, and moves it back
    await suite.reader.query(
      `UPDATE logging_retention_floor SET min_age = interval '400 days' WHERE log = 'audit_log'`,
    );
    const { rows } = await app.query<{ age: string }>(
      `SELECT min_age::text AS age FROM logging_retention_floor WHERE log = 'audit_log'`,
    );
    expect(rows).toEqual([{ age: '400 days' }]);
    await suite.reader.query(
      `UPDATE logging_retention_floor SET min_age = interval '365 days' WHERE log = 'audit_log'`,
    );
  });

  it('dates its rows by the database clock: a created_at more than 5 s away is refused and nothing is written', async () => {
    const { firmId, userId } = await fixture(0);
    const columns = {
      audit_log: [
        '(firm_id, action, entity_type, created_at)',
        (at: string) =>
          `SELECT '${firmId}'::uuid, 'upload_file', 'uploaded_file', ${at}`,
      ],
      llm_usage_log: [
        '(firm_id, model, task_type, input_tokens, output_tokens, cost_usd, created_at)',
        (at: string) =>
          `SELECT '${firmId}'::uuid, 'gemini-3-flash', 'extraction', 1, 1, 0, ${at}`,
      ],
      credit_transaction: [
        '(user_id, operation, amount, idempotency_key, created_at)',
        (at: string) =>
          `SELECT '${userId}'::uuid, 'grant'::credit_operation_type, 1, gen_random_uuid()::text, ${at}`,
      ],
    } as const;
    /** One statement inserting a row dated by each of `ats`. */
    const insert = (table: keyof typeof columns, ...ats: string[]) =>
      `INSERT INTO ${table} ${columns[table][0]} ${ats.map((at) => columns[table][1](`(${at})::timestamptz`)).join(' UNION ALL ')}`;
    const count = async (table: string) =>
      (
        await suite.reader.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table} t WHERE ${table === 'credit_transaction' ? 'user_id' : 'firm_id'} = $1`,
          [table === 'credit_transaction' ? userId : firmId],
        )
      ).rows[0].n;
    for (const table of Object.keys(columns) as (keyof typeof columns)[]) {
      const before = await count(table);
      for (const at of [
        `now() - interval '1 hour'`,
        `now() - interval '6 seconds'`,
        `now() + interval '6 seconds'`,
        `'2020-01-01T00:00:00Z'`,
        'NULL',
      ]) {
        const error = await refusal(app, insert(table, at));
        if (table === 'credit_transaction' && at === 'NULL') {
          expect(error.code).toBe('23502'); // the ledger's created_at is NOT NULL
          continue;
        }
        expect([table, at, error.code]).toEqual([table, at, '23514']);
        expect(error.message).toMatch(
          new RegExp(
            `^${table}: created_at .* is not within 00:00:05 of the database clock`,
          ),
        );
      }
      // one row out of bound in a statement: none of its rows is written
      const error = await refusal(
        app,
        insert(table, 'now()', `now() - interval '1 day'`, 'now()'),
      );
      expect(error.code).toBe('23514');
      expect(await count(table)).toBe(before);
      await app.query(insert(table, `now() - interval '2 seconds'`, 'now()'));
      expect(await count(table)).toBe(before + 2);
    }
  });

  it("keeps the spec's foreign-key actions: a deleted user or project is nulled, a deleted firm's rows go", async () => {
    const f = await fixture(0);
    await app.query('DELETE FROM users WHERE id = $1', [f.userId]);
    await app.query('DELETE FROM cma_projects WHERE id = $1', [f.projectId]);
    const { rows: audit } = await suite.reader.query(
      'SELECT user_id FROM audit_log WHERE id = $1',
      [f.auditId],
    );
    expect(audit).toEqual([{ user_id: null }]);
    const { rows: usage } = await suite.reader.query(
      'SELECT cma_project_id FROM llm_usage_log WHERE id = $1',
      [f.usageId],
    );
    expect(usage).toEqual([{ cma_project_id: null }]);
    await app.query('DELETE FROM firms WHERE id = $1', [f.firmId]);
    const { rows: left } = await suite.reader.query(
      `SELECT (SELECT count(*) FROM audit_log WHERE firm_id = $1)::int
            + (SELECT count(*) FROM llm_usage_log WHERE firm_id = $1)::int AS n`,
      [f.firmId],
    );
    expect(left).toEqual([{ n: 0 }]);
  });
});

describe('the module on a role with only INSERT, SELECT and EXECUTE', () => {
  const suite = databaseSuite();
  let role: AppRole;

  beforeAll(async () => {
    role = await createAppRole(suite.url, 'least');
  });
  afterAll(async () => {
    await role.drop();
  });

  async function firmWithOldRows(daysAgo: number, rows = 5): Promise<string> {
    const {
      rows: [{ id }],
    } = await suite.reader.query<{ id: string }>(
      `INSERT INTO firms (name) VALUES ($1) RETURNING id`,
      [`least-${randomUUID()}`],
    );
    for (const table of ['audit_log', 'llm_usage_log']) {
      await suite.reader.query(
        table === 'audit_log'
          ? `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
             SELECT $1, 'upload_file', 'uploaded_file', now() - $2 * interval '1 day' + i * interval '1 minute'
               FROM generate_series(1, $3) AS i`
          : `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens, cost_usd, created_at)
             SELECT $1, 'gemini-3-flash', 'extraction', 1, 1, 0, now() - $2 * interval '1 day' + i * interval '1 minute'
               FROM generate_series(1, $3) AS i`,
        [id, daysAgo, rows],
      );
    }
    return id;
  }

  /**
   * Waits until the database clock has passed the latest row of `firmId` in either log. The writer
   * dates rows by its record clock, which follows the database's to within half a round trip: a
   * row may be dated a few ms past the `now()` of a seal made at once after it, which leaves it to
   * the next run (settleMs is 0 here).
   */
  async function untilDatabaseClockPasses(firmId: string): Promise<void> {
    const past = await eventually(
      async () =>
        (
          await suite.reader.query<{ past: boolean }>(
            `SELECT clock_timestamp() > greatest(
               (SELECT max(created_at) FROM audit_log WHERE firm_id = $1),
               (SELECT max(created_at) FROM llm_usage_log WHERE firm_id = $1)) AS past`,
            [firmId],
          )
        ).rows[0].past,
      (value) => value,
    );
    expect(past).toBe(true);
  }

  const countOf = async (table: string, firmId: string) =>
    (
      await suite.reader.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table} WHERE firm_id = $1`,
        [firmId],
      )
    ).rows[0].n;

  it('records, purges past the floor with no DELETE grant, seals and verifies; a purge inside the floor is refused', async () => {
    const old = await firmWithOldRows(500);
    const started = suite.own(
      await loggingApp(role.url, {
        seals: { settleMs: 0 },
      }),
    );
    const retention = started.moduleRef.get(LogRetentionService);
    const seals = started.moduleRef.get(AuditSealService);

    await expect(
      retention.purge('audit_log', new Date(Date.now() - 30 * 86_400_000)),
    ).rejects.toThrow(
      /^purge: .* is inside the retention floor of audit_log \(365 days\): only rows created before .* may be purged/,
    );
    expect(await retention.floors()).toEqual({
      audit_log: '365 days',
      llm_usage_log: '90 days',
    });
    expect(await countOf('audit_log', old)).toBe(5);
    const cutoff = new Date(Date.now() - 400 * 86_400_000);
    expect(await retention.purge('audit_log', cutoff)).toBe(5);
    expect(await retention.purge('llm_usage_log', cutoff)).toBe(5);
    expect(await countOf('audit_log', old)).toBe(0);
    expect(await countOf('llm_usage_log', old)).toBe(0);

    const firmId = await firmWithOldRows(0, 0);
    await started.audit.record(
      { firmId, action: 'create_project', entityType: 'cma_project' },
      { durability: 'await' },
    );
    await started.usage.record(
      {
        firmId,
        model: 'gemini-3-flash',
        taskType: 'extraction',
        inputTokens: 10,
        outputTokens: 2,
        costUsd: '0.000010',
      },
      { durability: 'await' },
    );
    expect(await countOf('audit_log', firmId)).toBe(1);
    expect(await countOf('llm_usage_log', firmId)).toBe(1);
    await untilDatabaseClockPasses(firmId);
    const made = await seals.seal({ firmId });
    expect(made.map((s) => s.log).sort()).toEqual([
      'audit_log',
      'llm_usage_log',
    ]);
    expect(await seals.verify({ firmId })).toMatchObject({ ok: true });
  });

  it('dates rows by the database clock, however long their batch waited and however far off the process clock is', async () => {
    const firmId = await firmWithOldRows(0, 0);
    // this process's clock 10 s behind the database's: the writer measures and follows it at startup
    followClock(-10_000_000);
    const started = suite.own(
      await loggingApp(role.url, { writer: { bufferedDelayMs: 5_500 } }),
    );
    expect(Math.abs(clockOffsetMicros())).toBeLessThan(100_000);
    const recordedAt = Date.now();
    const id = await started.audit.record(
      { firmId, action: 'upload_file', entityType: 'uploaded_file' },
      { durability: 'buffered' },
    );
    // the batch forms 5.5 s later, past the database's 5 s bound: it is dated when it is sent
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(started.writer.stats().bufferDepth).toEqual({ audit_log: 0 });
    const { rows } = await suite.reader.query<{ lag: number; age: number }>(
      `SELECT (extract(epoch FROM created_at) * 1000 - $2)::float8 AS lag,
              (extract(epoch FROM now() - created_at) * 1000)::float8 AS age
         FROM audit_log WHERE id = $1`,
      [id, recordedAt],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].lag).toBeGreaterThan(5_000);
    expect(Math.abs(rows[0].age)).toBeLessThan(2_000);
    expect(started.writer.stats()).toMatchObject({ rowsFailed: 0 });
  });

  it("keeps the host's transactions: a row written in a { manager } transaction that commits late is accepted", async () => {
    const firmId = await firmWithOldRows(0, 0);
    const started = suite.own(await loggingApp(role.url));
    const id = await started.dataSource.transaction(async (manager) => {
      const written = await started.audit.record(
        { firmId, action: 'upload_file', entityType: 'uploaded_file' },
        { manager },
      );
      // the transaction stays open past the database's 5 s bound before it commits
      await new Promise((resolve) => setTimeout(resolve, 5_500));
      return written;
    });
    const { rows } = await suite.reader.query<{ age: number }>(
      `SELECT (extract(epoch FROM now() - created_at) * 1000)::float8 AS age FROM audit_log WHERE id = $1`,
      [id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].age).toBeGreaterThan(5_000); // dated when it was written, not when committed
  });

  it('warns once at startup when the app connects as the owner, and refuses to start when asked to', async () => {
    const boot = async (ownerConnection: 'warn' | 'refuse') => {
      const moduleRef = suite.own(
        await loggingModuleRef(suite.url, { database: { ownerConnection } }),
      );
      const logs = captureLogs(moduleRef);
      await moduleRef.init();
      return logs.warn.filter((w) => w.includes('connected as'));
    };
    const [first] = await boot('warn');
    expect(first).toMatch(
      /^connected as \w+, a superuser: the database's guarantees do not hold against this role\. It can disable the append-only triggers/,
    );
    expect(await boot('warn')).toEqual([]); // once
    await expect(boot('refuse')).rejects.toThrow(
      /^LoggingModule: connected as \w+, a superuser: .*database\.ownerConnection is 'refuse'$/,
    );
    // the application's own role is not warned about
    const moduleRef = suite.own(
      await loggingModuleRef(role.url, {
        database: { ownerConnection: 'refuse' },
      }),
    );
    await moduleRef.init();
  });

  it('a purge racing background seals never makes verify fail', async () => {
    for (let round = 0; round < 3; round++) {
      // Each round starts on a log nothing has sealed: the owner, who may, removes the earlier
      // firms (their rows and seals go with them) and the runs, which cover every firm's time.
      await suite.reader.query(`DELETE FROM firms WHERE name LIKE 'least-%'`);
      await suite.reader.query(`DELETE FROM log_seal_run`);
      const firms = [
        await firmWithOldRows(500, 40),
        await firmWithOldRows(450, 40),
      ];
      const started = suite.own(
        await loggingApp(role.url, { seals: { settleMs: 0 } }),
      );
      const retention = started.moduleRef.get(LogRetentionService);
      const seals = started.moduleRef.get(AuditSealService);
      const cutoff = new Date(Date.now() - 400 * 86_400_000);
      const outcomes = await Promise.allSettled([
        retention.purge('audit_log', cutoff, { batchSize: 7 }),
        seals.seal({ log: 'audit_log' }),
        retention.purge('audit_log', cutoff, { batchSize: 3 }),
        seals.seal({ log: 'audit_log' }),
      ]);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') {
          expect(outcome.reason).toBeInstanceOf(LogRetentionError);
          expect(String(outcome.reason)).toMatch(/sealed rows/);
        }
      }
      await seals.seal({ log: 'audit_log' });
      for (const verdict of await seals.verifyAll({ log: 'audit_log' })) {
        expect(verdict).toMatchObject({ ok: true });
      }
      for (const firmId of firms) {
        const { rows } = await suite.reader.query<{
          sealed: number;
          stored: number;
        }>(
          `SELECT (SELECT coalesce(sum(row_count), 0) FROM log_seal WHERE log = 'audit_log' AND firm_id = $1)::int AS sealed,
                  (SELECT count(*) FROM audit_log WHERE firm_id = $1)::int AS stored`,
          [firmId],
        );
        expect(rows[0].sealed).toBe(rows[0].stored);
      }
      await started.close();
    }
  });

  it('purge and seal exclude each other inside the database: the purge waits for a sealer, and no seal is made without the lock', async () => {
    const holder = await role.connect();
    const purger = await role.connect();
    await holder.query(`SELECT pg_advisory_lock(hashtext('logging.log_seal'))`);
    try {
      await purger.query(`SET lock_timeout = '300ms'`);
      const error = await refusal(
        purger,
        `SELECT logging_purge_batch('audit_log', now() - interval '400 days')`,
      );
      expect(error.code).toBe('55P03'); // lock_not_available: it waited for the sealer
    } finally {
      await holder.query(
        `SELECT pg_advisory_unlock(hashtext('logging.log_seal'))`,
      );
    }
    const firmId = await firmWithOldRows(0, 0);
    const error = await refusal(
      purger,
      `INSERT INTO log_seal (log, firm_id, seq, to_created_at, to_id, range_count, row_count, prev_digest, digest)
       VALUES ('audit_log', $1, 1, now(), gen_random_uuid(), 0, 0, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'))`,
      [firmId],
    );
    expect(error.code).toBe('42501');
    expect(error.message).toBe(
      "log_seal: INSERT refused: the session does not hold the sealers' lock",
    );
  });
});
