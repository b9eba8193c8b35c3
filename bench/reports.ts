/**
 * bench/reports: LlmUsageReportService from the daily rollups against the raw-row query.
 *
 * Targets, each in a database of its own:
 *   - `raw-<N>` for each N in BENCH_ROWS (default "1000000,10000000"): llm_usage_log filled with N
 *     calls of 100 firms (5 projects each) over the twelve months of 2025, in time order, the firms
 *     interleaved (INSERT ... SELECT ... generate_series, triggers off, indexes rebuilt after), and
 *     the rollups filled from those rows by one GROUP BY each, as the triggers would have;
 *   - `rollup-100M`: the rollups alone, filled directly at the size 100M raw rows give: 100 firms ×
 *     365 days × 3 models × 4 task types (438,000 rows), and per project × 5 (2,190,000 rows); the
 *     raw log empty.
 * Each run asks about a different firm and month. Timed through the service (validation included):
 * `summary` of a firm-month (no groups; by day and model; by project; from 12:00 on the 1st to
 * 12:00 on the last day, so two partial days come from raw rows) and of the firm-year; the raw-row
 * statement of each (`summaryStatement`, the same answer from llm_usage_log alone) as the baseline in
 * the same run; and `mostExpensive` (raw rows only). p50 and p95 of BENCH_RUNS runs (default 30)
 * after a warm-up; the raw firm-year BENCH_BASELINE_RUNS (default 10).
 *
 *   BENCH_STEP=load npm run bench:reports                 # fill every target (minutes; not timed)
 *   BENCH_STEP=time /work/bin/quiet npm run bench:reports # time them
 *   npm run bench:reports                                 # both
 *
 * BENCH_TARGETS picks targets ("raw-1000000,rollup-100M"). Results merge into
 * bench/results/reports.json per target. DATABASE_URL picks the server; otherwise the embedded one.
 */
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  demoDataSourceOptions,
  resolveDemoDatabase,
} from '../src/demo/database/data-source.js';
import { LlmUsageReportService, LoggingModule } from '../src/logging/index.js';
import {
  mostExpensiveStatement,
  summaryStatement,
} from '../src/logging/llm-usage/llm-usage-report.service.js';
import {
  insertFromRaw,
  ROLLUP_TABLES,
} from '../src/logging/core/rollup-tables.js';
import {
  freshDatabase,
  machineLine,
  serverLine,
  writeResults,
} from './support.js';

const SIZES = (process.env.BENCH_ROWS ?? '1000000,10000000')
  .split(',')
  .map((s) => Number(s.trim()));
const TARGETS = (
  process.env.BENCH_TARGETS ??
  [...SIZES.map((n) => `raw-${n}`), 'rollup-100M'].join(',')
).split(',');
const STEP = process.env.BENCH_STEP ?? 'all';
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const BASELINE_RUNS = Number(process.env.BENCH_BASELINE_RUNS ?? 10);
const FIRMS = 100;
const PROJECTS_PER_FIRM = 5;
const START = '2025-01-01T00:00:00Z';

