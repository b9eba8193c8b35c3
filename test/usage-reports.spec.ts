import { jest } from '@jest/globals';
import type { DataSource } from 'typeorm';
import {
  type ExpensiveCall,
  LlmUsageReportService,
  type UsageSummaryQuery,
  type UsageSummaryRow,
} from '../src/logging/index.js';
import { UsageReportQueryError } from '../src/logging/llm-usage/llm-usage-report.service.js';
import {
  mostExpensiveStatement,
  summaryStatement,
} from '../src/logging/llm-usage/llm-usage-report.service.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';

/**
 * LlmUsageReportService on a real database: two firms with known rows, summaries compared with
 * hand-computed exact strings, the half-open range, tenant isolation, the most expensive calls, the
 * validation at the edge; then the query plans over a realistic spread of rows.
 */

const FLASH = 'gemini-3-flash';
const PRO = 'gemini-3.1-pro';
const MARCH = { from: '2026-03-01', to: '2026-04-01' } as const;
const INT_MAX = 2_147_483_647;

interface Row {
  label: string;
  createdAt: string;
  model: string;
  taskType: string;
  project: 'p1' | 'p2' | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: string;
  success: boolean;
}

const row = (
  label: string,
  createdAt: string,
  model: string,
  taskType: string,
  project: Row['project'],
  inputTokens: number,
  outputTokens: number,
  costUsd: string,
  success = true,
): Row => ({
  label,
  createdAt,
  model,
  taskType,
  project,
  inputTokens,
  outputTokens,
  costUsd,
  success,
});

/** Firm A's rows besides the 1,000 micro-cost calls of 2026-03-03 (see beforeAll). */
const FIRM_A_ROWS = [
  // Exactly at `from`: inside March.
  row(
    'r1',
    '2026-03-01T00:00:00Z',
    FLASH,
    'extraction',
    'p1',
    1000,
    200,
    '0.000124',
  ),
  row(
    'r2',
    '2026-03-01T23:59:59.999Z',
    FLASH,
    'extraction',
    null,
    1000,
    200,
    '0.000124',
    false,
  ),
  row(
    'r3',
    '2026-03-02T10:00:00Z',
    PRO,
    'classification',
    'p1',
    5000,
    1000,
    '1.250000',
  ),
  row(
    'r4',
    '2026-03-02T11:00:00Z',
    FLASH,
    'validation',
    'p2',
    300,
    50,
    '0.000124',
  ),
  // The largest values the columns hold: the token sums need bigint, the cost sum passes 9999.999999.
  row(
    'r5',
    '2026-03-31T23:59:59.999Z',
    PRO,
    'fallback',
    null,
    INT_MAX,
    INT_MAX,
    '9999.999999',
    false,
  ),
  row(
    'r5b',
    '2026-03-31T12:00:00Z',
    PRO,
    'fallback',
    null,
    INT_MAX,
    INT_MAX,
    '0.000001',
  ),
  // Exactly at `to`: outside March.
  row(
    'r6',
    '2026-04-01T00:00:00Z',
    FLASH,
    'extraction',
    'p1',
    999,
    999,
    '5.000000',
  ),
  // Just before `from`: outside March.
  row(
    'r7',
    '2026-02-28T23:59:59.999Z',
    PRO,
    'extraction',
    'p1',
    7,
    7,
    '2.000000',
  ),
];

/** Firm B's rows: in the same month, with the same models, and dearer than any of firm A's. */
const FIRM_B_ROWS = [
  row(
    'b1',
    '2026-03-01T12:00:00Z',
    FLASH,
    'extraction',
    'p1',
    11,
    11,
    '7777.777777',
  ),
  row(
    'b2',
    '2026-03-02T12:00:00Z',
    PRO,
    'validation',
    null,
    13,
    13,
    '7777.777777',
    false,
  ),
  row(
    'b3',
    '2026-03-03T12:00:00Z',
    FLASH,
    'extraction',
    'p1',
    17,
    17,
    '7777.777777',
  ),
];

const totals = (
  calls: number,
  failures: number,
  inputTokens: string,
  outputTokens: string,
  costUsd: string,
) => ({ calls, failures, inputTokens, outputTokens, costUsd });

