import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import type { DataSource } from 'typeorm';
import {
  AuditSealService,
  AuditTrailService,
  LlmUsageReportService,
  LogRetentionService,
  type UsageSummaryQuery,
} from '../src/logging/index.js';
import { summaryStatement } from '../src/logging/llm-usage/llm-usage-report.service.js';
import {
  type LogMonth,
  LogPartitionError,
  LogPartitionService,
  partitionLogs,
  type PartitionConversionResult,
} from '../src/logging/partitions/index.js';
import {
  AuditArchiveService,
  verifyArchive,
} from '../src/logging/seals/index.js';
import { uuidV7 } from '../src/logging/writer/record-clock.js';
import { idCondition } from '../src/logging/core/log-partitions.js';
import { ID_STRAY_BODIES } from '../src/logging/migrations/partition-reads.js';
import { dataSourceFor } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { type AppRole, createAppRole } from './support/roles.js';
import { refusal } from './support/sql.js';
import { databaseSuite } from './support/suite.js';
import {
  everyTrailPage,
  UNDATED_AND_DATED_ROWS,
  UNDATED_FIRST,
} from './support/trail.js';

/**
 * The partitioned layout (docs/partitions.md): the conversion of a populated install, where rows
 * go, the months made ahead, what the application's role cannot do to a partition, and a month
 * leaving whole, on an unsealed and a sealed log.
 */

const LOGS = ['audit_log', 'llm_usage_log'] as const;

/** The first instant of the UTC month `offset` months after the current one. */
const month = (offset: number): Date => {
  const now = new Date();
  return new Date(
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1),
  );
};
const uuidFloor = (ms: number) =>
  ms
    .toString(16)
    .padStart(12, '0')
    .replace(/^(.{8})(.{4})$/, '$1-$2') + '-0000-0000-000000000000';
const suffix = (at: Date) => at.toISOString().slice(0, 7).replace('-', '');

/** A UUIDv7 of SQL's timestamp `at`, as the writer makes them. */
const V7 = (at: string) =>
  `(lpad(to_hex(floor(extract(epoch FROM ${at}) * 1000)::bigint), 12, '0') || '7'
    || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid`;

