/**
 * bench/partitions: the logs as one table each ('single') and partitioned by month on the id
 * ('partitioned', docs/partitions.md), side by side in one run. Parts (BENCH_PARTS, default all,
 * in this order):
 *
 *   - load: a database per layout, `logging_bench_part_<layout>`, whose llm_usage_log and audit_log
 *     hold BENCH_ROWS rows each (default 10,000,000) of 100 firms over the twelve months before the
 *     current one, in time order, ids UUIDv7 of created_at as the writer makes them (INSERT ... SELECT
 *     generate_series, triggers off, indexes built after; the partitioned layout's months made
 *     first with logging_partitions_ensure). Minutes; not timed.
 *   - queries: on both, interleaved run by run, BENCH_RUNS (30) runs after a warm-up, each run
 *     another firm and month: a firm-month usage summary from the raw rows (`summaryStatement`),
 *     the audit trail's first page and the page after it (AuditTrailService, keyset cursor), a
 *     firm-month trail page, and `mostExpensive` over the firm's whole history and over a month.
 *   - writer: LlmUsageService.record() in 'buffered' with BENCH_CALLERS (512) callers,
 *     BENCH_WRITER_ROWS (100,000) rows a round into a fresh migrated database of each layout,
 *     BENCH_ROUNDS (5) rounds interleaved, every other round in reverse order; the median counts.
 *   - convert: an install of BENCH_CONVERT_ROWS (1,000,000) usage rows, one table per log, for each
 *     writer rate of BENCH_CONVERT_RATES (default "1000,0"): the writer records 'await' at that
 *     rate (0: BENCH_CONVERT_CALLERS, 64, callers at full speed) for BENCH_CONVERT_BEFORE_S (20)
 *     seconds, then through partitionLogs() (BENCH_CONVERT_SHARE, the copy's share of the time,
 *     default 0.25, its default), then 5 seconds more: rows/s before and during, the longest wait
 *     of one record().
 *   - retire: the oldest month of llm_usage_log leaves: on 'single' by the batched
 *     delete (`LogRetentionService.purge`, 10,000 rows a batch), on 'partitioned' by its partition
 *     (`LogPartitionService.retireMonth`). Destructive: load again before timing queries again.
 *
 *   npm run bench:partitions                             # everything (an hour or more at 10M)
 *   BENCH_PARTS=queries,writer npm run bench:partitions  # some parts
 *
 * Results merge into bench/results/partitions.json per part (each with its own scale), with the
 * machine's load average (`uptime`) before and after each part; a run below the scale is a
 * trial (TRIAL below), kept apart. DATABASE_URL picks the server; otherwise the embedded one.
 */
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  demoDataSourceOptions,
  resolveDemoDatabase,
} from '../src/demo/database/data-source.js';
import {
  AuditTrailService,
  LlmUsageReportService,
  LlmUsageService,
  LogRetentionService,
  LogWriterService,
  LoggingModule,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import { idCondition } from '../src/logging/core/log-partitions.js';
import { summaryStatement } from '../src/logging/llm-usage/llm-usage-report.service.js';
import {
  LogPartitionService,
  partitionLogs,
} from '../src/logging/partitions/index.js';
import {
  freshDatabase,
  machineLine,
  serverLine,
  writeResults,
} from './support.js';

const LAYOUTS = ['single', 'partitioned'] as const;
type Layout = (typeof LAYOUTS)[number];
const env = (name: string, fallback: number) =>
  Number(process.env[name] ?? fallback);
const PARTS = (
  process.env.BENCH_PARTS ?? 'load,queries,writer,convert,retire'
).split(',');
const ROWS = env('BENCH_ROWS', 10_000_000);
const RUNS = env('BENCH_RUNS', 30);
const CALLERS = env('BENCH_CALLERS', 512);
const WRITER_ROWS = env('BENCH_WRITER_ROWS', 100_000);
const ROUNDS = env('BENCH_ROUNDS', 5);
const CONVERT_ROWS = env('BENCH_CONVERT_ROWS', 1_000_000);
const CONVERT_CALLERS = env('BENCH_CONVERT_CALLERS', 64);
/** The writer's rates during the conversions, rows/s; 0: full speed. */
const CONVERT_RATES = (process.env.BENCH_CONVERT_RATES ?? '1000,0')
  .split(',')
  .map(Number);
const CONVERT_BEFORE_S = env('BENCH_CONVERT_BEFORE_S', 20);
const CONVERT_SHARE = env('BENCH_CONVERT_SHARE', 0.25);
const FIRMS = 100;
/**
 * A run below the issue's scale (10M rows per log, a 1M-row conversion, 30 query runs, 5 writer
 * rounds of 100,000 rows, 20 s before each conversion) is a trial: it proves the bench runs, on
 * databases of its own (`logging_bench_trial_*`, so the loaded 10M-row ones are kept), and writes
 * bench/results/partitions-trial.json (ignored by git), never the figures' file.
 */
const TRIAL =
  ROWS < 10_000_000 ||
  CONVERT_ROWS < 1_000_000 ||
  RUNS < 30 ||
  ROUNDS < 5 ||
  WRITER_ROWS < 100_000 ||
  CONVERT_BEFORE_S < 20;
const RESULTS = TRIAL ? 'partitions-trial' : 'partitions';
/** The twelve months of data: the year before the current UTC month. */
const NOW = new Date();
const END = new Date(Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth(), 1));
const START = new Date(
  Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth() - 12, 1),
).toISOString();
const database = (layout: Layout, what = 'part') =>
  `logging_bench_${TRIAL ? what.replace(/^part/, 'trial') : what}_${layout}`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** A UUIDv7 of SQL's `at`, unique by `i`: the shape of the writer's ids, in SQL. */
