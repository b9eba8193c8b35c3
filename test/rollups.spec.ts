import { DataSource, type EntityManager } from 'typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import {
  LlmUsageReportService,
  type LlmUsageEntry,
  UsageRollupService,
} from '../src/logging/index.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';

/**
 * The daily rollups against the raw rows they sum, every comparison a GROUP BY written here, apart
 * from the module's own SQL: random writes through every path, concurrent host transactions, the
 * foreign-key actions, retention, planted drift.
 */

const MODELS = ['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3.1-pro'];
const TASKS = [
  'extraction',
  'classification',
  'validation',
  'fallback',
] as const;
const ACTIONS = ['create_project', 'upload_file', 'run_extraction'];
const ROLLUP_ORDER = [
  'llm_usage_daily',
  'llm_usage_daily_project',
  'audit_log_daily',
];

/** A small seeded generator: the same writes on every run. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The rollup and the raw rows, each summed per key by SQL written here, as text. */
const EXPECTED = {
  llm_usage_daily: `SELECT firm_id, (created_at AT TIME ZONE 'UTC')::date::text AS day, model, task_type,
      count(*)::text AS calls, count(*) FILTER (WHERE success = false)::text AS failures,
      sum(input_tokens)::text AS input, sum(output_tokens)::text AS output, sum(cost_usd)::text AS cost
    FROM llm_usage_log WHERE created_at IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
  llm_usage_daily_project: `SELECT firm_id, cma_project_id, (created_at AT TIME ZONE 'UTC')::date::text AS day,
      model, task_type, count(*)::text AS calls, count(*) FILTER (WHERE success = false)::text AS failures,
      sum(input_tokens)::text AS input, sum(output_tokens)::text AS output, sum(cost_usd)::text AS cost
    FROM llm_usage_log WHERE created_at IS NOT NULL AND cma_project_id IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
  audit_log_daily: `SELECT firm_id, (created_at AT TIME ZONE 'UTC')::date::text AS day, action, count(*)::text AS events
    FROM audit_log WHERE created_at IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
};
const ACTUAL = {
  llm_usage_daily: `SELECT firm_id, day::text AS day, model, task_type, sum(calls)::text AS calls,
      sum(failures)::text AS failures, sum(input_tokens)::text AS input, sum(output_tokens)::text AS output,
      sum(cost_usd)::text AS cost
    FROM llm_usage_daily GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
  llm_usage_daily_project: `SELECT firm_id, cma_project_id, day::text AS day, model, task_type,
      sum(calls)::text AS calls, sum(failures)::text AS failures, sum(input_tokens)::text AS input,
      sum(output_tokens)::text AS output, sum(cost_usd)::text AS cost
    FROM llm_usage_daily_project GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
  audit_log_daily: `SELECT firm_id, day::text AS day, action, sum(events)::text AS events
    FROM audit_log_daily GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
};

