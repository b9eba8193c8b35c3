/**
 * bench/reports: LlmUsageReportService over a large llm_usage_log.
 *
 * For each size in BENCH_ROWS (default "1000000,10000000"), the table is filled anew with that many
 * calls of 100 firms (5 projects each) over twelve months, in time order, the firms interleaved as
 * calls arrive (INSERT ... SELECT ... generate_series; indexes rebuilt afterwards, then VACUUM
 * ANALYZE). Then, for one firm and one calendar month at a time (a different firm and month each
 * run), it times through the service:
 *   - summary without groups, and grouped by day and model,
 *   - mostExpensive of the month, and of the firm's whole history (limit 10),
 * and, as the baseline measured in the same run, the ungrouped summary's statement with index
 * scans disabled in its session: the full (parallel) sequential scan a report without a usable
 * index costs. Each is measured twice: with the table spec's indexes only, and with the composite
 * (firm_id, created_at) index added. p50 and p95 over BENCH_RUNS runs (default 20; the baseline
 * BENCH_BASELINE_RUNS, default 5). Prints them, with the plan's index names, and writes
 * bench/results/reports.json.
 *
 *   npm run bench:reports
 *   BENCH_ROWS=1000000 npm run bench:reports
 *
 * DATABASE_URL picks the server; otherwise the embedded one of the demo. It works in a database of
 * its own, `logging_bench_reports`, dropped and migrated anew at the start.
 */
import 'reflect-metadata';
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
import { freshDatabase, machineLine, writeResults } from './support.js';

const SIZES = (process.env.BENCH_ROWS ?? '1000000,10000000')
  .split(',')
  .map((s) => Number(s.trim()));
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const BASELINE_RUNS = Number(process.env.BENCH_BASELINE_RUNS ?? 5);
const FIRMS = 100;
const PROJECTS_PER_FIRM = 5;
const START = '2025-01-01T00:00:00Z';
const COMPOSITE = 'idx_llm_usage_log_firm_id_created_at';
const COMPOSITE_SQL = `CREATE INDEX "${COMPOSITE}" ON "llm_usage_log" ("firm_id", "created_at")`;

interface Timing {
  query: string;
  runs: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
  indexes: string[];
  ratioToBaseline?: number;
}