const v7 = (at: string, i: string) =>
  `(lpad(to_hex(floor(extract(epoch FROM ${at}) * 1000)::bigint), 12, '0') || '7000' || '8'
    || lpad(to_hex(${i}), 15, '0'))::uuid`;

/** A database of `layout`, migrated (and converted), with `firms` firms of a user and 5 projects. */
async function migrated(
  adminUrl: string,
  name: string,
  layout: Layout,
  firms: number,
): Promise<string> {
  const url = await freshDatabase(adminUrl, name);
  const setup = await new DataSource(demoDataSourceOptions(url)).initialize();
  await setup.runMigrations();
  if (layout === 'partitioned') await partitionLogs(setup, { pauseMs: 0 });
  await setup.query(
    `INSERT INTO firms (name) SELECT 'firm-' || lpad(f::text, 3, '0') FROM generate_series(1, ${firms}) f`,
  );
  await setup.query(
    `INSERT INTO users (firm_id, email) SELECT id, name || '@bench.test' FROM firms`,
  );
  await setup.query(
    `INSERT INTO cma_projects (firm_id, name) SELECT id, 'project-' || p FROM firms, generate_series(1, 5) p`,
  );
  await setup.destroy();
  return url;
}

/** `rows` rows into `log` with triggers off and its indexes built after. */
async function fill(
  client: Client,
  log: 'llm_usage_log' | 'audit_log',
  rows: number,
): Promise<void> {
  const { rows: defs } = await client.query<{ name: string; def: string }>(
    `SELECT indexname AS name, replace(indexdef, ' ON ONLY ', ' ON ') AS def FROM pg_indexes
      WHERE tablename = $1 AND indexname <> $2`,
    [log, `pk_${log}`],
  );
  await client.query(`SET session_replication_role = replica`);
  for (const { name } of defs) await client.query(`DROP INDEX "${name}"`);
  await client.query(`ALTER TABLE ${log} DROP CONSTRAINT pk_${log}`);
  await client.query(`SET maintenance_work_mem = '1GB'`);
  const at = `timestamptz '${START}' + (i::float8 / $1) * (timestamptz '${END.toISOString()}' - timestamptz '${START}')`;
  const firm = `((i * 7919) % ${FIRMS})::int`;
  await client.query(
    log === 'llm_usage_log'
      ? `WITH f AS (SELECT array_agg(id ORDER BY name) AS ids FROM firms),
              p AS (SELECT array_agg(p.id ORDER BY f.name, p.name) AS ids
                      FROM cma_projects p JOIN firms f ON f.id = p.firm_id)
         INSERT INTO llm_usage_log (id, firm_id, cma_project_id, model, task_type, input_tokens,
             output_tokens, cost_usd, latency_ms, success, error_message, created_at)
         SELECT ${v7('g.at', 'i')}, f.ids[1 + ${firm}],
                CASE WHEN i % 4 = 0 THEN NULL ELSE p.ids[1 + ${firm} * 5 + (i % 5)::int] END,
                (ARRAY['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3-flash', 'gemini-3.1-pro'])[1 + (i % 4)::int],
                (ARRAY['extraction', 'extraction', 'classification', 'validation', 'fallback'])[1 + ((i / 4) % 5)::int],
                200 + (i * 7919) % 8000, 20 + (i * 331) % 2000, ((i * 7907) % 200000) / 1000000.0,
                150 + (i * 13) % 5000, i % 50 <> 0, CASE WHEN i % 50 = 0 THEN 'deadline exceeded' END, g.at
           FROM generate_series(1::bigint, $1::bigint) i, LATERAL (SELECT ${at} AS at) g, f, p`
      : `WITH f AS (SELECT array_agg(id ORDER BY name) AS ids FROM firms),
              u AS (SELECT array_agg(u.id ORDER BY f.name) AS ids FROM users u JOIN firms f ON f.id = u.firm_id)
         INSERT INTO audit_log (id, firm_id, user_id, action, entity_type, entity_id, metadata, created_at)
         SELECT ${v7('g.at', 'i')}, f.ids[1 + ${firm}], u.ids[1 + ${firm}],
                (ARRAY['create_project', 'upload_file', 'run_extraction', 'resolve_review', 'download_cma'])[1 + (i % 5)::int],
                (ARRAY['cma_project', 'uploaded_file', 'cma_project', 'review_item', 'generated_file'])[1 + (i % 5)::int],
                NULL, jsonb_build_object('pages', i % 40), g.at
           FROM generate_series(1::bigint, $1::bigint) i, LATERAL (SELECT ${at} AS at) g, f, u`,
    [rows],
  );
  await client.query(`SET session_replication_role = DEFAULT`);
  await client.query(
    `ALTER TABLE ${log} ADD CONSTRAINT pk_${log} PRIMARY KEY (id)`,
  );
  for (const { def } of defs) await client.query(def);
}

