/**
 * bench/dashboard: the dashboard's endpoints over HTTP, for one firm-month, at BENCH_ROWS rows
 * (default 10,000,000) in llm_usage_log and as many in audit_log: 100 firms over twelve months,
 * in time order, firms interleaved (INSERT ... SELECT ... generate_series; indexes rebuilt after,
 * then VACUUM ANALYZE).
 *
 * Two phases, so the loading stays outside a measured run:
 *
 *   BENCH_PHASE=load npm run bench:dashboard                 fills `logging_bench_dashboard`
 *   BENCH_PHASE=measure /work/bin/quiet npm run bench:dashboard   times the endpoints
 *
 * (no BENCH_PHASE: both). Each run picks another firm and month; p50 and p95 over BENCH_RUNS
 * (default 30) of each endpoint, and, as the baseline measured in the same run, `api/viewer` of a
 * firm viewer: the same app, hook and HTTP round trip, no report. Writes bench/results/dashboard.json.
 */
import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  demoDataSourceOptions,
  resolveDemoDatabase,
} from '../src/demo/database/data-source.js';
import { LoggingDashboardModule } from '../src/logging/dashboard/index.js';
import { LoggingModule } from '../src/logging/index.js';
import { freshDatabase, machineLine, writeResults } from './support.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const PHASE = process.env.BENCH_PHASE ?? 'both';
const FIRMS = 100;
const START = '2025-01-01T00:00:00Z';
const NAME = 'logging_bench_dashboard';

async function fill(url: string): Promise<number> {
  const started = Date.now();
  const setup = new DataSource(demoDataSourceOptions(url));
  await setup.initialize();
  await setup.runMigrations();
  await setup.destroy();
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(
    `INSERT INTO firms (name) SELECT 'firm ' || lpad(i::text, 3, '0') FROM generate_series(1, ${FIRMS}) i`,
  );
  await client.query(`SET maintenance_work_mem = '1GB'`);
  // Foreign keys and the append-only guard are triggers: off while loading, declared all along.
  await client.query(`SET session_replication_role = replica`);
  for (const table of ['llm_usage_log', 'audit_log']) {
    const { rows: defs } = await client.query<{ name: string; def: string }>(
      `SELECT indexname AS name, indexdef AS def FROM pg_indexes
        WHERE tablename = $1 AND indexname NOT LIKE 'pk_%'`,
      [table],
    );
    for (const { name } of defs) await client.query(`DROP INDEX "${name}"`);
    const values =
      table === 'llm_usage_log'
        ? `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens,
               cost_usd, latency_ms, success, error_message, created_at)
           SELECT f.ids[1 + i % ${FIRMS}],
                  (ARRAY['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3-flash', 'gemini-3.1-pro'])[1 + (i / ${FIRMS}) % 4],
                  (ARRAY['extraction', 'classification', 'validation'])[1 + (i / 7) % 3],
                  200 + (i::bigint * 7919) % 8000, 20 + (i::bigint * 331) % 2000,
                  ((i::bigint * 7907) % 200000) / 1000000.0, 150 + (i * 13) % 5000,
                  i % 50 <> 0, CASE WHEN i % 50 = 0 THEN 'deadline exceeded' END,
                  timestamptz '${START}' + (i::float8 / $1) * interval '365 days'`
        : `INSERT INTO audit_log (firm_id, action, entity_type, entity_id, metadata, ip_address,
               created_at)
           SELECT f.ids[1 + i % ${FIRMS}],
                  (ARRAY['create_project', 'upload_file', 'run_extraction', 'resolve_review', 'download_cma'])[1 + (i / ${FIRMS}) % 5],
                  'cma_project', gen_random_uuid(), jsonb_build_object('pages', i % 40),
                  '10.0.0.1',
                  timestamptz '${START}' + (i::float8 / $1) * interval '365 days'`;
    const step = 1_000_000;
    for (let low = 1; low <= ROWS; low += step) {
      await client.query(
        `WITH f AS (SELECT array_agg(id ORDER BY name) AS ids FROM firms)
         ${values} FROM f, generate_series($2::int, $3::int) AS i`,
        [ROWS, low, Math.min(ROWS, low + step - 1)],
      );
    }
    for (const { def } of defs) await client.query(def);
    await client.query(`VACUUM ANALYZE ${table}`);
  }
  await client.end();
  return (Date.now() - started) / 1000;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function measure(url: string) {
  const firms = await (async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ id: string }>(
      'SELECT id FROM firms ORDER BY name',
    );
    await client.end();
    return rows.map((r) => r.id);
  })();
  const viewer = { current: firms[0] };

  @Module({
    imports: [
      TypeOrmModule.forRoot(demoDataSourceOptions(url)),
      LoggingModule.forRoot({}),
      LoggingDashboardModule.forRoot({
        path: 'dashboard',
        authorize: () => ({ scope: 'firm', firmId: viewer.current }),
      }),
    ],
  })
  class BenchModule {}

  const app = await NestFactory.create(BenchModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  const base = `http://127.0.0.1:${port}/dashboard/api`;
  const month = (run: number) => {
    const m = run % 12;
    return `from=2025-${String(m + 1).padStart(2, '0')}-01&to=${m === 11 ? '2026-01' : `2025-${String(m + 2).padStart(2, '0')}`}-01`;
  };
  const endpoints: Record<string, (run: number) => string> = {
    'viewer (baseline)': () => '/viewer',
    usage: (run) => `/usage?${month(run)}`,
    expensive: (run) => `/expensive?${month(run)}&limit=10`,
    failures: (run) => `/failures?${month(run)}&limit=20`,
    'trail (first page)': (run) => `/trail?${month(run)}&limit=50`,
    'trail (filtered by action)': (run) =>
      `/trail?${month(run)}&limit=50&action=download_cma`,
    'usage.csv': (run) => `/usage.csv?${month(run)}`,
  };
  const results: Record<string, { p50: number; p95: number }> = {};
  for (const [name, path] of Object.entries(endpoints)) {
    const times: number[] = [];
    for (let run = -3; run < RUNS; run++) {
      viewer.current = firms[(Math.abs(run) * 37) % firms.length];
      const started = performance.now();
      const response = await fetch(base + path(Math.abs(run)));
      await response.arrayBuffer();
      if (response.status !== 200)
        throw new Error(`${name}: ${response.status}`);
      if (run >= 0) times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    results[name] = {
      p50: Number(percentile(times, 50).toFixed(2)),
      p95: Number(percentile(times, 95).toFixed(2)),
    };
  }
  await app.close();
  const baseline = results['viewer (baseline)'].p50;
  console.log(
    `bench/dashboard: ${ROWS.toLocaleString('en-US')} rows in each log, one firm-month a request (${machineLine()}, Node ${process.version})`,
  );
  for (const [name, { p50, p95 }] of Object.entries(results)) {
    console.log(
      `  ${name.padEnd(28)} p50 ${p50.toFixed(2).padStart(7)} ms  p95 ${p95.toFixed(2).padStart(7)} ms  x${(p50 / baseline).toFixed(1)} baseline`,
    );
  }
  await writeResults('dashboard', { rows: ROWS, runs: RUNS, results });
}

async function main(): Promise<void> {
  const database = await resolveDemoDatabase();
  try {
    const url = new URL(database.url);
    url.pathname = `/${NAME}`;
    if (PHASE !== 'measure') {
      const fresh = await freshDatabase(database.url, NAME);
      console.log(`loaded ${ROWS} rows a log in ${await fill(fresh)} s`);
    }
    if (PHASE !== 'load') await measure(url.toString());
  } finally {
    await database.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