describe('LlmUsageReportService', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof loggingApp>>;
  let reports: LlmUsageReportService;
  let firmA: { firmId: string; p1: string; p2: string };
  let firmB: { firmId: string; p1: string };
  const ids = new Map<string, string>();

  async function insert(
    dataSource: DataSource,
    firmId: string,
    projects: Record<string, string>,
    rows: Row[],
  ) {
    for (const r of rows) {
      const [{ id }] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
            output_tokens, cost_usd, latency_ms, success, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 500, $8, $9) RETURNING id`,
        [
          firmId,
          r.project ? projects[r.project] : null,
          r.model,
          r.taskType,
          r.inputTokens,
          r.outputTokens,
          r.costUsd,
          r.success,
          r.createdAt,
        ],
      );
      ids.set(r.label, id);
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await loggingApp(database.url);
    reports = app.moduleRef.get(LlmUsageReportService);
    const a = await seedFirm(app.dataSource, 'firm-a');
    const [p2] = await app.dataSource.query<{ id: string }[]>(
      `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'second') RETURNING id`,
      [a.firmId],
    );
    firmA = { firmId: a.firmId, p1: a.projectId, p2: p2.id };
    const b = await seedFirm(app.dataSource, 'firm-b');
    firmB = { firmId: b.firmId, p1: b.projectId };
    await insert(app.dataSource, firmA.firmId, firmA, FIRM_A_ROWS);
    // 1,000 micro-cost calls on 2026-03-03, one a second: 1,000 × 0.000124 = 0.124000 exactly.
    await app.dataSource.query(
      `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
          output_tokens, cost_usd, created_at)
       SELECT $1, $2, $3, 'extraction', 1200, 300, 0.000124,
              timestamptz '2026-03-03T00:00:00Z' + i * interval '1 second'
         FROM generate_series(1, 1000) AS i`,
      [firmA.firmId, firmA.p2, FLASH],
    );
    await insert(app.dataSource, firmB.firmId, firmB, FIRM_B_ROWS);
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  const summary = (query: Partial<UsageSummaryQuery> = {}) =>
    reports.summary({ firmId: firmA.firmId, ...MARCH, ...query });

  describe('summary', () => {
    it('sums the month without groups in one row: exact bigint token sums and a 6-digit cost', async () => {
      expect(await summary()).toEqual([
        totals(1006, 2, '4296174594', '4295268744', '10001.374372'),
      ]);
    });

    it('groups by UTC day', async () => {
      expect(await summary({ groupBy: ['day'] })).toEqual([
        { day: '2026-03-01', ...totals(2, 1, '2000', '400', '0.000248') },
        { day: '2026-03-02', ...totals(2, 0, '5300', '1050', '1.250124') },
        // 1,000 × 0.000124, summed by PostgreSQL: no float drift.
        {
          day: '2026-03-03',
          ...totals(1000, 0, '1200000', '300000', '0.124000'),
        },
        {
          day: '2026-03-31',
          ...totals(2, 1, '4294967294', '4294967294', '10000.000000'),
        },
      ]);
    });

    it('groups by model, ordered byte-wise', async () => {
      expect(await summary({ groupBy: ['model'] })).toEqual([
        { model: FLASH, ...totals(1003, 1, '1202300', '300450', '0.124372') },
        {
          model: PRO,
          ...totals(3, 1, '4294972294', '4294968294', '10001.250000'),
        },
      ]);
    });

    it('groups by task type', async () => {
      expect(await summary({ groupBy: ['taskType'] })).toEqual([
        {
          taskType: 'classification',
          ...totals(1, 0, '5000', '1000', '1.250000'),
        },
        {
          taskType: 'extraction',
          ...totals(1002, 1, '1202000', '300400', '0.124248'),
        },
        {
          taskType: 'fallback',
          ...totals(2, 1, '4294967294', '4294967294', '10000.000000'),
        },
        { taskType: 'validation', ...totals(1, 0, '300', '50', '0.000124') },
      ]);
    });

    it('groups by project, calls without one under null, last', async () => {
      const [p1, p2] = [firmA.p1, firmA.p2].sort();
      const byProject: Record<string, UsageSummaryRow> = {
        [firmA.p1]: {
          cmaProjectId: firmA.p1,
          ...totals(2, 0, '6000', '1200', '1.250124'),
        },
        [firmA.p2]: {
          cmaProjectId: firmA.p2,
          ...totals(1001, 0, '1200300', '300050', '0.124124'),
        },
      };
      expect(await summary({ groupBy: ['project'] })).toEqual([
        byProject[p1],
        byProject[p2],
        {
          cmaProjectId: null,
          ...totals(3, 2, '4294968294', '4294967494', '10000.000124'),
        },
      ]);
    });

    it('groups by day and model', async () => {
      expect(await summary({ groupBy: ['day', 'model'] })).toEqual([
        {
          day: '2026-03-01',
          model: FLASH,
          ...totals(2, 1, '2000', '400', '0.000248'),
        },
        {
          day: '2026-03-02',
          model: FLASH,
          ...totals(1, 0, '300', '50', '0.000124'),
        },
        {
          day: '2026-03-02',
          model: PRO,
          ...totals(1, 0, '5000', '1000', '1.250000'),
        },
        {
          day: '2026-03-03',
          model: FLASH,
          ...totals(1000, 0, '1200000', '300000', '0.124000'),
        },
        {
          day: '2026-03-31',
          model: PRO,
          ...totals(2, 1, '4294967294', '4294967294', '10000.000000'),
        },
      ]);
    });

    it('orders by the keys in the order given: model, then task type', async () => {
      expect(await summary({ groupBy: ['model', 'taskType'] })).toEqual([
        {
          model: FLASH,
          taskType: 'extraction',
          ...totals(1002, 1, '1202000', '300400', '0.124248'),
        },
        {
          model: FLASH,
          taskType: 'validation',
          ...totals(1, 0, '300', '50', '0.000124'),
        },
        {
          model: PRO,
          taskType: 'classification',
          ...totals(1, 0, '5000', '1000', '1.250000'),
        },
        {
          model: PRO,
          taskType: 'fallback',
          ...totals(2, 1, '4294967294', '4294967294', '10000.000000'),
        },
      ]);
    });

    it('groups by all four at once, the groups adding up to the whole', async () => {
      const rows = await summary({
        groupBy: ['day', 'model', 'taskType', 'project'],
      });
      expect(rows).toHaveLength(6);
      expect(Object.keys(rows[0])).toEqual([
        'day',
        'model',
        'taskType',
        'cmaProjectId',
        'calls',
        'failures',
        'inputTokens',
        'outputTokens',
        'costUsd',
      ]);
      expect(rows.reduce((n, r) => n + r.calls, 0)).toBe(1006);
      expect(rows.map((r) => r.day)).toEqual(
        [...rows.map((r) => r.day)].sort(),
      );
    });

    it('takes [from, to) half-open: a call at `to` is out, one at `from` is in', async () => {
      // r2 at 23:59:59.999 is in; r3 at exactly 10:00 is the end, so out.
      expect(
        await summary({
          from: '2026-03-01T23:59:59.999Z',
          to: new Date('2026-03-02T10:00:00Z'),
        }),
      ).toEqual([totals(1, 1, '1000', '200', '0.000124')]);
      expect(
        await summary({
          from: '2026-04-01T00:00:00Z',
          to: '2026-04-01T00:00:00.001Z',
        }),
      ).toEqual([totals(1, 0, '999', '999', '5.000000')]);
      // Offsets are honoured: 2026-03-02T12:00+02:00 is 10:00Z, r3's instant.
      expect(
        await summary({
          from: '2026-03-02T12:00:00+02:00',
          to: '2026-03-02T10:00:00.001Z',
        }),
      ).toEqual([totals(1, 0, '5000', '1000', '1.250000')]);
    });

    it('answers zeros in one row without groups, and no rows with groups, for an empty range', async () => {
      const empty = { from: '2025-01-01', to: '2025-02-01' };
      expect(await summary(empty)).toEqual([
        totals(0, 0, '0', '0', '0.000000'),
      ]);
      expect(await summary({ ...empty, groupBy: ['day'] })).toEqual([]);
    });

    it("never counts another firm's rows", async () => {
      expect(
        await reports.summary({
          firmId: firmB.firmId,
          ...MARCH,
          groupBy: ['model'],
        }),
      ).toEqual([
        { model: FLASH, ...totals(2, 0, '28', '28', '15555.555554') },
        { model: PRO, ...totals(1, 1, '13', '13', '7777.777777') },
      ]);
      const a = await summary({ groupBy: ['day', 'project'] });
      expect(a.some((r) => r.cmaProjectId === firmB.p1)).toBe(false);
      expect(a.reduce((n, r) => n + r.calls, 0)).toBe(1006);
      // A firm with no rows at all (or one that does not exist) sees nothing.
      expect(
        await reports.summary({
          firmId: '00000000-0000-4000-8000-000000000000',
          ...MARCH,
        }),
      ).toEqual([totals(0, 0, '0', '0', '0.000000')]);
    });
  });

  describe('mostExpensive', () => {
    const labels = (calls: ExpensiveCall[]) =>
      calls.map(
        (c) => [...ids.entries()].find(([, id]) => id === c.id)?.[0] ?? 'micro',
      );

    it('orders by cost descending, then newest first; 10 by default', async () => {
      const calls = await reports.mostExpensive({ firmId: firmA.firmId });
      expect(calls).toHaveLength(10);
      expect(labels(calls)).toEqual([
        'r5',
        'r6',
        'r7',
        'r3',
        ...Array<string>(6).fill('micro'),
      ]);
      // The 0.000124 ties: newest first.
      const times = calls.slice(4).map((c) => c.createdAt!.getTime());
      expect(times).toEqual([...times].sort((x, y) => y - x));
      expect(calls[4].createdAt).toEqual(new Date('2026-03-03T00:16:40Z'));
    });

    it('returns each call whole, the cost as an exact string', async () => {
      const [top] = await reports.mostExpensive({
        firmId: firmA.firmId,
        limit: 1,
      });
      expect(top).toEqual({
        id: ids.get('r5'),
        createdAt: new Date('2026-03-31T23:59:59.999Z'),
        model: PRO,
        taskType: 'fallback',
        cmaProjectId: null,
        inputTokens: INT_MAX,
        outputTokens: INT_MAX,
        costUsd: '9999.999999',
        latencyMs: 500,
        success: false,
      });
    });

    it('honours limit and the half-open range', async () => {
      expect(
        labels(await reports.mostExpensive({ firmId: firmA.firmId, limit: 3 })),
      ).toEqual(['r5', 'r6', 'r7']);
      expect(
        labels(
          await reports.mostExpensive({
            firmId: firmA.firmId,
            ...MARCH,
            limit: 2,
          }),
        ),
      ).toEqual(['r5', 'r3']);
      // Only a lower bound: r6 at 2026-04-01 is in; only an upper bound: r7 alone.
      expect(
        labels(
          await reports.mostExpensive({
            firmId: firmA.firmId,
            from: '2026-04-01',
          }),
        ),
      ).toEqual(['r6']);
      expect(
        labels(
          await reports.mostExpensive({
            firmId: firmA.firmId,
            to: '2026-03-01',
          }),
        ),
      ).toEqual(['r7']);
      // The whole firm: 8 rows and 1,000 micro-cost calls; the cheapest, r5b, last.
      const all = await reports.mostExpensive({
        firmId: firmA.firmId,
        limit: 1000,
      });
      expect(all).toHaveLength(1000);
    });

    it("never returns another firm's calls", async () => {
      const b = await reports.mostExpensive({
        firmId: firmB.firmId,
        limit: 1000,
      });
      expect(labels(b)).toEqual(['b3', 'b2', 'b1']);
      const a = await reports.mostExpensive({
        firmId: firmA.firmId,
        limit: 1000,
      });
      const bIds = new Set(b.map((c) => c.id));
      expect(a.some((c) => bIds.has(c.id))).toBe(false);
    });
  });

  describe('validation', () => {
    async function refusal(
      run: () => Promise<unknown>,
    ): Promise<UsageReportQueryError> {
      const query = jest.spyOn(app.dataSource, 'query');
      try {
        const error = await run().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(UsageReportQueryError);
        expect(query).not.toHaveBeenCalled();
        return error as UsageReportQueryError;
      } finally {
        query.mockRestore();
      }
    }

    const rules = (error: UsageReportQueryError) =>
      error.violations.map((v) => `${v.field}:${v.rule}`).sort();

    it('names every bad field and its rule in one error, and queries nothing', async () => {
      const error = await refusal(() =>
        reports.summary({
          firmId: 'firm-a',
          from: '2026-04-01',
          to: '2026-03-01',
          groupBy: ['day', 'day', 'week' as 'day'],
        }),
      );
      expect(rules(error)).toEqual([
        'firmId:isUuid',
        'groupBy:arrayUnique',
        'groupBy:isIn',
        'to:isLaterThan',
      ]);
      expect(error.message).toBe(
        'Invalid usage summary query: firmId must be a UUID; to must be later than from; ' +
          'groupBy values must be among day, model, taskType, project; groupBy must not name a group twice',
      );
    });

    it('refuses a missing firm, missing or invalid dates and an empty range', async () => {
      expect(
        rules(
          await refusal(() =>
            reports.summary({} as unknown as UsageSummaryQuery),
          ),
        ),
      ).toEqual(['firmId:isUuid', 'from:isInstant', 'to:isInstant']);
      for (const bad of [
        '2026-02-30',
        'yesterday',
        '2026-03-01T10:00:00', // no time zone: ambiguous
        '2026-03-01T10:00:00.0000001Z', // finer than a millisecond
        new Date(Number.NaN),
        1767225600000,
      ]) {
        const error = await refusal(() =>
          summary({ from: bad as string, to: '2026-04-01' }),
        );
        expect(rules(error)).toEqual(['from:isInstant']);
      }
      const same = await refusal(() =>
        summary({ from: '2026-03-01', to: new Date('2026-03-01T00:00:00Z') }),
      );
      expect(rules(same)).toEqual(['to:isLaterThan']);
    });

    it('refuses a groupBy that is not an array, and unknown fields', async () => {
      const error = await refusal(() =>
        summary({ groupBy: 'day' as unknown as ['day'], firm: 'x' } as never),
      );
      expect(rules(error)).toEqual([
        'firm:whitelistValidation',
        'groupBy:arrayUnique',
        'groupBy:isArray',
      ]);
      expect(
        rules(await refusal(() => reports.summary(null as never))),
      ).toEqual(['query:isObject']);
    });

    it('refuses a limit out of 1..1000 or not an integer, and a reversed range', async () => {
      for (const limit of [0, 1001, 2.5, '10', -1]) {
        const error = await refusal(() =>
          reports.mostExpensive({
            firmId: firmA.firmId,
            limit: limit as number,
          }),
        );
        expect(error.violations.every((v) => v.field === 'limit')).toBe(true);
        expect(error.message).toBe(
          'Invalid most expensive calls query: limit must be an integer from 1 to 1000',
        );
      }
      expect(
        rules(
          await refusal(() =>
            reports.mostExpensive({
              firmId: firmA.firmId,
              from: '2026-03-02',
              to: '2026-03-01',
            }),
          ),
        ),
      ).toEqual(['to:isLaterThan']);
    });
  });
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

describe('report query plans over 60,000 rows of 100 firms', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof loggingApp>>;
  let firmId: string;
  /**
   * The tables that hold its rows: the log, or (partitioned layout) the partitions that hold more
   * than a few pages of them: the default partition; a month partition holds the odd row whose
   * random id falls in its month, and reading its page whole is the cheapest plan.
   */
  let populated: Set<string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await loggingApp(database.url);
    const ds = app.dataSource;
    await ds.query(
      `INSERT INTO firms (name) SELECT 'firm-' || f FROM generate_series(1, 100) AS f`,
    );
    await ds.query(
      `INSERT INTO cma_projects (firm_id, name)
       SELECT id, name || ' CMA ' || p FROM firms, generate_series(1, 5) AS p`,
    );
    // 60,000 calls over twelve months, in time order, the firms interleaved as they arrive.
    await ds.query(
      `WITH f AS (SELECT row_number() OVER (ORDER BY id) AS n, id FROM firms),
            p AS (SELECT firm_id, array_agg(id ORDER BY id) AS ids FROM cma_projects GROUP BY firm_id)
       INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
           output_tokens, cost_usd, latency_ms, success, created_at)
       SELECT f.id,
              CASE WHEN i % 4 = 0 THEN NULL ELSE p.ids[1 + i % 5] END,
              (ARRAY['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3.1-pro'])[1 + i % 3],
              (ARRAY['extraction', 'classification', 'validation', 'fallback'])[1 + i % 4],
              500 + (i * 7919) % 5000, 50 + (i * 331) % 1000,
              ((i * 7907) % 50000) / 1000000.0, 200 + i % 3000, i % 50 <> 0,
              timestamptz '2025-04-01T00:00:00Z' + (i * interval '1 second') * (365 * 86400 / 60000)
         FROM generate_series(1, 60000) AS i
         JOIN f ON f.n = 1 + (i * 37) % 100
         JOIN p ON p.firm_id = f.id`,
    );
    await ds.query('ANALYZE llm_usage_log');
    populated = new Set(
      (
        await ds.query<{ name: string }[]>(
          `SELECT tableoid::regclass::text AS name FROM llm_usage_log GROUP BY 1 HAVING count(*) > 1000`,
        )
      ).map((row) => row.name),
    );
    [{ id: firmId }] = await ds.query<{ id: string }[]>(
      `SELECT id FROM firms ORDER BY name LIMIT 1`,
    );
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  /**
   * The plan's nodes. On the partitioned layout a node scans a partition through the partition's
   * own index: its index is named here by the log's index it belongs to.
   */
  async function plan(statement: {
    sql: string;
    parameters: unknown[];
  }): Promise<PlanNode[]> {
    const [{ 'QUERY PLAN': json }] = await app.dataSource.query<
      { 'QUERY PLAN': [{ Plan: PlanNode }] }[]
    >(`EXPLAIN (FORMAT JSON) ${statement.sql}`, statement.parameters);
    const nodes = nodesOf(json[0].Plan);
    const names = [...new Set(nodes.map((n) => n['Index Name']))];
    const parents = await app.dataSource.query<{ name: string; of: string }[]>(
      `SELECT c.relname AS name, coalesce(p.relname, c.relname) AS of FROM pg_class c
         LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
        WHERE c.relname = ANY ($1)`,
      [names.filter(Boolean)],
    );
    const of = new Map(parents.map((row) => [row.name, row.of]));
    return nodes.map((n) =>
      n['Index Name'] ? { ...n, 'Index Name': of.get(n['Index Name']) } : n,
    );
  }

  const indexScans = (nodes: PlanNode[]) =>
    nodes
      .filter((n) =>
        ['Index Scan', 'Index Only Scan', 'Bitmap Index Scan'].includes(
          n['Node Type'],
        ),
      )
      .map((n) => n['Index Name']);

  /** Sequential scans of the log, or of one of its partitions that holds its rows. */
  const seqScansOfTheLog = (nodes: PlanNode[]) =>
    nodes.filter(
      (n) =>
        n['Node Type'] === 'Seq Scan' &&
        populated.has(n['Relation Name'] ?? ''),
    );

  /**
   * The plan reaches the firm's rows through an index leading with firm_id: the spec's
   * `(firm_id)`, the reports' `(firm_id, created_at)` or `(firm_id, cost_usd DESC, ...)`, whichever
   * the planner costs lower at this size (at 600 rows a firm, often the smaller one; bench/reports
   * shows the composite at 1M+).
   */
  const expectFirmIndex = (nodes: PlanNode[]) => {
    const used = indexScans(nodes);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) {
      expect([FIRM_INDEX, FIRM_RANGE_INDEX, FIRM_COST_INDEX]).toContain(name);
    }
  };

  it('has the rows it claims', async () => {
    const [{ n }] = await app.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM llm_usage_log WHERE firm_id = $1`,
      [firmId],
    );
    expect(n).toBe(600);
  });

  it.each([[[]], [['day', 'model']], [['project']]] as const)(
    'summary of one firm over one month, grouped by %j, reads an index, never the whole table',
    async (groupBy) => {
      const nodes = await plan(
        summaryStatement({
          firmId,
          from: '2025-09-01',
          to: '2025-10-01',
          groupBy,
        }),
      );
      expect(seqScansOfTheLog(nodes)).toEqual([]);
      expectFirmIndex(nodes);
    },
  );

  it('mostExpensive of one firm over a month reads an index on firm_id', async () => {
    const nodes = await plan(
      mostExpensiveStatement({
        firmId,
        from: '2025-09-01',
        to: '2025-10-01',
        limit: 10,
      }),
    );
    expect(seqScansOfTheLog(nodes)).toEqual([]);
    expectFirmIndex(nodes);
  });

  it('mostExpensive of one firm over all time reads the first entries of the index in its order, and sorts nothing', async () => {
    const nodes = await plan(mostExpensiveStatement({ firmId, limit: 10 }));
    expect(seqScansOfTheLog(nodes)).toEqual([]);
    expect([...new Set(indexScans(nodes))]).toEqual([FIRM_COST_INDEX]);
    expect(nodes.filter((n) => n['Node Type'] === 'Sort')).toEqual([]);
  });
});

/** The spec's index on firm_id, and the reports' index on (firm_id, created_at). */
const FIRM_INDEX = 'idx_llm_usage_log_firm_id';
const FIRM_RANGE_INDEX = 'idx_llm_usage_log_firm_id_created_at';
/** The most expensive calls' index: (firm_id, cost_usd DESC, created_at DESC NULLS LAST, id DESC). */
const FIRM_COST_INDEX = 'idx_llm_usage_log_firm_id_cost_usd';