async function loadPart(adminUrl: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const layout of LAYOUTS) {
    const started = Date.now();
    const url = await migrated(adminUrl, database(layout), layout, FIRMS);
    const client = new Client({ connectionString: url });
    await client.connect();
    if (layout === 'partitioned') {
      for (const log of ['audit_log', 'llm_usage_log']) {
        await client.query(
          `SELECT logging_partitions_ensure($1::regclass, 3, $2)`,
          [log, START],
        );
      }
    }
    await fill(client, 'llm_usage_log', ROWS);
    await fill(client, 'audit_log', ROWS);
    await client.query('VACUUM ANALYZE');
    const { rows } = await client.query<{ usage: string; audit: string }>(
      `SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname ~ '^llm_usage_log(_p\\d{6}|_default)?$')) AS usage,
              pg_size_pretty(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname ~ '^audit_log(_p\\d{6}|_default)?$')) AS audit
         FROM pg_class c WHERE c.relkind = 'r'`,
    );
    await client.end();
    const seconds = Math.round((Date.now() - started) / 1000);
    console.log(
      `load ${layout}: ${ROWS} rows per log in ${seconds} s (llm_usage_log ${rows[0].usage}, audit_log ${rows[0].audit}), load average ${load()}`,
    );
    out[layout] = { rows: ROWS, seconds, ...rows[0] };
  }
  return out;
}

/**
 * A Nest application context of the module on `url`; `name` names its data source, for two
 * applications alive at once in this process.
 */
async function appOn(
  url: string,
  options: LoggingModuleOptions = {},
  name?: string,
) {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ ...demoDataSourceOptions(url), name }),
      LoggingModule.forRoot({
        database: { ownerConnection: 'allow' },
        rollups: { compactIntervalMs: 0 },
        ...(name === undefined ? {} : { dataSource: name }),
        ...options,
      }),
    ],
  })
  class BenchModule {}
  return NestFactory.createApplicationContext(BenchModule, {
    logger: ['error', 'warn'],
  });
}