describe('daily rollups', () => {
  const suite = databaseSuite();

  async function start() {
    const app = suite.own(
      await loggingApp(suite.url, { rollups: { compactIntervalMs: 0 } }),
    );
    return {
      ...app,
      rollups: app.moduleRef.get(UsageRollupService),
      reports: app.moduleRef.get(LlmUsageReportService),
    };
  }

  /** Every rollup equals the GROUP BY over its raw rows. */
  async function expectConsistent() {
    for (const table of Object.keys(EXPECTED) as (keyof typeof EXPECTED)[]) {
      const expected = (await suite.reader.query(EXPECTED[table])).rows;
      const actual = (await suite.reader.query(ACTUAL[table])).rows;
      expect({ table, rows: actual }).toEqual({ table, rows: expected });
    }
  }

  const count = async (sql: string, parameters: unknown[] = []) =>
    Number(
      (await suite.reader.query<{ n: string }>(sql, parameters)).rows[0].n,
    );

  it('equals a GROUP BY over the raw rows after 10,000 random writes through every path, concurrently', async () => {
    const app = await start();
    const next = random(16);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
    const firms: { firmId: string; projects: string[] }[] = [];
    for (let i = 0; i < 3; i++) {
      const firm = await seedFirm(app.dataSource, `random-${i}`);
      const [second] = await app.dataSource.query<{ id: string }[]>(
        `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'second') RETURNING id`,
        [firm.firmId],
      );
      firms.push({ ...firm, projects: [firm.projectId, second.id] });
    }
    const entry = (): LlmUsageEntry => {
      const firm = pick(firms);
      return {
        firmId: firm.firmId,
        cmaProjectId: next() < 0.3 ? null : pick(firm.projects),
        model: pick(MODELS),
        taskType: pick(TASKS),
        inputTokens: Math.floor(next() * 100_000),
        outputTokens: Math.floor(next() * 10_000),
        costUsd: (Math.floor(next() * 9_999_999_999) / 1e6).toFixed(6),
        success: next() > 0.1,
      };
    };
    /** Hand-written SQL: 100 rows a statement over 40 days, some with a null outcome or time. */
    const handWritten = async (statements: number) => {
      for (let s = 0; s < statements; s++) {
        const rows = Array.from({ length: 100 }, () => {
          const e = entry();
          const at =
            next() < 0.01
              ? null
              : new Date(
                  Date.UTC(2026, 0, 1) + Math.floor(next() * 40 * 86_400_000),
                ).toISOString();
          return [
            e.firmId,
            e.cmaProjectId,
            e.model,
            e.taskType,
            e.inputTokens,
            e.outputTokens,
            e.costUsd,
            next() < 0.02 ? null : e.success,
            at,
          ];
        });
        await app.dataSource.query(
          `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
             output_tokens, cost_usd, success, created_at)
           VALUES ${rows.map((_, r) => `(${Array.from({ length: 9 }, (_, c) => `$${r * 9 + c + 1}`).join(', ')})`).join(', ')}`,
          rows.flat(),
        );
        await app.dataSource.query(
          `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
           SELECT $1, $2, 'cma_project', $3::timestamptz + g * interval '1 hour'
             FROM generate_series(1, 10) AS g`,
          [pick(firms).firmId, pick(ACTIONS), '2026-01-05T00:00:00Z'],
        );
      }
    };
    const awaited = async (n: number) => {
      for (let i = 0; i < n; i++) await app.usage.record(entry());
    };
    const buffered = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await app.usage.record(entry(), { durability: 'buffered' });
      }
    };
    const inTransactions = async (transactions: number) => {
      for (let t = 0; t < transactions; t++) {
        await app.dataSource.transaction(async (manager) => {
          for (let i = 0; i < 10; i++) {
            await app.usage.record(entry(), { manager });
          }
          const firm = pick(firms);
          await app.audit.record(
            {
              firmId: firm.firmId,
              action: pick(ACTIONS),
              entityType: 'cma_project',
            },
            { manager },
          );
        });
      }
    };
    const rolledBack = async () => {
      const before = await count('SELECT count(*) AS n FROM llm_usage_daily');
      await expect(
        app.dataSource.transaction(async (manager) => {
          for (let i = 0; i < 20; i++) {
            await app.usage.record(entry(), { manager });
          }
          throw new Error('the host changes its mind');
        }),
      ).rejects.toThrow('the host changes its mind');
      return before;
    };

    // 4 writers of each kind at once: 2,000 awaited, 2,000 buffered, 1,600 in host
    // transactions, 4,000 by hand-written SQL, then 400 more = 10,000 rows; 20 more rolled back; compaction.
    await Promise.all([
      ...Array.from({ length: 4 }, () => awaited(500)),
      ...Array.from({ length: 4 }, () => buffered(500)),
      ...Array.from({ length: 4 }, () => inTransactions(40)),
      ...Array.from({ length: 4 }, () => handWritten(10)),
      rolledBack(),
      // Compaction folding deltas while they are written.
      (async () => {
        for (let i = 0; i < 10; i++) {
          await app.rollups.compact({ maxKeys: 25 });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })(),
    ]);
    await app.writer.flush();
    expect(await count('SELECT count(*) AS n FROM llm_usage_log')).toBe(9_600);
    await expectConsistent();
    await handWritten(4);
    expect(await count('SELECT count(*) AS n FROM llm_usage_log')).toBe(10_000);
    await expectConsistent();

    // Deltas: more rows than keys until compaction folds them, the sums unchanged.
    const keys = `SELECT count(*) AS n FROM (SELECT DISTINCT firm_id, day, model, task_type FROM llm_usage_daily) k`;
    expect(
      await count('SELECT count(*) AS n FROM llm_usage_daily'),
    ).toBeGreaterThan(await count(keys));
    expect(await app.rollups.compact({ maxKeys: 50 })).toBeGreaterThan(0);
    expect(await count('SELECT count(*) AS n FROM llm_usage_daily')).toBe(
      await count(keys),
    );
    expect(
      await count(
        'SELECT count(*) AS n FROM llm_usage_daily WHERE NOT compacted',
      ),
    ).toBe(0);
    await expectConsistent();
    const { differences } = await app.rollups.reconcile({
      from: '2025-12-01',
      to: '2026-12-01',
    });
    expect(differences).toEqual([]);
  });

  it('50 concurrent host transactions on one firm, day and model finish without deadlock, exact', async () => {
    const app = await start();
    const { firmId, projectId } = await seedFirm(app.dataSource, 'fifty');
    // A pool that holds all 50 open at once.
    const host = await new DataSource(
      Object.assign(demoDataSourceOptions(suite.url), { poolSize: 55 }),
    ).initialize();
    try {
      let inserted = 0;
      let release!: () => void;
      const allInserted = new Promise<void>((resolve) => (release = resolve));
      const row = (taskType: (typeof TASKS)[number]): LlmUsageEntry => ({
        firmId,
        cmaProjectId: projectId,
        model: 'gemini-3-flash',
        taskType,
        inputTokens: 1000,
        outputTokens: 100,
        costUsd: '0.000123',
      });
      const write = (i: number) =>
        host.transaction(async (manager: EntityManager) => {
          // Half write key A then B, half B then A: rows locked in place would deadlock here.
          const [first, second] =
            i % 2
              ? (['extraction', 'validation'] as const)
              : (['validation', 'extraction'] as const);
          await app.usage.record(row(first), { manager });
          // Every transaction holds its first write open until all 50 have made theirs.
          if (++inserted === 50) release();
          await allInserted;
          await app.usage.record(row(second), { manager });
        });
      await Promise.all(Array.from({ length: 50 }, (_, i) => write(i)));
    } finally {
      await host.destroy();
    }
    const totals = await suite.reader.query(
      `SELECT task_type, sum(calls)::int AS calls, sum(cost_usd)::text AS cost
         FROM llm_usage_daily WHERE firm_id = $1 GROUP BY task_type ORDER BY task_type`,
      [firmId],
    );
    expect(totals.rows).toEqual([
      { task_type: 'extraction', calls: 50, cost: '0.006150' },
      { task_type: 'validation', calls: 50, cost: '0.006150' },
    ]);
    await expectConsistent();
  });

  it("deleting a project keeps the firm's totals and moves its usage to no project; deleting a firm removes its rollups", async () => {
    const app = await start();
    const a = await seedFirm(app.dataSource, 'deletes-a');
    const b = await seedFirm(app.dataSource, 'deletes-b');
    for (const firm of [a, b]) {
      for (const project of [firm.projectId, null]) {
        await app.usage.record({
          firmId: firm.firmId,
          cmaProjectId: project,
          model: 'gemini-3.1-pro',
          taskType: 'validation',
          inputTokens: 10,
          outputTokens: 5,
          costUsd: '1.000001',
        });
      }
      await app.audit.record({
        firmId: firm.firmId,
        action: 'create_project',
        entityType: 'cma_project',
      });
    }
    const range = { firmId: a.firmId, from: '2020-01-01', to: '2100-01-01' };
    const before = await app.reports.summary(range);
    await app.dataSource.query('DELETE FROM cma_projects WHERE id = $1', [
      a.projectId,
    ]);
    expect(await app.reports.summary(range)).toEqual(before);
    expect(
      await app.reports.summary({ ...range, groupBy: ['project'] }),
    ).toEqual([{ cmaProjectId: null, ...before[0] }]);
    expect(
      await count(
        'SELECT count(*) AS n FROM llm_usage_daily_project WHERE firm_id = $1',
        [a.firmId],
      ),
    ).toBe(0);
    await expectConsistent();

    await app.dataSource.query('DELETE FROM users WHERE firm_id = $1', [
      a.firmId,
    ]);
    await app.dataSource.query('DELETE FROM firms WHERE id = $1', [a.firmId]);
    for (const table of [
      'llm_usage_daily',
      'llm_usage_daily_project',
      'audit_log_daily',
    ]) {
      expect(
        await count(`SELECT count(*) AS n FROM ${table} WHERE firm_id = $1`, [
          a.firmId,
        ]),
      ).toBe(0);
    }
    expect(
      await count(
        'SELECT sum(calls) AS n FROM llm_usage_daily WHERE firm_id = $1',
        [b.firmId],
      ),
    ).toBe(2);
    await expectConsistent();
  });

  /** Usage of firm `firmId` by hand-written SQL, at the given instants. */
  async function usageAt(
    dataSource: DataSource,
    firmId: string,
    projectId: string | null,
    instants: string[],
    costUsd = '0.250000',
  ) {
    await dataSource.query(
      `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
         output_tokens, cost_usd, success, created_at)
       SELECT $1, $2, 'gemini-3-flash', 'extraction', 100, 10, $3, true, t
         FROM unnest($4::timestamptz[]) AS t`,
      [firmId, projectId, costUsd, instants],
    );
  }

  it('keeps the billing history of purged months, records the horizon, and refuses to rebuild behind it', async () => {
    const app = await start();
    const { firmId, projectId } = await seedFirm(app.dataSource, 'purged');
    await usageAt(app.dataSource, firmId, projectId, [
      '2025-01-10T10:00:00Z',
      '2025-01-20T10:00:00Z',
      '2025-02-03T10:00:00Z',
    ]);
    await usageAt(app.dataSource, firmId, null, [
      '2025-01-15T10:00:00Z',
      '2025-03-01T00:00:00Z',
    ]);
    await app.dataSource.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       VALUES ($1, 'upload_file', 'uploaded_file', '2025-01-11T09:00:00Z')`,
      [firmId],
    );
    const january = { firmId, from: '2025-01-01', to: '2025-02-01' };
    const billed = await app.reports.summary({
      ...january,
      groupBy: ['project', 'day'],
    });
    expect(billed).toHaveLength(3);

    const retention = app.moduleRef.get(
      (await import('../src/logging/index.js')).LogRetentionService,
    );
    expect(
      await retention.purge('llm_usage_log', new Date('2025-02-15T00:00:00Z')),
    ).toBe(4);
    expect(
      await retention.purge('audit_log', new Date('2025-02-15T00:00:00Z')),
    ).toBe(1);
    expect(
      await count(
        'SELECT count(*) AS n FROM llm_usage_log WHERE firm_id = $1',
        [firmId],
      ),
    ).toBe(1);

    expect(
      await app.reports.summary({ ...january, groupBy: ['project', 'day'] }),
    ).toEqual(billed);
    expect(
      await count(
        `SELECT sum(events) AS n FROM audit_log_daily WHERE firm_id = $1`,
        [firmId],
      ),
    ).toBe(1);
    const { rows: horizon } = await suite.reader.query(
      `SELECT table_name, purged_before FROM logging_retention_horizon ORDER BY table_name`,
    );
    expect(horizon).toEqual([
      {
        table_name: 'audit_log',
        purged_before: new Date('2025-02-15T00:00:00Z'),
      },
      {
        table_name: 'llm_usage_log',
        purged_before: new Date('2025-02-15T00:00:00Z'),
      },
    ]);
    await expect(
      app.rollups.rebuild({ from: '2025-01-01', to: '2025-03-01' }),
    ).rejects.toThrow(
      /purged before 2025-02-15T00:00:00.000Z; rebuild only days from 2025-02-15 on/,
    );
    // Reconcile compares only what the raw rows still cover.
    const reconciled = await app.rollups.reconcile({
      from: '2025-01-01',
      to: '2025-04-01',
    });
    expect(reconciled.differences).toEqual([]);
    expect(reconciled.checked).toContainEqual({
      rollup: 'llm_usage_daily',
      from: '2025-02-15',
      to: '2025-04-01',
    });

    // The rollups' own purge, when asked.
    expect(await app.rollups.purge(new Date('2025-02-01T00:00:00Z'))).toBe(6);
    expect((await app.reports.summary(january))[0].calls).toBe(0);
    // Its billing history gone, the firm leaves the shared database consistent for the next tests.
    await app.dataSource.query('DELETE FROM firms WHERE id = $1', [firmId]);
  });

  it('reconcile names every planted difference, rebuild mends them, online', async () => {
    const app = await start();
    const { firmId, projectId } = await seedFirm(app.dataSource, 'drift');
    const other = await seedFirm(app.dataSource, 'drift-other');
    await usageAt(app.dataSource, firmId, projectId, [
      '2026-05-01T10:00:00Z',
      '2026-05-02T10:00:00Z',
    ]);
    await usageAt(app.dataSource, other.firmId, null, ['2026-05-01T11:00:00Z']);
    await app.dataSource.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       VALUES ($1, 'download_cma', 'generated_file', '2026-05-02T09:00:00Z')`,
      [firmId],
    );
    // Drift, planted by the database owner.
    await suite.reader.query(
      `UPDATE llm_usage_daily SET cost_usd = cost_usd + 0.000001 WHERE firm_id = $1 AND day = '2026-05-01'`,
      [firmId],
    );
    await suite.reader.query(
      `DELETE FROM llm_usage_daily_project WHERE day = '2026-05-02'`,
    );
    await suite.reader.query(
      `INSERT INTO audit_log_daily (firm_id, day, action, events) VALUES ($1, '2026-05-03', 'ghost', 7)`,
      [firmId],
    );
    await suite.reader.query(
      `UPDATE llm_usage_daily SET calls = calls + 1 WHERE firm_id = $1`,
      [other.firmId],
    );
    const range = { from: '2026-05-01', to: '2026-05-04' };
    /** The sums of one usageAt() call, as reconcile writes them; calls and cost as planted. */
    const oneCall = (calls: string, costUsd: string) => ({
      calls,
      failures: '0',
      inputTokens: '100',
      outputTokens: '10',
      costUsd,
    });
    const { differences } = await app.rollups.reconcile(range);
    expect(differences).toEqual(
      [
        {
          rollup: 'llm_usage_daily',
          key: {
            firmId,
            day: '2026-05-01',
            model: 'gemini-3-flash',
            taskType: 'extraction',
          },
          expected: oneCall('1', '0.250000'),
          actual: oneCall('1', '0.250001'),
        },
        {
          rollup: 'llm_usage_daily',
          key: {
            firmId: other.firmId,
            day: '2026-05-01',
            model: 'gemini-3-flash',
            taskType: 'extraction',
          },
          expected: oneCall('1', '0.250000'),
          actual: oneCall('2', '0.250000'),
        },
        {
          rollup: 'llm_usage_daily_project',
          key: {
            firmId,
            cmaProjectId: projectId,
            day: '2026-05-02',
            model: 'gemini-3-flash',
            taskType: 'extraction',
          },
          expected: oneCall('1', '0.250000'),
          actual: null,
        },
        {
          rollup: 'audit_log_daily',
          key: { firmId, day: '2026-05-03', action: 'ghost' },
          expected: null,
          actual: { events: '7' },
        },
      ]
        // Ordered as reconcile orders them: by rollup, then key (firm ids byte-wise).
        .sort(
          (x, y) =>
            ROLLUP_ORDER.indexOf(x.rollup) - ROLLUP_ORDER.indexOf(y.rollup) ||
            (x.key.firmId < y.key.firmId
              ? -1
              : x.key.firmId > y.key.firmId
                ? 1
                : 0),
        ),
    );
    // One firm only.
    expect(
      (await app.rollups.reconcile({ ...range, firmId: other.firmId }))
        .differences,
    ).toHaveLength(1);

    // Rebuild while writers go on: each day in a transaction of its own.
    const writes = Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        usageAt(app.dataSource, firmId, projectId, [
          `2026-05-0${1 + (i % 3)}T12:00:00Z`,
        ]),
      ),
    );
    const rebuilt = await app.rollups.rebuild(range);
    await writes;
    expect(rebuilt).toMatchObject({
      from: '2026-05-01',
      to: '2026-05-03',
      days: 3,
    });
    expect((await app.rollups.reconcile(range)).differences).toEqual([]);
    await expectConsistent();
  });

  it('refuses a bad range naming each field, and changes nothing', async () => {
    const app = await start();
    await expect(
      app.rollups.rebuild({
        from: 'yesterday',
        to: '2026-01-01',
        firmId: 'nope',
      }),
    ).rejects.toThrow(/firmId must be a UUID.*from/);
    await expect(
      app.rollups.reconcile({ from: '2026-02-01', to: '2026-01-01' }),
    ).rejects.toThrow(/to/);
  });

  it('summary from the rollups equals the raw-row summary on 200 random ranges, some with partial days', async () => {
    const app = await start();
    const { firmId, projectId } = await seedFirm(app.dataSource, 'ranges');
    const [second] = await app.dataSource.query<{ id: string }[]>(
      `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'second') RETURNING id`,
      [firmId],
    );
    const next = random(200);
    const start0 = Date.UTC(2026, 5, 1);
    const span = 60 * 86_400_000;
    // 3,000 calls over 60 days, exact costs, some failures, three project states.
    await app.dataSource.query(
      `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
         output_tokens, cost_usd, success, created_at)
       SELECT $1, (ARRAY[$2::uuid, $3::uuid, NULL])[1 + g % 3],
              (ARRAY['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3.1-pro'])[1 + (g / 3) % 3],
              (ARRAY['extraction', 'classification', 'validation', 'fallback'])[1 + (g / 9) % 4],
              (g * 7919) % 100000, (g * 31) % 5000, ((g * 7907) % 9999999999) / 1000000.0,
              g % 17 <> 0, to_timestamp(${start0 / 1000} + (g * 104729 % ${span / 1000}) + (g % 1000) / 1000.0)
         FROM generate_series(1, 3000) AS g`,
      [firmId, projectId, second.id],
    );
    // Half compacted, half still deltas: reports must not care.
    await app.rollups.compact({ maxKeys: 100 });
    const { summaryStatement } =
      await import('../src/logging/llm-usage/llm-usage-report.service.js');
    const groupings = [
      [],
      ['day'],
      ['model'],
      ['taskType'],
      ['project'],
      ['day', 'project'],
      ['project', 'model', 'taskType'],
      ['taskType', 'day', 'model', 'project'],
    ] as const;
    let partial = 0;
    for (let i = 0; i < 200; i++) {
      const snap = (t: number) => (next() < 0.5 ? t - (t % 86_400_000) : t);
      const a = snap(
        start0 - 86_400_000 * 3 + Math.floor(next() * (span + 6 * 86_400_000)),
      );
      const b = snap(a + 1 + Math.floor(next() * 20 * 86_400_000));
      if (a % 86_400_000 || b % 86_400_000) partial++;
      const query = {
        firmId,
        from: new Date(a),
        to: new Date(Math.max(b, a + 1)),
        groupBy: [...groupings[i % groupings.length]],
      };
      const raw = summaryStatement(query);
      const expected = (
        await suite.reader.query(raw.sql, raw.parameters)
      ).rows.map((r: Record<string, unknown>) => ({
        ...r,
        calls: Number(r.calls),
        failures: Number(r.failures),
      }));
      expect({ i, rows: await app.reports.summary(query) }).toEqual({
        i,
        rows: expected,
      });
    }
    expect(partial).toBeGreaterThan(50);

    // A daily series: every day of the range, zeros included.
    const series = await app.reports.dailySeries({
      firmId,
      from: '2026-05-30',
      to: '2026-06-03',
    });
    expect(series.map((d) => d.day)).toEqual([
      '2026-05-30',
      '2026-05-31',
      '2026-06-01',
      '2026-06-02',
    ]);
    expect(series[0]).toEqual({
      day: '2026-05-30',
      calls: 0,
      failures: 0,
      inputTokens: '0',
      outputTokens: '0',
      costUsd: '0.000000',
    });
    expect(series[2].calls).toBeGreaterThan(0);
  });
});
