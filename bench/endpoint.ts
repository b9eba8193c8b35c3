/**
 * bench/endpoint: two routes (see endpoint-server.ts), each served six ways in one run:
 *   bare         without the LoggingModule (the baseline),
 *   interceptor  bare plus an interceptor that does nothing: what Nest's interceptor pipeline costs,
 *   als          the handler running in AsyncLocalStorage.run, nothing more: the floor of any
 *                audit that hands its context to the services the handler calls,
 *   undecorated  with the LoggingModule imported, no @Audit on the route,
 *   await        with @Audit, durability 'await' (the response leaves after the row is committed),
 *   buffered     with @Audit, durability 'buffered'.
 *   buffered-otel  buffered, with an OpenTelemetry SDK registered (exporters that drop everything).
 * Each runs in a process of its own (dist/bench/endpoint-server.js), driven by autocannon from this
 * one at fixed connections; it prints req/s, p50 and p99 latency and each as a ratio to (or
 * difference from) the bare route, and writes bench/results/endpoint.json.
 *
 *   npm run bench:endpoint
 *   BENCH_CONNECTIONS=16 BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_PLATFORM=express \
 *     BENCH_ROUTES=files,projects npm run bench:endpoint
 *
 * The variants are interleaved round by round; the median round of each counts. After every
 * audited run the server is stopped gracefully and the rows are counted: one per 2xx response.
 *
 * DATABASE_URL picks the server; otherwise the embedded one of the demo. It works in a database of
 * its own, `logging_bench_endpoint`, dropped and migrated anew at the start.
 */
import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { DataSource } from 'typeorm';
import {
  demoDataSourceOptions,
  resolveDemoDatabase,
} from '../src/demo/database/data-source.js';
import { freshDatabase, machineLine, writeResults } from './support.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PLATFORM = process.env.BENCH_PLATFORM ?? 'express';
type Variant =
  | 'bare'
  | 'interceptor'
  | 'als'
  | 'undecorated'
  | 'await'
  | 'buffered'
  | 'buffered-otel';
const VARIANTS = (
  process.env.BENCH_VARIANTS ??
  'bare,interceptor,als,undecorated,await,buffered,buffered-otel'
).split(',') as Variant[];
const ROUTES = (process.env.BENCH_ROUTES ?? 'files,projects').split(',');

interface Result {
  route: string;
  variant: Variant;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  auditRows?: number;
}

const here = dirname(fileURLToPath(import.meta.url));

async function startServer(
  variant: Variant,
  route: string,
  url: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [join(here, 'endpoint-server.js'), variant, route, url, PLATFORM],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) =>
      reject(new Error(`endpoint-server ${variant} exited with ${code}`)),
    );
  });
  return { child, port };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

interface Target {
  path: string;
  body: string;
  headers: Record<string, string>;
}