interface Phase {
  rows: number;
  indexes: 'spec' | 'spec + (firm_id, created_at)';
  timings: Timing[];
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** Fills llm_usage_log anew with `rows` calls; returns the seconds it took. */
async function fill(client: Client, rows: number): Promise<number> {
  const start = Date.now();
  const { rows: defs } = await client.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
      WHERE tablename = 'llm_usage_log' AND indexname <> 'pk_llm_usage_log'`,
  );
  // Triggers are skipped while loading: the foreign keys' (every firm and project id comes from the
  // tables they reference; the constraints stay declared) and the append-only guard's, which
  // refuses the TRUNCATE that empties this bench's own database between sizes.
  await client.query(`SET session_replication_role = replica`);
  await client.query('TRUNCATE llm_usage_log');
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
  await client.query(`SET session_replication_role = DEFAULT`);
  await client.query(
    'ALTER TABLE llm_usage_log ADD CONSTRAINT pk_llm_usage_log PRIMARY KEY (id)',
  );
  for (const { def } of defs) await client.query(def);
  await client.query('VACUUM ANALYZE llm_usage_log');
  return (Date.now() - start) / 1000;
}

async function indexesOf(
  client: Client,
  sql: string,
  parameters: unknown[],
): Promise<string[]> {
  const { rows } = await client.query<{ 'QUERY PLAN': unknown }>(
    `EXPLAIN (FORMAT JSON) ${sql}`,
    parameters,
  );
  const names = new Set<string>();
  const walk = (node: Record<string, unknown>) => {
    if (node['Node Type'] === 'Seq Scan') {
      names.add(`Seq Scan on ${String(node['Relation Name'])}`);
    }
    if (typeof node['Index Name'] === 'string') names.add(node['Index Name']);
    for (const child of (node.Plans as Record<string, unknown>[]) ?? []) {
      walk(child);
    }
  };
  walk((rows[0]['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0].Plan);
  return [...names];
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const server = await resolveDemoDatabase();
  const url = await freshDatabase(server.url, 'logging_bench_reports');
  const setup = await new DataSource(demoDataSourceOptions(url)).initialize();
  await setup.runMigrations();
  await setup.destroy();

  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(
    `INSERT INTO firms (name) SELECT 'firm-' || lpad(f::text, 3, '0') FROM generate_series(1, ${FIRMS}) AS f`,
  );
  await client.query(
    `INSERT INTO cma_projects (firm_id, name)
     SELECT id, 'project-' || p FROM firms, generate_series(1, ${PROJECTS_PER_FIRM}) AS p`,
  );
  const firms = (
    await client.query<{ id: string }>('SELECT id FROM firms ORDER BY name')
  ).rows.map((r) => r.id);
  // The baseline's session: the same statement, without index scans.
  const seqClient = new Client({ connectionString: url });
  await seqClient.connect();
  await seqClient.query(
    'SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off',
  );

  @Module({
    imports: [
      TypeOrmModule.forRoot(demoDataSourceOptions(url)),
      LoggingModule.forRoot({}),
    ],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, {
    logger: ['error', 'warn'],
  });
  const reports = app.get(LlmUsageReportService);

  const database = `${server.description}, PostgreSQL ${
    (await client.query<{ server_version: string }>('SHOW server_version'))
      .rows[0].server_version
  }`;
  console.log(
    `bench/reports: sizes ${SIZES.join(', ')}, ${RUNS} runs (${BASELINE_RUNS} for the baseline), ${machineLine()}, ${database}`,
  );

  /** Run `i`: a different firm and a different month of the twelve. */
  const month = (i: number) => {
    const from = new Date(START);
    from.setUTCMonth(from.getUTCMonth() + (i % 12));
    const to = new Date(from);
    to.setUTCMonth(to.getUTCMonth() + 1);
    return { firmId: firms[(i * 37) % FIRMS], from, to };
  };

  async function time(
    query: string,
    runs: number,
    run: (i: number) => Promise<unknown>,
    plan: { sql: string; parameters: unknown[] },
    planClient: Client = client,
  ): Promise<Timing> {
    await run(runs + 1); // warm-up, another firm
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint();
      await run(i);
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    ms.sort((a, b) => a - b);
    const timing: Timing = {
      query,
      runs,
      p50: percentile(ms, 50),
      p95: percentile(ms, 95),
      min: ms[0],
      max: ms[ms.length - 1],
      indexes: await indexesOf(planClient, plan.sql, plan.parameters),
    };
    console.log(
      `  ${query.padEnd(44)} p50 ${timing.p50.toFixed(2).padStart(9)} ms  p95 ${timing.p95.toFixed(2).padStart(9)} ms  [${timing.indexes.join(', ')}]`,
    );
    return timing;
  }

  async function measure(
    rows: number,
    indexes: Phase['indexes'],
  ): Promise<Phase> {
    console.log(`${rows} rows, indexes: ${indexes}`);
    const timings: Timing[] = [];
    const baselineStatement = (i: number) => summaryStatement(month(i));
    const baseline = await time(
      'baseline: summary, sequential scan',
      BASELINE_RUNS,
      async (i) => {
        const { sql, parameters } = baselineStatement(i);
        await seqClient.query(sql, parameters);
      },
      baselineStatement(0),
      seqClient,
    );
    timings.push(
      await time(
        'summary, no groups',
        RUNS,
        (i) => reports.summary(month(i)),
        summaryStatement(month(0)),
      ),
      await time(
        'summary by day, model',
        RUNS,
        (i) => reports.summary({ ...month(i), groupBy: ['day', 'model'] }),
        summaryStatement({ ...month(0), groupBy: ['day', 'model'] }),
      ),
      await time(
        'mostExpensive, one month, limit 10',
        RUNS,
        (i) => reports.mostExpensive(month(i)),
        mostExpensiveStatement(month(0)),
      ),
      await time(
        'mostExpensive, all time, limit 10',
        RUNS,
        (i) => reports.mostExpensive({ firmId: month(i).firmId }),
        mostExpensiveStatement({ firmId: month(0).firmId }),
      ),
    );
    for (const t of timings) t.ratioToBaseline = baseline.p50 / t.p50;
    console.log(
      `  p50 speed-up over the sequential scan: ${timings.map((t) => `${t.query}: ${t.ratioToBaseline!.toFixed(0)}x`).join('; ')}`,
    );
    return { rows, indexes, timings: [baseline, ...timings] };
  }

  const phases: Phase[] = [];
  const loads: { rows: number; seconds: number; tableMiB: number }[] = [];
  for (const rows of SIZES) {
    const seconds = await fill(client, rows);
    const { rows: size } = await client.query<{ mib: string }>(
      `SELECT pg_total_relation_size('llm_usage_log') / 1048576 AS mib`,
    );
    loads.push({ rows, seconds, tableMiB: Number(size[0].mib) });
    console.log(
      `filled ${rows} rows in ${seconds.toFixed(0)} s (table and indexes: ${size[0].mib} MiB)`,
    );
    // With the spec's indexes only (the composite dropped if the migrations created it), then with it.
    await client.query(`DROP INDEX IF EXISTS "${COMPOSITE}"`);
    await client.query('ANALYZE llm_usage_log');
    phases.push(await measure(rows, 'spec'));
    await client.query(COMPOSITE_SQL);
    await client.query('ANALYZE llm_usage_log');
    phases.push(await measure(rows, 'spec + (firm_id, created_at)'));
  }

  await writeResults('reports', {
    database,
    firms: FIRMS,
    runs: RUNS,
    baselineRuns: BASELINE_RUNS,
    loads,
    phases,
  });
  await app.close();
  await seqClient.end();
  await client.end();
  await server.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