const urlOf = (adminUrl: string, name: string) => {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

async function queriesPart(adminUrl: string): Promise<Record<string, unknown>> {
  const sides = await Promise.all(
    LAYOUTS.map(async (layout) => {
      const url = urlOf(adminUrl, database(layout));
      const app = await appOn(url, {}, `bench_${layout}`);
      const client = new Client({ connectionString: url });
      await client.connect();
      const firms = (
        await client.query<{ id: string }>(`SELECT id FROM firms ORDER BY name`)
      ).rows.map((r) => r.id);
      // each side reads its own database: a full first page of one of its firms
      const page = await app
        .get(AuditTrailService)
        .trail({ firmId: firms[0], limit: 100 });
      if (
        page.items.length !== 100 ||
        page.items.some((item) => item.firmId !== firms[0])
      ) {
        throw new Error(
          `${layout}: the trail of ${firms[0]} read ${page.items.length} entries of its firm, not 100`,
        );
      }
      return {
        layout,
        app,
        client,
        firms,
        reports: app.get(LlmUsageReportService),
        trail: app.get(AuditTrailService),
      };
    }),
  );
  const month = (i: number) => {
    const from = new Date(START);
    from.setUTCMonth(from.getUTCMonth() + (i % 12));
    const to = new Date(from);
    to.setUTCMonth(to.getUTCMonth() + 1);
    return { from, to };
  };
  type Side = (typeof sides)[number];
  const queries: [string, (side: Side, i: number) => Promise<unknown>][] = [
    [
      'firm-month usage summary, raw rows',
      // as the module reads a range's raw rows: on the partitioned layout, with the condition on
      // id that leaves the other months unread (its query timed with it)
      async (side, i) => {
        const range = month(i);
        const ids =
          side.layout === 'partitioned'
            ? await idCondition(
                async <T>(sql: string, parameters?: unknown[]) =>
                  (await side.client.query(sql, parameters)).rows as T[],
                'llm_usage_log',
                range.from,
                range.to,
              )
            : undefined;
        const { sql, parameters } = summaryStatement(
          { firmId: side.firms[(i * 37) % FIRMS], ...range },
          ids,
        );
        return side.client.query(sql, parameters);
      },
    ],
    [
      'trail, first page (100)',
      (side, i) =>
        side.trail.trail({ firmId: side.firms[(i * 37) % FIRMS], limit: 100 }),
    ],
    [
      'trail, the page after it (cursor)',
      async (side, i) => {
        const firmId = side.firms[(i * 37) % FIRMS];
        const first = await side.trail.trail({ firmId, limit: 100 });
        const started = performance.now();
        await side.trail.trail({ firmId, limit: 100, after: first.next! });
        return performance.now() - started;
      },
    ],
    [
      'trail, a firm-month page (100)',
      (side, i) =>
        side.trail.trail({
          firmId: side.firms[(i * 37) % FIRMS],
          ...month(i),
          limit: 100,
        }),
    ],
    [
      'mostExpensive, whole history (10)',
      (side, i) =>
        side.reports.mostExpensive({ firmId: side.firms[(i * 37) % FIRMS] }),
    ],
    [
      'mostExpensive, a firm-month (10)',
      (side, i) =>
        side.reports.mostExpensive({
          firmId: side.firms[(i * 37) % FIRMS],
          ...month(i),
        }),
    ],
  ];
  const timings: Record<string, Record<Layout, Record<string, number>>> = {};
  for (const [name, run] of queries) {
    const ms: Record<Layout, number[]> = { single: [], partitioned: [] };
    for (const side of sides) await run(side, RUNS + 1); // warm-up
    for (let i = 0; i < RUNS; i++) {
      for (const side of i % 2 ? [...sides].reverse() : sides) {
        const started = performance.now();
        const own = await run(side, i);
        ms[side.layout].push(
          typeof own === 'number' ? own : performance.now() - started,
        );
      }
    }
    timings[name] = {} as Record<Layout, Record<string, number>>;
    const line = LAYOUTS.map((layout) => {
      const sorted = [...ms[layout]].sort((a, b) => a - b);
      const t = {
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        max: sorted[sorted.length - 1],
      };
      timings[name][layout] = t;
      return `${layout} p50 ${t.p50.toFixed(2).padStart(8)} ms p95 ${t.p95.toFixed(2).padStart(8)} ms`;
    });
    console.log(`  ${name.padEnd(38)} ${line.join('   ')}`);
  }
  for (const side of sides) {
    await side.app.close();
    await side.client.end();
  }
  return { rows: ROWS, runs: RUNS, timings };
}

/** `rows` record() calls in `'buffered'` from CALLERS callers, until committed: rows/s. */
async function buffered(url: string, rows: number): Promise<number> {
  const app = await appOn(url, { writer: { durability: 'buffered' } });
  const usage = app.get(LlmUsageService);
  const writer = app.get(LogWriterService);
  const client = new Client({ connectionString: url });
  await client.connect();
  const firms = (
    await client.query<{ firmId: string; projectId: string }>(
      `SELECT firm_id AS "firmId", min(id::text) AS "projectId" FROM cma_projects GROUP BY firm_id`,
    )
  ).rows;
  await client.end();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < rows) {
        const i = next++;
        const { firmId, projectId } = firms[i % firms.length];
        await usage.record({
          firmId,
          cmaProjectId: i % 3 ? projectId : null,
          model: 'gemini-3-flash',
          taskType: 'extraction',
          inputTokens: 1000 + (i % 5000),
          outputTokens: 100 + (i % 900),
          costUsd: `0.${String(100000 + (i % 900000)).padStart(6, '0')}`,
          latencyMs: 200 + (i % 3000),
        });
      }
    }),
  );
  await writer.flush();
  const seconds = (performance.now() - started) / 1000;
  await app.close();
  return rows / seconds;
}