function load(
  port: number,
  target: Target,
  seconds: number,
): Promise<autocannon.Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}${target.path}`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...target.headers },
    body: target.body,
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const server = await resolveDemoDatabase();
  const url = await freshDatabase(server.url, 'logging_bench_endpoint');
  const setup = await new DataSource(demoDataSourceOptions(url)).initialize();
  await setup.runMigrations();
  const [firm] = await setup.query<{ id: string }[]>(
    `INSERT INTO firms (name) VALUES ('bench') RETURNING id`,
  );
  const [user] = await setup.query<{ id: string }[]>(
    `INSERT INTO users (firm_id, email) VALUES ($1, 'bench@bench.test') RETURNING id`,
    [firm.id],
  );
  const [project] = await setup.query<{ id: string }[]>(
    `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'bench CMA') RETURNING id`,
    [firm.id],
  );
  const headers = { 'x-firm-id': firm.id, 'x-user-id': user.id };
  const targets: Record<string, Target> = {
    files: {
      path: `/projects/${project.id}/files`,
      body: JSON.stringify({ name: 'balance-sheet.pdf', pages: 12 }),
      headers,
    },
    projects: {
      path: '/projects',
      body: JSON.stringify({ name: 'bench-load' }),
      headers,
    },
  };
  const count = async (sql: string) =>
    Number((await setup.query<{ n: string }[]>(sql))[0].n);

  console.log(
    `bench/endpoint: routes ${ROUTES.join(', ')} on ${PLATFORM}, ${CONNECTIONS} connections, ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, ${ROUNDS} rounds, ${machineLine()}, ${server.description}`,
  );
  const rounds: Result[][] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round} of ${ROUNDS}`);
    const results: Result[] = [];
    for (const route of ROUTES) {
      for (const variant of VARIANTS) {
        // append-only (TRUNCATE is refused): emptied through the retention path
        await setup.query(
          `SELECT logging_purge_batch('audit_log', 'infinity', 100000000)`,
        );
        await setup.query('VACUUM audit_log');
        await setup.query(`DELETE FROM cma_projects WHERE name = 'bench-load'`);
        const { child, port } = await startServer(variant, route, url);
        const warmup = await load(port, targets[route], WARMUP_SECONDS);
        const run = await load(port, targets[route], SECONDS);
        await stopServer(child); // flushes buffered rows
        const result: Result = {
          route,
          variant,
          requests: run.requests.total,
          requestsPerSecond: run.requests.average,
          p50Ms: run.latency.p50,
          p99Ms: run.latency.p99,
          non2xx: run.non2xx + warmup.non2xx,
          errors: run.errors + run.timeouts + warmup.errors + warmup.timeouts,
        };
        if (result.non2xx > 0 || result.errors > 0) {
          throw new Error(
            `${route} ${variant}: ${result.non2xx} non-2xx responses, ${result.errors} errors`,
          );
        }
        if (variant.startsWith('await') || variant.startsWith('buffered')) {
          // Every 2xx response has its row. Requests in flight when autocannon stopped were served
          // and audited without their response being counted: at most one per connection.
          result.auditRows = await count('SELECT count(*) AS n FROM audit_log');
          const answered = warmup['2xx'] + run['2xx'];
          if (
            result.auditRows < answered ||
            result.auditRows > answered + 2 * CONNECTIONS
          ) {
            throw new Error(
              `${route} ${variant}: ${answered} responses with status 2xx but ${result.auditRows} audit rows`,
            );
          }
        }
        console.log(
          `  ${route.padEnd(8)} ${variant.padEnd(13)} ${Math.round(result.requestsPerSecond).toString().padStart(6)} req/s  p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms${result.auditRows === undefined ? '' : `  ${result.auditRows} audit rows`}`,
        );
        results.push(result);
      }
    }
    rounds.push(results);
  }
  await setup.destroy();
  await server.stop();

  const table = ROUTES.flatMap((route) => {
    const summary = VARIANTS.map((variant) => {
      const runs = rounds.map((r) =>
        r.find((x) => x.route === route && x.variant === variant)!,
      );
      return {
        route,
        variant,
        requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
        p50Ms: median(runs.map((r) => r.p50Ms)),
        p99Ms: median(runs.map((r) => r.p99Ms)),
      };
    });
    const bare = summary[0];
    return summary.map((s) => ({
      ...s,
      ratioToBare: s.requestsPerSecond / bare.requestsPerSecond,
      p99OverBareMs: s.p99Ms - bare.p99Ms,
    }));
  });
  console.log(
    `\nmedian of ${ROUNDS} rounds\nroute    variant        req/s  ratio  p50 ms  p99 ms  p99 - bare`,
  );
  for (const row of table) {
    console.log(
      `${row.route.padEnd(8)} ${row.variant.padEnd(13)} ${Math.round(row.requestsPerSecond).toString().padStart(8)}   ${row.ratioToBare.toFixed(2)}  ${String(row.p50Ms).padStart(6)}  ${String(row.p99Ms).padStart(6)}  ${row.p99OverBareMs >= 0 ? '+' : ''}${row.p99OverBareMs}`,
    );
  }
  await writeResults('endpoint', {
    node: process.version,
    database: server.description,
    platform: PLATFORM,
    connections: CONNECTIONS,
    seconds: SECONDS,
    rounds,
    median: table,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