describe('the partitioned layout', () => {
  const suite = databaseSuite();
  let dataSource: DataSource;
  let owner: Client;
  let firms: { firmId: string; userId: string; projectId: string }[];
  let converted: PartitionConversionResult[];
  /** The tables' constraints, indexes and triggers before the conversion. */
  let before: Record<string, unknown>;
  let least: AppRole;

  const q = async <T = Record<string, unknown>>(
    sql: string,
    parameters: unknown[] = [],
  ) => (await owner.query(sql, parameters)).rows as T[];
  const one = async <T = Record<string, unknown>>(
    sql: string,
    parameters: unknown[] = [],
  ) => (await q<T>(sql, parameters))[0];

  /** Constraints, indexes (`ON ONLY` read as `ON`), triggers and grants of the logs. */
  const catalog = async () => ({
    constraints: await q(
      `SELECT conrelid::regclass::text AS log, conname, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE conrelid IN ('audit_log'::regclass, 'llm_usage_log'::regclass)
          AND contype <> 'n' ORDER BY 1, 2`,
    ),
    indexes: await q(
      `SELECT tablename, indexname, replace(indexdef, ' ON ONLY ', ' ON ') AS def FROM pg_indexes
        WHERE tablename IN ('audit_log', 'llm_usage_log') ORDER BY 1, 2`,
    ),
    triggers: await q(
      `SELECT tgrelid::regclass::text AS log, tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger
        WHERE tgrelid IN ('audit_log'::regclass, 'llm_usage_log'::regclass) AND NOT tgisinternal
        ORDER BY 1, 2`,
    ),
    grants: await q(
      `SELECT c.relname, a.privilege_type, pg_get_userbyid(a.grantee) AS grantee
         FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid IN ('audit_log'::regclass, 'llm_usage_log'::regclass) AND a.grantee <> c.relowner
        ORDER BY 1, 2, 3`,
    ),
  });

  /** The rows of each log, as one digest of their ids, and their count. */
  const contents = () =>
    q(
      `SELECT 'audit_log' AS log, count(*)::int AS n, md5(string_agg(id::text, ',' ORDER BY id)) AS ids FROM audit_log
       UNION ALL
       SELECT 'llm_usage_log', count(*)::int, md5(string_agg(id::text, ',' ORDER BY id)) FROM llm_usage_log`,
    );

  /** What the rollups hold: calls and events in all. */
  const rollups = () =>
    one<{ calls: string; events: string }>(
      `SELECT (SELECT sum(calls) FROM llm_usage_daily)::text AS calls,
              (SELECT sum(events) FROM audit_log_daily)::text AS events`,
    );

  /** The partitions of `log`, by name. */
  const partitions = async (log: string) =>
    (
      await q<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [log],
      )
    ).map((row) => row.name);

  const where = async (log: string, id: string) =>
    (
      await one<{ part: string }>(
        `SELECT tableoid::regclass::text AS part FROM ${log} WHERE id = $1`,
        [id],
      )
    )?.part;

  let stats: { contents: unknown; rollups: unknown };

  beforeAll(async () => {
    owner = suite.reader;
    dataSource = await dataSourceFor(suite.url).initialize();
    await q(`UPDATE logging_retention_floor SET min_age = interval '30 days'`);
    firms = await q(
      `WITH f AS (INSERT INTO firms (name) SELECT 'firm ' || i FROM generate_series(1, 3) i RETURNING id),
            u AS (INSERT INTO users (firm_id, email) SELECT id, id || '@firm.test' FROM f RETURNING id, firm_id),
            p AS (INSERT INTO cma_projects (firm_id, name) SELECT id, 'cma' FROM f RETURNING id, firm_id)
       SELECT u.firm_id AS "firmId", u.id AS "userId", p.id AS "projectId" FROM u JOIN p USING (firm_id)`,
    );
    // six months of history, 12 rows of each log per firm and month, dated in the month's middle
    for (let offset = -6; offset <= -1; offset++) {
      const at = `($1::timestamptz + (random() * 20 + 2) * interval '1 day')`;
      for (const { firmId, userId, projectId } of firms) {
        await q(
          `INSERT INTO llm_usage_log (id, firm_id, cma_project_id, model, task_type, input_tokens,
                                      output_tokens, cost_usd, created_at)
           SELECT ${V7('t.at')}, $2, $3, 'gemini-3-flash', 'extraction', 100, 20, 0.000124 * i, t.at
             FROM generate_series(1, 12) i, LATERAL (SELECT ${at} AS at) t`,
          [month(offset), firmId, projectId],
        );
        await q(
          `INSERT INTO audit_log (id, firm_id, user_id, action, entity_type, created_at)
           SELECT ${V7('t.at')}, $2, $3, 'create_project', 'cma_project', t.at
             FROM generate_series(1, 12) i, LATERAL (SELECT ${at} AS at) t`,
          [month(offset), firmId, userId],
        );
      }
    }
    least = await createAppRole(suite.url, 'least');
    before = await catalog();
    stats = { contents: await contents(), rollups: await rollups() };
    converted = await partitionLogs(dataSource, {
      copyShare: 1,
      batchSize: 100,
    });
  });
  afterAll(async () => {
    await least?.drop();
    await dataSource?.destroy();
  });

  it('converts each log: range-partitioned on id, a default partition, a month from the oldest row to three ahead, every row once', async () => {
    expect(
      converted.map((r) => [r.log, r.converted, r.copied, r.months]),
    ).toEqual([
      ['audit_log', true, 216, 10],
      ['llm_usage_log', true, 216, 10],
    ]);
    for (const log of LOGS) {
      expect(await partitions(log)).toEqual([
        `${log}_default`,
        ...[-6, -5, -4, -3, -2, -1, 0, 1, 2, 3].map(
          (offset) => `${log}_p${suffix(month(offset))}`,
        ),
      ]);
    }
    expect(await contents()).toEqual(stats.contents);
    expect(await rollups()).toEqual(stats.rollups);
    const [{ left }] = await q<{ left: number }>(
      `SELECT count(*)::int AS left FROM pg_class
        WHERE relname LIKE '%\\_\\_unpartitioned' OR relname LIKE '%\\_\\_copy\\_queue' OR relname LIKE '%\\_\\_partitioned'`,
    );
    expect(left).toBe(0);
  });

  it("keeps the log's constraints, indexes, triggers and grants, under their names", async () => {
    expect(await catalog()).toEqual(before);
  });

  it('leaves a partitioned log alone when asked again', async () => {
    const again = await partitionLogs(dataSource);
    expect(again.map((r) => [r.log, r.converted])).toEqual([
      ['audit_log', false],
      ['llm_usage_log', false],
    ]);
  });

  it("puts a row in its id's month, and an id of no month made (not the module's) in the default partition", async () => {
    const app = suite.own(await loggingApp(suite.url));
    const { firmId } = firms[0];
    const id = await app.audit.record({
      firmId,
      action: 'upload_file',
      entityType: 'uploaded_file',
    });
    expect(await where('audit_log', id)).toBe(`audit_log_p${suffix(month(0))}`);
    const stray = 'f0000000-0000-4000-8000-000000000001';
    await q(
      `INSERT INTO audit_log (id, firm_id, action, entity_type) VALUES ($1, $2, 'upload_file', 'uploaded_file')`,
      [stray, firmId],
    );
    expect(await where('audit_log', stray)).toBe('audit_log_default');
  });

  it("makes the months ahead at startup, and moves into a new month the default partition's rows of it", async () => {
    const { firmId } = firms[0];
    const ahead = new Date(month(5).getTime() + 3 * 86_400_000);
    const early = uuidV7(ahead.getTime() * 1000);
    await q(
      `INSERT INTO llm_usage_log (id, firm_id, model, task_type, input_tokens, output_tokens, cost_usd)
       VALUES ($1, $2, 'gemini-3-flash', 'extraction', 1, 1, 0.000001)`,
      [early, firmId],
    );
    expect(await where('llm_usage_log', early)).toBe('llm_usage_log_default');
    const totals = { contents: await contents(), rollups: await rollups() };

    const app = suite.own(
      await loggingApp(suite.url, { partitions: { monthsAhead: 6 } }),
    );
    const service = app.moduleRef.get(LogPartitionService);
    expect(await where('llm_usage_log', early)).toBe(
      `llm_usage_log_p${suffix(month(5))}`,
    );
    const months = await service.months('llm_usage_log');
    expect(months.at(-1)).toEqual({
      log: 'llm_usage_log',
      table: `llm_usage_log_p${suffix(month(6))}`,
      month: month(6),
      end: month(7),
    });
    expect(await service.ensure()).toEqual({ audit_log: 0, llm_usage_log: 0 });
    expect(await service.layout()).toEqual({
      audit_log: 'partitioned',
      llm_usage_log: 'partitioned',
    });
    expect({ contents: await contents(), rollups: await rollups() }).toEqual(
      totals,
    );
  });

  it('pages the trail newest first across the months with its keyset cursor', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const trail = app.moduleRef.get(AuditTrailService);
    const { firmId } = firms[1];
    const paged = (await everyTrailPage(trail, { firmId, limit: 7 })).items.map(
      (item) => item.id,
    );
    const sorted = await q<{ id: string }>(
      `SELECT id FROM audit_log WHERE firm_id = $1 ORDER BY created_at DESC, id DESC`,
      [firmId],
    );
    expect(paged).toEqual(sorted.map((row) => row.id));
    expect(paged.length).toBeGreaterThanOrEqual(72);
  });

  it('pages the trail exactly with rows far from their date: in the default partition, in a month partition, with no date', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const trail = app.moduleRef.get(AuditTrailService);
    const [{ id: firmId }] = await q<{ id: string }>(
      `INSERT INTO firms (name) VALUES ('strays') RETURNING id`,
    );
    // five rows a month for six months, ids of their dates, one in three 'download_cma'
    for (let offset = -6; offset <= -1; offset++) {
      await q(
        `INSERT INTO audit_log (id, firm_id, action, entity_type, created_at)
         SELECT ${V7('t.at')}, $2, CASE WHEN i % 3 = 0 THEN 'download_cma' ELSE 'upload_file' END,
                'uploaded_file', t.at
           FROM generate_series(1, 5) i, LATERAL (SELECT $1::timestamptz + i * interval '2 days' AS at) t`,
        [month(offset), firmId],
      );
    }
    const at = (offset: number, days: number) =>
      new Date(month(offset).getTime() + days * 86_400_000);
    // months one after another, none flagged: the default partition's ids before and after them
    const months = (
      await q<{ month: Date }>(
        `SELECT month FROM logging_log_month WHERE log = 'audit_log' ORDER BY month`,
      )
    ).map((row) => row.month.getTime());
    const first = months[0];
    const last = new Date(months[months.length - 1]);
    const afterLast = Date.UTC(
      last.getUTCFullYear(),
      last.getUTCMonth() + 1,
      1,
    );
    const ranges = async () =>
      (
        await one<{ ranges: string[] }>(
          `SELECT logging_id_ranges('audit_log', NULL, NULL)::text[] AS ranges`,
        )
      ).ranges;
    expect(await ranges()).toEqual([
      uuidFloor(0),
      uuidFloor(first),
      uuidFloor(afterLast),
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
    ]);
    const far = {
      // an id of no month (not the module's): the default partition
      random: 'f0000000-0000-4000-8000-00000000a001',
      // the largest id: the default partition, past every range's end
      top: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
      // an id of five months ago dated last month: five months ago's partition
      early: uuidV7(at(-5, 10).getTime() * 1000),
      // an id of four months ago written now by the application's role: four months ago's partition
      late: uuidV7(at(-4, 1).getTime() * 1000),
      // a row of the owner's dated two months ahead, with an id of that date: that month's partition
      ahead: uuidV7(at(2, 1).getTime() * 1000),
    };
    await q(
      `INSERT INTO audit_log (id, firm_id, action, entity_type, created_at) VALUES
         ($1, $4, 'upload_file', 'uploaded_file', $5), ($2, $4, 'download_cma', 'uploaded_file', $6),
         ($3, $4, 'upload_file', 'uploaded_file', $7), (gen_random_uuid(), $4, 'upload_file', 'uploaded_file', NULL),
         ($8, $4, 'upload_file', 'uploaded_file', $9)`,
      [
        far.random,
        far.top,
        far.early,
        firmId,
        at(-3, 5),
        at(-2, 1),
        at(-1, 3),
        far.ahead,
        at(2, 1),
      ],
    );
    const client = await least.connect();
    await client.query(
      `INSERT INTO audit_log (id, firm_id, action, entity_type) VALUES ($1, $2, 'upload_file', 'uploaded_file')`,
      [far.late, firmId],
    );
    expect(await where('audit_log', far.random)).toBe('audit_log_default');
    expect(await where('audit_log', far.top)).toBe('audit_log_default');
    expect(await where('audit_log', far.early)).toBe(
      `audit_log_p${suffix(month(-5))}`,
    );
    expect(await where('audit_log', far.late)).toBe(
      `audit_log_p${suffix(month(-4))}`,
    );
    expect(await where('audit_log', far.ahead)).toBe(
      `audit_log_p${suffix(month(2))}`,
    );
    // the three months are flagged, by the trigger of their partition, whoever wrote the row
    const flagged = await q<{ month: Date }>(
      `SELECT month FROM logging_log_month WHERE log = 'audit_log' AND strays ORDER BY month`,
    );
    expect(flagged.map((row) => row.month)).toEqual([
      month(-5),
      month(-4),
      month(2),
    ]);
    // and each flagged month's ids are read with them
    expect(await ranges()).toEqual([
      uuidFloor(0),
      uuidFloor(first),
      ...[-5, -4, 2].flatMap((offset) => [
        uuidFloor(month(offset).getTime()),
        uuidFloor(month(offset + 1).getTime()),
      ]),
      uuidFloor(afterLast),
      far.top,
    ]);

    /** Every page of `query`, `limit` entries a page, against ORDER BY over the whole log. */
    const pagesMatch = async (
      query: { from?: Date; to?: Date; action?: string },
      limit: number,
      where: string,
      parameters: unknown[],
    ) => {
      const paged = (
        await everyTrailPage(trail, { firmId, limit, ...query })
      ).items.map((item) => item.id);
      const sorted = await q<{ id: string }>(
        `SELECT id FROM audit_log WHERE firm_id = $1 ${where} ORDER BY created_at DESC, id DESC`,
        [firmId, ...parameters],
      );
      expect(paged).toEqual(sorted.map((row) => row.id));
      return paged;
    };
    for (const limit of [2, 5, 100]) {
      const all = await pagesMatch({}, limit, '', []);
      // the row with no date first, as ORDER BY created_at DESC has it; every far row in its place
      expect(all).toHaveLength(36);
      expect(all).toEqual(expect.arrayContaining(Object.values(far)));
    }
    // the function's own order, window after window, with every far row in its place
    const raw = await q<{ id: string }>(
      `SELECT id FROM logging_audit_page($1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100)`,
      [firmId],
    );
    expect(raw.map((row) => row.id)).toEqual(await pagesMatch({}, 100, '', []));
    const lastMonth = { from: month(-1), to: month(0) };
    const inLastMonth = await pagesMatch(
      lastMonth,
      2,
      'AND created_at >= $2 AND created_at < $3',
      [lastMonth.from, lastMonth.to],
    );
    expect(inLastMonth).toContain(far.early);
    const downloads = await pagesMatch(
      { action: 'download_cma' },
      3,
      `AND action = $2`,
      ['download_cma'],
    );
    expect(downloads).toContain(far.top);
    // a partition made by hand, past the functions that keep logging_log_month: every id is read
    await q(
      `CREATE TABLE audit_log_by_hand PARTITION OF audit_log
         FOR VALUES FROM ('f1000000-0000-0000-0000-000000000000') TO ('f2000000-0000-0000-0000-000000000000')`,
    );
    expect(
      await one(
        `SELECT logging_id_ranges('audit_log', NULL, NULL)::text[] AS ranges`,
      ),
    ).toEqual({ ranges: [uuidFloor(0), far.top] });
    await pagesMatch({}, 5, '', []);
    await q(`DROP TABLE audit_log_by_hand`);
    // the months retired below count the three firms of the setup only
    await q(`DELETE FROM firms WHERE id = $1`, [firmId]);
  });

  it('pages past rows with no date (only the owner writes them): first, by id, then the dated ones', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const trail = app.moduleRef.get(AuditTrailService);
    const [{ id: firmId }] = await q<{ id: string }>(
      `INSERT INTO firms (name) VALUES ('undated') RETURNING id`,
    );
    await q(UNDATED_AND_DATED_ROWS, [firmId, month(-1)]);
    const sorted = await q<{ id: string }>(
      `SELECT id FROM audit_log WHERE firm_id = $1 ORDER BY created_at DESC, id DESC`,
      [firmId],
    );
    // the function gives its rows in the trail's order itself (the service sorts only if not)
    const raw = await q<{ id: string }>(
      `SELECT id FROM logging_audit_page($1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100)`,
      [firmId],
    );
    expect(raw.map((row) => row.id)).toEqual(sorted.map((row) => row.id));
    for (const limit of [1, 2, 4]) {
      const { items } = await everyTrailPage(trail, { firmId, limit });
      expect(items.map((item) => item.id)).toEqual(sorted.map((row) => row.id));
      expect(items.map((item) => item.createdAt === null)).toEqual(
        UNDATED_FIRST,
      );
    }
    await q(`DELETE FROM firms WHERE id = $1`, [firmId]);
  });

  it('tells a row far from its date with either body of logging_id_stray, each holding what the reads rely on', async () => {
    const bodies = Object.entries(ID_STRAY_BODIES);
    for (const [name, body] of bodies) {
      await q(
        `CREATE FUNCTION pg_temp.stray_${name}(id uuid, at timestamptz) RETURNS boolean
           LANGUAGE sql IMMUTABLE AS $$ ${body} $$`,
      );
    }
    const base = Date.UTC(2026, 10, 30, 23, 59, 59, 999);
    const hour = 3_600_000;
    const offsets = [
      0,
      1,
      999,
      hour,
      12 * hour - 1,
      12 * hour,
      12 * hour + 1,
      5 * 24 * hour,
    ];
    const cases: [string, Date | null][] = [];
    for (const offset of [...offsets, ...offsets.map((o) => -o)]) {
      cases.push([uuidV7(base * 1000), new Date(base + offset)]);
    }
    cases.push(
      [uuidV7(base * 1000), null],
      ['f0000000-0000-4000-8000-000000000001', new Date(base)],
      // a version-4 id whose first 48 bits are its date's millisecond
      [`${uuidFloor(base).slice(0, 14)}4000-8000-000000000001`, new Date(base)],
    );
    const { rows } = await owner.query<Record<string, boolean>>(
      `SELECT ${bodies.map(([name]) => `pg_temp.stray_${name}(c.id, c.at) AS "${name}"`).join(', ')},
              logging_id_stray(c.id, c.at) AS installed
         FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, at)`,
      [cases.map(([id]) => id), cases.map(([, at]) => at)],
    );
    const first48 = (id: string) =>
      parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    rows.forEach((row, i) => {
      const [id, at] = cases[i];
      const distance =
        at === null ? Infinity : Math.abs(first48(id) - at.getTime());
      for (const [name] of bodies) {
        // false only for a row whose id is within 12 hours of its date
        if (!row[name])
          expect([name, i, distance < 12 * hour]).toEqual([name, i, true]);
        // a UUIDv7 within 12 hours either way, strictly, is near by both
        if (distance < 12 * hour - 1 && id.charAt(14) === '7') {
          expect([name, i, row[name]]).toEqual([name, i, false]);
        }
      }
      // PostgreSQL 17 and later install the body of the built-in uuid functions
      expect(row.installed).toBe(row.uuidFunctions);
    });
    // far by both bodies: six ids 12 hours or more away, no date, an id of no date; by the
    // built-in functions alone, the version-4 id of its date
    expect(rows.filter((row) => row.uuidFunctions)).toHaveLength(9);
  });

  it("reports a range's usage exactly with rows far from their date, reading only the partitions their ids can be in", async () => {
    const app = suite.own(await loggingApp(suite.url));
    const reports = app.moduleRef.get(LlmUsageReportService);
    const [{ id: firmId }] = await q<{ id: string }>(
      `INSERT INTO firms (name) VALUES ('usage strays') RETURNING id`,
    );
    const insert = (id: string | null, at: Date, cost: string) =>
      q(
        `INSERT INTO llm_usage_log (id, firm_id, model, task_type, input_tokens, output_tokens, cost_usd, created_at)
         VALUES (coalesce($1::uuid, ${V7('$2::timestamptz')}), $3, 'gemini-3-flash', 'extraction', 10, 1, $4, $2)`,
        [id, at, firmId, cost],
      );
    const inLastMonth = (days: number) =>
      new Date(month(-1).getTime() + days * 86_400_000 + 3_600_000);
    await insert(null, inLastMonth(2), '0.000100');
    await insert(null, inLastMonth(9), '0.000200');
    // an id of no month, and one of three months ago: the default partition, and that month's
    await insert(
      'f0000000-0000-4000-8000-00000000b001',
      inLastMonth(4),
      '0.000400',
    );
    await insert(
      uuidV7(month(-3).getTime() * 1000 + 5e9),
      inLastMonth(6),
      '0.000800',
    );
    const range = { firmId, from: month(-1), to: month(0) };
    const [summary] = await reports.summary(range);
    expect(summary).toMatchObject({ calls: 4, costUsd: '0.001500' });
    const expensive = await reports.mostExpensive({ ...range, limit: 3 });
    expect(expensive.map((call) => call.costUsd)).toEqual([
      '0.000800',
      '0.000400',
      '0.000200',
    ]);
    // the statement of the range reads its month and the days either side, the default partition
    // and the flagged months (three months ago's, and any an earlier test flagged), nothing else
    const flagged = await q<{ part: string }>(
      `SELECT 'llm_usage_log_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM') AS part
         FROM logging_log_month WHERE log = 'llm_usage_log' AND strays`,
    );
    expect(flagged.map((row) => row.part)).toContain(
      `llm_usage_log_p${suffix(month(-3))}`,
    );
    const ids = await idCondition(
      (sql, parameters) => q(sql, parameters),
      'llm_usage_log',
      range.from,
      range.to,
    );
    const raw = summaryStatement(range, ids);
    expect(await one<{ calls: string }>(raw.sql, raw.parameters)).toMatchObject(
      { calls: '4' },
    );
    const plan = JSON.stringify(
      await q(`EXPLAIN (FORMAT JSON) ${raw.sql}`, raw.parameters),
    );
    const read = [...plan.matchAll(/"Relation Name":"(llm_usage_log_\w+)"/g)]
      .map((m) => m[1])
      .sort();
    expect([...new Set(read)]).toEqual(
      [
        ...new Set([
          'llm_usage_log_default',
          ...flagged.map((row) => row.part),
          `llm_usage_log_p${suffix(month(-2))}`,
          `llm_usage_log_p${suffix(month(-1))}`,
          `llm_usage_log_p${suffix(month(0))}`,
        ]),
      ].sort(),
    );
    await q(`DELETE FROM firms WHERE id = $1`, [firmId]);
  });

  it('reports a month the same from the rollups and the raw rows, and the most expensive calls of every month', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const reports = app.moduleRef.get(LlmUsageReportService);
    const { firmId } = firms[2];
    const query = { firmId, from: month(-3), to: month(-2), groupBy: ['day'] };
    const raw = summaryStatement(query as UsageSummaryQuery);
    const rows = await q<{ calls: string }>(raw.sql, raw.parameters);
    const rolled = await reports.summary(query as UsageSummaryQuery);
    expect(rolled.map((row) => String(row.calls))).toEqual(
      rows.map((row) => row.calls),
    );
    expect(rolled.reduce((n, row) => n + row.calls, 0)).toBe(12);
    const expensive = await reports.mostExpensive({ firmId, limit: 20 });
    const expected = await q<{ id: string }>(
      `SELECT id FROM llm_usage_log WHERE firm_id = $1
        ORDER BY cost_usd DESC, created_at DESC NULLS LAST, id DESC LIMIT 20`,
      [firmId],
    );
    expect(expensive.map((call) => call.id)).toEqual(
      expected.map((row) => row.id),
    );
  });

  describe('against the application role (every privilege on every table, partitions included)', () => {
    let role: AppRole;
    let app: Client;

    beforeAll(async () => {
      role = await createAppRole(suite.url, 'crud');
      app = await role.connect();
    });
    afterAll(() => role.drop());

    const current = () => `audit_log_p${suffix(month(0))}`;

    it.each([
      [
        'an INSERT into a partition',
        () =>
          `INSERT INTO ${current()} (firm_id, action, entity_type) VALUES ('${firms[0].firmId}', 'x', 'y')`,
        /rows of audit_log are inserted into audit_log itself/,
      ],
      [
        'a TRUNCATE of a partition',
        () => `TRUNCATE ${current()}`,
        /append-only: TRUNCATE refused/,
      ],
      [
        'a DELETE from a partition',
        () => `DELETE FROM ${current()}`,
        /append-only: DELETE refused/,
      ],
      [
        'an UPDATE of a partition',
        () => `UPDATE ${current()} SET action = 'x'`,
        /append-only: UPDATE refused/,
      ],
      [
        'a DETACH',
        () => `ALTER TABLE audit_log DETACH PARTITION ${current()}`,
        /must be owner/,
      ],
      [
        'a DROP of a partition',
        () => `DROP TABLE ${current()}`,
        /must be owner/,
      ],
      [
        'an INSERT into logging_log_month (a month the reads would skip)',
        () =>
          `INSERT INTO logging_log_month (log, month) VALUES ('audit_log', '2001-01-01T00:00:00Z')`,
        /only the owner of the table may change it/,
      ],
      [
        'an UPDATE of logging_log_month (a flag taken off)',
        () => `UPDATE logging_log_month SET strays = false`,
        /only the owner of the table may change it/,
      ],
      [
        'a DELETE from logging_log_month',
        () => `DELETE FROM logging_log_month`,
        /only the owner of the table may change it/,
      ],
      [
        'a TRUNCATE of logging_log_month',
        () => `TRUNCATE logging_log_month`,
        /TRUNCATE refused/,
      ],
      [
        'a month retired inside the retention floor',
        () =>
          `SELECT * FROM logging_partition_retire('audit_log', '${month(0).toISOString()}')`,
        /inside the retention floor/,
      ],
    ])('refuses %s', async (_, sql, message) => {
      const error = await refusal(app, sql());
      expect(error.code).toBe('42501');
      expect(error.message).toMatch(message);
    });

    it('writes through the log, into the partition of the month', async () => {
      const { rows } = await app.query<{ part: string }>(
        `INSERT INTO audit_log (firm_id, action, entity_type) VALUES ($1, 'upload_file', 'uploaded_file')
         RETURNING tableoid::regclass::text AS part`,
        [firms[1].firmId],
      );
      expect(rows[0].part).toMatch(/^audit_log_(default|p\d{6})$/);
    });

    it('lets a role granted only what the docs list (the grants kept by the conversion) write and make months', async () => {
      const client = await least.connect();
      await client.query(
        `INSERT INTO llm_usage_log (id, firm_id, model, task_type, input_tokens, output_tokens, cost_usd)
         VALUES ($1, $2, 'gemini-3-flash', 'extraction', 1, 1, 0.000001)`,
        [uuidV7(Date.now() * 1000), firms[1].firmId],
      );
      const { rows } = await client.query<{ made: number }>(
        `SELECT logging_partitions_ensure('llm_usage_log', 7) AS made`,
      );
      expect(rows[0].made).toBe(1);
    });
  });

  describe('retiring a month', () => {
    it('drops the partition: its rows leave, rows dated after the month stay, the rollups keep it', async () => {
      const oldest = month(-6);
      // recorded in the month's last millisecond, written just after its end
      const edge = uuidV7((month(-5).getTime() - 1) * 1000);
      await q(
        `INSERT INTO llm_usage_log (id, firm_id, model, task_type, input_tokens, output_tokens, cost_usd, created_at)
         VALUES ($1, $2, 'gemini-3-flash', 'extraction', 1, 1, 0.000001, $3)`,
        [edge, firms[0].firmId, new Date(month(-5).getTime() + 500)],
      );
      expect(await where('llm_usage_log', edge)).toBe(
        `llm_usage_log_p${suffix(oldest)}`,
      );
      const rolled = await rollups();
      const app = suite.own(await loggingApp(suite.url));
      const retired = await app.moduleRef
        .get(LogPartitionService)
        .retireMonth('llm_usage_log', oldest, { expectRows: 36 });
      expect(retired).toMatchObject({
        dropped: 36,
        moved: 1,
        deleted: 0,
        seals: 0,
      });
      expect(await partitions('llm_usage_log')).not.toContain(
        `llm_usage_log_p${suffix(oldest)}`,
      );
      expect(await where('llm_usage_log', edge)).toBe('llm_usage_log_default');
      const { n } = await one<{ n: number }>(
        `SELECT count(*)::int AS n FROM llm_usage_log WHERE created_at < $1`,
        [month(-5)],
      );
      expect(n).toBe(0);
      expect(await rollups()).toEqual(rolled);
      const { purged } = await one<{ purged: Date }>(
        `SELECT purged_before AS purged FROM logging_retention_horizon WHERE table_name = 'llm_usage_log'`,
      );
      expect(purged).toEqual(month(-5));
    });

    it.each([
      ['a month that is not the oldest', () => month(-4), {}, /oldest first/],
      [
        'a month inside the retention floor',
        () => month(0),
        {},
        /retention floor/,
      ],
      [
        'another row count than expected',
        () => month(-5),
        { expectRows: 1 },
        /37 rows of llm_usage_log would leave .* and 1 were expected/,
      ],
      [
        'an instant that is not a month start',
        () => new Date(month(-5).getTime() + 86_400_000),
        {},
        /first instant of a UTC month/,
      ],
    ])('refuses %s, and nothing leaves', async (_, at, options, message) => {
      const app = suite.own(await loggingApp(suite.url));
      const service = app.moduleRef.get(LogPartitionService);
      const kept = await contents();
      const error = await service
        .retireMonth('llm_usage_log', at(), options)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogPartitionError);
      expect((error as Error).message).toMatch(message);
      expect(await contents()).toEqual(kept);
    });

    it('LogRetentionService.purge drops the whole months before its cutoff and deletes the rest of the partial month row by row', async () => {
      const app = suite.own(await loggingApp(suite.url));
      const cutoff = new Date(month(-4).getTime() + 12 * 86_400_000);
      const { due } = await one<{ due: number }>(
        `SELECT count(*)::int AS due FROM llm_usage_log WHERE created_at < $1`,
        [cutoff],
      );
      const purged = await app.moduleRef
        .get(LogRetentionService)
        .purge('llm_usage_log', cutoff);
      expect(purged).toBe(due);
      const names = await partitions('llm_usage_log');
      expect(names).not.toContain(`llm_usage_log_p${suffix(month(-5))}`);
      expect(names).toContain(`llm_usage_log_p${suffix(month(-4))}`);
      const { n } = await one<{ n: number }>(
        `SELECT count(*)::int AS n FROM llm_usage_log WHERE created_at < $1`,
        [cutoff],
      );
      expect(n).toBe(0);
    });

    it('on a sealed log, a month leaves whole with a tombstone in each firm’s chain, and the chains still verify', async () => {
      const app = suite.own(await loggingApp(suite.url));
      const seals = app.moduleRef.get(AuditSealService);
      await seals.seal({ log: 'audit_log' });
      const purged = await seals.purge('audit_log', month(-4));
      expect(purged.rows).toBe(72);
      expect(purged.seals).toBe(6);
      expect(await partitions('audit_log')).not.toContain(
        `audit_log_p${suffix(month(-5))}`,
      );
      for (const { firmId } of firms) {
        const chain = await seals.list({ firmId, log: 'audit_log' });
        expect(chain[0].kind).toBe('tombstone');
        expect(chain[0].rowCount).toBe(24);
      }
      await app.audit.record({
        firmId: firms[2].firmId,
        action: 'download_cma',
        entityType: 'generated_file',
      });
      await seals.seal({ log: 'audit_log' });
      const verdicts = await seals.verifyAll({ log: 'audit_log' });
      expect(verdicts.filter((verdict) => !verdict.ok)).toEqual([]);
      expect(verdicts.length).toBeGreaterThanOrEqual(3);
    });

    describe('with its archive (docs/archives.md, "After the export, the month can leave")', () => {
      const ym = (at: Date) => at.toISOString().slice(0, 7);
      let scratch: string;
      beforeAll(async () => {
        scratch = await mkdtemp(join(tmpdir(), 'logging-retire-'));
      });
      afterAll(() => rm(scratch, { recursive: true, force: true }));

      /** audit_log's oldest month, its archive exported once (the first time asked). */
      let exported:
        { oldest: LogMonth; next: LogMonth; dir: string } | undefined;
      async function archived() {
        const app = suite.own(await loggingApp(suite.url));
        const service = app.moduleRef.get(LogPartitionService);
        const seals = app.moduleRef.get(AuditSealService);
        const archives = app.moduleRef.get(AuditArchiveService);
        if (!exported) {
          await seals.seal({ log: 'audit_log' });
          const [oldest, next] = await service.months('audit_log');
          const dir = join(scratch, ym(oldest.month));
          await archives.export({
            month: ym(oldest.month),
            log: 'audit_log',
            dir,
          });
          exported = { oldest, next, dir };
        }
        return { service, seals, archives, ...exported };
      }

      it('refuses, leaving everything, an archive that does not confirm the month: one byte edited, another month, another row count', async () => {
        const { service, archives, oldest, next, dir } = await archived();
        const edited = join(scratch, 'edited');
        await cp(dir, edited, { recursive: true });
        const rows = join(edited, 'rows.jsonl');
        const text = await readFile(rows, 'utf8');
        const at = text.indexOf('create_project');
        await writeFile(
          rows,
          text.slice(0, at) + 'C' + text.slice(at + 1),
          'utf8',
        );
        const otherMonth = join(scratch, 'other-month');
        await archives.export({
          month: ym(next.month),
          log: 'audit_log',
          dir: otherMonth,
        });
        const kept = await contents();
        const seals = await q(
          `SELECT * FROM log_seal ORDER BY log, firm_id, seq`,
        );
        for (const [options, message] of [
          [
            { archive: { dir: edited } },
            /the archive in .* refuses it: the archive does not verify: row-edited in rows\.jsonl/,
          ],
          [
            { archive: { dir: otherMonth } },
            new RegExp(`the archive in .* is of audit_log ${ym(next.month)}`),
          ],
          [
            { archive: { dir }, expectRows: 1 },
            /expectRows is 1, and the archive in .* holds 36 rows/,
          ],
          [{ archive: { dir: '' } }, /archive must be \{ dir/],
        ] as const) {
          const error = await service
            .retireMonth('audit_log', oldest.month, options)
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(LogPartitionError);
          expect((error as Error).message).toMatch(message);
        }
        expect(await contents()).toEqual(kept);
        expect(
          await q(`SELECT * FROM log_seal ORDER BY log, firm_id, seq`),
        ).toEqual(seals);
        expect(await partitions('audit_log')).toContain(oldest.table);
      });

      it("retires the month after confirm: exactly the archive's rows leave, each firm's tombstone is the archive's head, the chains and the archive still verify", async () => {
        const { service, seals, oldest, dir } = await archived();
        const manifest = JSON.parse(
          await readFile(join(dir, 'manifest.json'), 'utf8'),
        ) as {
          manifestDigest: string;
          rows: { total: number; inLaterSeals: number };
          firms: { firmId: string; lastSeq: number; digest: string }[];
        };
        expect(manifest.rows).toMatchObject({ total: 36, inLaterSeals: 0 });
        const retired = await service.retireMonth('audit_log', oldest.month, {
          archive: { dir, manifestDigest: manifest.manifestDigest },
        });
        expect(retired.dropped + retired.deleted).toBe(36);
        expect(retired.archive).toEqual({
          dir,
          manifestDigest: manifest.manifestDigest,
          rows: 36,
          heldByLaterSeals: 0,
        });
        expect(await partitions('audit_log')).not.toContain(oldest.table);
        const { n } = await one<{ n: number }>(
          `SELECT count(*)::int AS n FROM audit_log WHERE created_at < $1`,
          [(await service.months('audit_log'))[0].month],
        );
        expect(n).toBe(0);
        for (const head of manifest.firms) {
          const chain = await seals.list({
            firmId: head.firmId,
            log: 'audit_log',
          });
          expect(chain[0]).toMatchObject({
            kind: 'tombstone',
            seq: head.lastSeq,
            digest: head.digest,
          });
        }
        const verdicts = await seals.verifyAll({ log: 'audit_log' });
        expect(verdicts.filter((verdict) => !verdict.ok)).toEqual([]);
        expect(
          await verifyArchive({ dir, manifestDigest: manifest.manifestDigest }),
        ).toMatchObject({ ok: true, rowsChecked: 36 });
      });
    });

    it('refuses a month of a sealed log that no run over every firm has covered', async () => {
      const app = suite.own(await loggingApp(suite.url));
      // seals of one firm alone: the other firms' time in the month is not covered
      await app.moduleRef
        .get(AuditSealService)
        .seal({ log: 'llm_usage_log', firmId: firms[0].firmId });
      const error = await app.moduleRef
        .get(LogPartitionService)
        .retireMonth('llm_usage_log', month(-4))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogPartitionError);
      expect((error as Error).message).toMatch(
        /sealed up to no run over every firm, before the end of the month .*seal first/,
      );
    });
  });
});