async function writerPart(adminUrl: string): Promise<Record<string, unknown>> {
  const urls = {} as Record<Layout, string>;
  for (const layout of LAYOUTS) {
    urls[layout] = await migrated(
      adminUrl,
      database(layout, 'part_writer'),
      layout,
      10,
    );
  }
  const rounds: Record<Layout, number[]> = { single: [], partitioned: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const layout of round % 2 ? [...LAYOUTS].reverse() : LAYOUTS) {
      const rate = await buffered(urls[layout], WRITER_ROWS);
      rounds[layout].push(Math.round(rate));
      console.log(
        `  writer 'buffered', round ${round + 1}, ${layout.padEnd(11)} ${Math.round(rate)} rows/s (load average ${load()})`,
      );
    }
  }
  const paired = rounds.single.map((s, i) => rounds.partitioned[i] / s);
  const result = {
    rowsPerRound: WRITER_ROWS,
    callers: CALLERS,
    rounds,
    medians: {
      single: median(rounds.single),
      partitioned: median(rounds.partitioned),
    },
    ratio: median(rounds.partitioned) / median(rounds.single),
    pairedRatios: paired,
  };
  console.log(
    `writer 'buffered': single ${result.medians.single} rows/s, partitioned ${result.medians.partitioned} rows/s (median of ${ROUNDS}), ratio ${result.ratio.toFixed(2)}`,
  );
  return result;
}

/**
 * One conversion of a fresh CONVERT_ROWS-row install while the writer records: at `rate` rows/s
 * ('await', as many calls in flight as it takes), or with CONVERT_CALLERS callers each awaiting its
 * row in turn when `rate` is 0 (the writer at full speed).
 */
async function convertOnce(
  adminUrl: string,
  rate: number,
): Promise<Record<string, unknown>> {
  const url = await migrated(
    adminUrl,
    database('single', 'part_convert'),
    'single',
    FIRMS,
  );
  const client = new Client({ connectionString: url });
  await client.connect();
  await fill(client, 'llm_usage_log', CONVERT_ROWS);
  await client.query('VACUUM ANALYZE');
  const firms = (
    await client.query<{ id: string }>(`SELECT id FROM firms ORDER BY name`)
  ).rows.map((r) => r.id);
  await client.end();
  const app = await appOn(url);
  const usage = app.get(LlmUsageService);
  const converter = await new DataSource(
    demoDataSourceOptions(url),
  ).initialize();
  const done: number[] = [];
  let stop = false;
  let phase: 'before' | 'during' | 'after' = 'before';
  const longest = { before: 0, during: 0, after: 0 };
  let issued = 0;
  const one = async () => {
    const i = issued++;
    const started = performance.now();
    await usage.record({
      firmId: firms[i % FIRMS],
      model: 'gemini-3-flash',
      taskType: 'extraction',
      inputTokens: 1000,
      outputTokens: 100,
      costUsd: '0.001000',
    });
    const now = performance.now();
    longest[phase] = Math.max(longest[phase], now - started);
    done.push(now);
  };
  const inFlight = new Set<Promise<void>>();
  const origin = performance.now();
  const writers =
    rate > 0
      ? [
          (async () => {
            while (!stop) {
              const due = Math.floor(
                ((performance.now() - origin) / 1000) * rate,
              );
              while (issued < due) {
                const call: Promise<void> = one().finally(() =>
                  inFlight.delete(call),
                );
                inFlight.add(call);
              }
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
            await Promise.all(inFlight);
          })(),
        ]
      : Array.from({ length: CONVERT_CALLERS }, async () => {
          while (!stop) await one();
        });
  const since = (from: number, to: number) =>
    done.filter((t) => t >= from && t < to).length;
  await new Promise((resolve) => setTimeout(resolve, 2000)); // warm-up
  const beforeStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, CONVERT_BEFORE_S * 1000));
  const convertStart = performance.now();
  phase = 'during';
  const [, usageResult] = await partitionLogs(converter, {
    copyShare: CONVERT_SHARE,
  });
  const convertEnd = performance.now();
  phase = 'after';
  await new Promise((resolve) => setTimeout(resolve, 5000));
  stop = true;
  await Promise.all(writers);
  await app.close();
  await converter.destroy();
  const before =
    since(beforeStart, convertStart) / ((convertStart - beforeStart) / 1000);
  const during =
    since(convertStart, convertEnd) / ((convertEnd - convertStart) / 1000);
  const result = {
    writer:
      rate > 0
        ? `${rate} rows/s offered`
        : `${CONVERT_CALLERS} callers at full speed`,
    rows: CONVERT_ROWS,
    copyShare: CONVERT_SHARE,
    conversionSeconds: (convertEnd - convertStart) / 1000,
    copied: usageResult.copied,
    queued: usageResult.queued,
    swapMs: usageResult.swapMs,
    swapAttempts: usageResult.swapAttempts,
    rowsPerSecondBefore: Math.round(before),
    rowsPerSecondDuring: Math.round(during),
    ratio: during / before,
    longestWaitMs: longest,
  };
  console.log(
    `convert ${CONVERT_ROWS} rows, writer ${result.writer}: ${result.conversionSeconds.toFixed(1)} s (${result.queued} rows written meanwhile), swap ${result.swapMs} ms; ` +
      `writer ${result.rowsPerSecondBefore} rows/s before, ${result.rowsPerSecondDuring} during (${result.ratio.toFixed(2)}); ` +
      `longest record() ${longest.before.toFixed(0)} ms before, ${longest.during.toFixed(0)} ms during, ${longest.after.toFixed(0)} ms after (load average ${load()})`,
  );
  return result;
}