interface Timing {
  query: string;
  runs: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
  /** The raw-row query's p50 over this one's, for the same question. */
  speedUp?: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

const databaseName = (target: string) =>
  `logging_bench_reports_${target.replace(/\W/g, '_').toLowerCase()}`;

async function seedFirms(client: Client): Promise<void> {
  await client.query(
    `INSERT INTO firms (name) SELECT 'firm-' || lpad(f::text, 3, '0') FROM generate_series(1, ${FIRMS}) AS f`,
  );
  await client.query(
    `INSERT INTO cma_projects (firm_id, name)
     SELECT id, 'project-' || p FROM firms, generate_series(1, ${PROJECTS_PER_FIRM}) AS p`,
  );
}

/** Fills llm_usage_log with `rows` calls, then the rollups from them. */
async function fillRaw(client: Client, rows: number): Promise<void> {
  const { rows: defs } = await client.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
      WHERE tablename = 'llm_usage_log' AND indexname <> 'pk_llm_usage_log'`,
  );
  // Triggers are skipped while loading (the foreign keys': every id comes from the tables they
  // reference; the rollup trigger's: the rollups are filled by one GROUP BY after).
  await client.query(`SET session_replication_role = replica`);
  for (const { name } of defs) await client.query(`DROP INDEX "${name}"`);
  await client.query(
    'ALTER TABLE llm_usage_log DROP CONSTRAINT pk_llm_usage_log',
  );
  await client.query(`SET maintenance_work_mem = '1GB'`);
  await client.query('SELECT setseed(0.42)');
  await client.query(
    `WITH f AS (SELECT array_agg(id ORDER BY name) AS ids FROM firms),
          p AS (SELECT array_agg(p.id ORDER BY f.name, p.name) AS ids
                  FROM cma_projects p JOIN firms f ON f.id = p.firm_id),
          g AS (SELECT i, floor(random() * ${FIRMS})::int AS firm, random() AS r
                  FROM generate_series(1, $1::int) AS i)
     INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
         output_tokens, cost_usd, latency_ms, success, error_message, created_at)
     SELECT f.ids[1 + g.firm],
            CASE WHEN g.r < 0.25 THEN NULL
                 ELSE p.ids[1 + g.firm * ${PROJECTS_PER_FIRM} + (i % ${PROJECTS_PER_FIRM})] END,
            (ARRAY['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3-flash', 'gemini-3.1-pro'])[1 + i % 4],
            (ARRAY['extraction', 'extraction', 'classification', 'validation', 'fallback'])[1 + (i / 4) % 5],
            200 + (i::bigint * 7919) % 8000, 20 + (i::bigint * 331) % 2000,
            ((i::bigint * 7907) % 200000) / 1000000.0,
            150 + (i * 13) % 5000,
            g.r >= 0.02,
            CASE WHEN g.r < 0.02 THEN 'deadline exceeded' END,
            timestamptz '${START}' + (i::float8 / $1) * interval '365 days'
       FROM g, f, p`,
    [rows],
  );
  for (const rollup of ROLLUP_TABLES) {
    await client.query(insertFromRaw(rollup, `"${rollup.source}"`, [], true));
  }
  await client.query(`SET session_replication_role = DEFAULT`);
  await client.query(
    'ALTER TABLE llm_usage_log ADD CONSTRAINT pk_llm_usage_log PRIMARY KEY (id)',
  );
  for (const { def } of defs) await client.query(def);
}

/** The rollups 100M calls a year give 100 firms: every firm, day, model and task type. */
async function fillRollups(client: Client): Promise<void> {
  const keys = `FROM firms f, generate_series(0, 364) AS d,
        unnest(ARRAY['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3.1-pro']) AS m,
        unnest(ARRAY['extraction', 'classification', 'validation', 'fallback']) AS t`;
  const sums = `, 228 + (d % 7), (d % 5), 228 * 4200, 228 * 1000, 228 * 0.100123, true`;
  await client.query(
    `INSERT INTO llm_usage_daily (firm_id, day, model, task_type, calls, failures,
       input_tokens, output_tokens, cost_usd, compacted)
     SELECT f.id, date '2025-01-01' + d, m, t ${sums} ${keys}`,
  );
  await client.query(
    `INSERT INTO llm_usage_daily_project (firm_id, cma_project_id, day, model, task_type, calls,
       failures, input_tokens, output_tokens, cost_usd, compacted)
     SELECT f.id, p.id, date '2025-01-01' + d, m, t ${sums.replace(/228/g, '34')}
       ${keys}, cma_projects p WHERE p.firm_id = f.id`,
  );
}

async function load(adminUrl: string, target: string): Promise<void> {
  const started = Date.now();
  const url = await freshDatabase(adminUrl, databaseName(target));
  const setup = await new DataSource(demoDataSourceOptions(url)).initialize();
  await setup.runMigrations();
  await setup.destroy();
  const client = new Client({ connectionString: url });
  await client.connect();
  await seedFirms(client);
  if (target.startsWith('raw-')) await fillRaw(client, Number(target.slice(4)));
  else await fillRollups(client);
  await client.query('VACUUM ANALYZE');
  const { rows } = await client.query<{ raw: string; rollups: string }>(
    `SELECT pg_total_relation_size('llm_usage_log') / 1048576 AS raw,
            (pg_total_relation_size('llm_usage_daily') + pg_total_relation_size('llm_usage_daily_project')) / 1048576 AS rollups`,
  );
  await client.end();
  console.log(
    `${target}: loaded in ${((Date.now() - started) / 1000).toFixed(0)} s (raw ${rows[0].raw} MiB, usage rollups ${rows[0].rollups} MiB)`,
  );
}

async function time(
  adminUrl: string,
  target: string,
): Promise<Record<string, unknown>> {
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName(target)}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  const firms = (
    await client.query<{ id: string }>('SELECT id FROM firms ORDER BY name')
  ).rows.map((r) => r.id);
  const counts = (
    await client.query<{ raw: string; daily: string; project: string }>(
      `SELECT (SELECT count(*) FROM llm_usage_log) AS raw, (SELECT count(*) FROM llm_usage_daily) AS daily,
              (SELECT count(*) FROM llm_usage_daily_project) AS project`,
    )
  ).rows[0];
  @Module({
    imports: [
      TypeOrmModule.forRoot(demoDataSourceOptions(url.toString())),
      LoggingModule.forRoot({ rollups: { compactIntervalMs: 0 } }),
    ],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, {
    logger: ['error', 'warn'],
  });
  const reports = app.get(LlmUsageReportService);
  console.log(
    `${target}: ${counts.raw} raw rows, ${counts.daily} + ${counts.project} rollup rows`,
  );

  const month = (i: number) => {
    const from = new Date(START);
    from.setUTCMonth(from.getUTCMonth() + (i % 12));
    const to = new Date(from);
    to.setUTCMonth(to.getUTCMonth() + 1);
    return { firmId: firms[(i * 37) % FIRMS], from, to };
  };
  const partialMonth = (i: number) => {
    const { firmId, from, to } = month(i);
    return {
      firmId,
      from: new Date(from.getTime() + 12 * 3_600_000),
      to: new Date(to.getTime() - 12 * 3_600_000),
    };
  };
  const year = (i: number) => ({
    firmId: firms[(i * 37) % FIRMS],
    from: new Date(START),
    to: new Date('2026-01-01T00:00:00Z'),
  });

  async function timed(
    query: string,
    runs: number,
    run: (i: number) => Promise<unknown>,
  ): Promise<Timing> {
    await run(runs + 1);
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint();
      await run(i);
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    ms.sort((a, b) => a - b);
    const t: Timing = {
      query,
      runs,
      p50: percentile(ms, 50),
      p95: percentile(ms, 95),
      min: ms[0],
      max: ms[ms.length - 1],
    };
    console.log(
      `  ${query.padEnd(46)} p50 ${t.p50.toFixed(2).padStart(9)} ms  p95 ${t.p95.toFixed(2).padStart(9)} ms`,
    );
    return t;
  }
  const raw = (q: Parameters<typeof summaryStatement>[0]) => {
    const { sql, parameters } = summaryStatement(q);
    return client.query(sql, parameters);
  };
  const withRaw = counts.raw !== '0';
  const pairs: [
    string,
    (i: number) => Parameters<typeof summaryStatement>[0],
    number,
  ][] = [
    ['firm-month', month, RUNS],
    [
      'firm-month by day, model',
      (i) => ({ ...month(i), groupBy: ['day', 'model'] }),
      RUNS,
    ],
    [
      'firm-month by project',
      (i) => ({ ...month(i), groupBy: ['project'] }),
      RUNS,
    ],
    ['firm-month, partial first and last day', partialMonth, RUNS],
    ['firm-year', year, RUNS],
    ['firm-year by day', (i) => ({ ...year(i), groupBy: ['day'] }), RUNS],
  ];
  const timings: Timing[] = [];
  for (const [name, query, runs] of pairs) {
    const rolled = await timed(`summary (rollups): ${name}`, runs, (i) =>
      reports.summary(query(i)),
    );
    timings.push(rolled);
    if (withRaw) {
      const baseline = await timed(
        `raw rows: ${name}`,
        name.startsWith('firm-year') ? BASELINE_RUNS : runs,
        (i) => raw(query(i)),
      );
      rolled.speedUp = baseline.p50 / rolled.p50;
      timings.push(baseline);
    }
  }
  if (withRaw) {
    const expensive = (q: Parameters<typeof mostExpensiveStatement>[0]) => {
      const { sql, parameters } = mostExpensiveStatement(q);
      return client.query(sql, parameters);
    };
    timings.push(
      await timed('mostExpensive (raw rows): firm-month', RUNS, (i) =>
        expensive(month(i)),
      ),
      await timed('mostExpensive (raw rows): all time', BASELINE_RUNS, (i) =>
        expensive({ firmId: month(i).firmId }),
      ),
    );
  }
  await app.close();
  await client.end();
  return {
    rawRows: Number(counts.raw),
    rollupRows: Number(counts.daily),
    projectRollupRows: Number(counts.project),
    timings,
  };
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const server = await resolveDemoDatabase();
  if (STEP === 'load' || STEP === 'all') {
    for (const target of TARGETS) await load(server.url, target);
  }
  if (STEP === 'time' || STEP === 'all') {
    const database = await serverLine(server);
    console.log(
      `bench/reports: ${TARGETS.join(', ')}; ${RUNS} runs (${BASELINE_RUNS} for raw firm-years), ${machineLine()}, ${database}`,
    );
    const previous = await readFile(
      new URL('../../bench/results/reports.json', import.meta.url),
      'utf8',
    ).then(
      (text) => JSON.parse(text) as { targets?: Record<string, unknown> },
      () => ({ targets: {} }),
    );
    const targets: Record<string, unknown> = { ...(previous.targets ?? {}) };
    for (const target of TARGETS) {
      targets[target] = await time(server.url, target);
    }
    await writeResults('reports', { database, runs: RUNS, targets });
  }
  await server.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