async function convertPart(adminUrl: string): Promise<Record<string, unknown>> {
  const runs: Record<string, unknown>[] = [];
  for (const rate of CONVERT_RATES)
    runs.push(await convertOnce(adminUrl, rate));
  return { runs };
}

async function retirePart(adminUrl: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const month = new Date(START);
  const end = new Date(
    Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1),
  );
  for (const layout of LAYOUTS) {
    const url = urlOf(adminUrl, database(layout));
    const app = await appOn(url, { partitions: { intervalMs: null } });
    const client = new Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM llm_usage_log WHERE created_at < $1`,
      [end],
    );
    const started = performance.now();
    const left =
      layout === 'single'
        ? await app.get(LogRetentionService).purge('llm_usage_log', end)
        : await app
            .get(LogPartitionService)
            .retireMonth('llm_usage_log', month)
            .then((r) => r.dropped + r.deleted);
    const ms = performance.now() - started;
    out[layout] = {
      rows: rows[0].n,
      left,
      ms: Math.round(ms),
      how:
        layout === 'single'
          ? 'LogRetentionService.purge, batches of 10,000'
          : 'LogPartitionService.retireMonth',
    };
    console.log(
      `retire ${START.slice(0, 7)} of llm_usage_log, ${layout}: ${left} of ${rows[0].n} rows in ${ms.toFixed(0)} ms (load average ${load()})`,
    );
    await client.end();
    await app.close();
  }
  return out;
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const server = await resolveDemoDatabase();
  const where = await serverLine(server);
  console.log(
    `bench/partitions: ${PARTS.join(', ')}; ${ROWS} rows per log, ${machineLine()}, Node ${process.version}, ${where}`,
  );
  if (TRIAL) {
    console.log(
      `a trial below the issue's scale: databases logging_bench_trial_*, results in bench/results/${RESULTS}.json`,
    );
  }
  const previous = await readFile(
    new URL(`../../bench/results/${RESULTS}.json`, import.meta.url),
    'utf8',
  ).then(
    (text) => JSON.parse(text) as { parts?: Record<string, unknown> },
    () => ({ parts: {} }),
  );
  const parts: Record<string, unknown> = { ...(previous.parts ?? {}) };
  const run: Record<string, (url: string) => Promise<Record<string, unknown>>> =
    {
      load: loadPart,
      queries: queriesPart,
      writer: writerPart,
      convert: convertPart,
      retire: retirePart,
    };
  for (const part of PARTS) {
    const loadBefore = load();
    console.log(`${part}: load average ${loadBefore}`);
    const result = await run[part](server.url);
    parts[part] = {
      date: new Date().toISOString(),
      loadAverageBefore: loadBefore,
      loadAverageAfter: load(),
      ...result,
    };
    await writeResults(RESULTS, { database: where, parts });
  }
  await server.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
