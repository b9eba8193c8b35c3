/**
 * bench/endpoint: two routes (see endpoint-server.ts), each served seven ways in one run:
 *   bare         without the LoggingModule (the baseline),
 *   interceptor  bare plus an interceptor that does nothing: what Nest's interceptor pipeline costs,
 *   als          the handler running in AsyncLocalStorage.run, nothing more: the floor of any
 *                audit that hands its context to the services the handler calls,
 *   undecorated  with the LoggingModule imported, no @Audit on the route,
 *   peer         a hand-written interceptor awaiting repository.insert() of one audit row per
 *                request (what a team writes without the module),
 *   await        with @Audit, durability 'await' (the response leaves after the row is committed),
 *   buffered     with @Audit, durability 'buffered'.
 *   buffered-otel  buffered, with an OpenTelemetry SDK registered (exporters that drop everything),
 *   buffered-otel-off  the same SDK registered, the module's telemetry off (enabled: false): the
 *                host's SDK's own cost; buffered-otel over it is the module's telemetry.
 * Each runs in a process of its own (dist/bench/endpoint-server.js), driven by autocannon from this
 * one at fixed connections; it prints req/s, p50 and p99 latency, the server's CPU time per request
 * over the measured window (process.cpuUsage() in the server: the app's own cost, apart from
 * PostgreSQL's and autocannon's on the same cores), each against the bare route, and writes
 * bench/results/endpoint-node<major>.json.
 *
 *   npm run bench:endpoint
 *   BENCH_CONNECTIONS=16 BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_PLATFORM=express \
 *     BENCH_ROUTES=files,projects BENCH_NODE=/path/to/node npm run bench:endpoint
 *
 * BENCH_RATE fixes the requests per second (autocannon's overallRate) instead of driving each
 * variant as fast as it serves: CPU per request then compares at equal load.
 * BENCH_NODE is the node binary of the servers (default: the one running this script);
 * BENCH_NODE_FLAGS adds flags to it, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' (the whole
 * process). BENCH_PROFILE_DIR profiles the measured window alone, in each server, and writes each
 * run's figures beside its profile; bench/profile-split.ts compares two variants' profiles.
 *
 * The variants are interleaved round by round, every other round in reverse order; the median
 * round of each counts. After every
 * audited run the server is stopped gracefully and the rows are counted: one per 2xx response.
 *
 * DATABASE_URL picks the server; otherwise the embedded one of the demo. It works in a database of
 * its own, `logging_bench_endpoint`, dropped and migrated anew at the start.
 */
import 'reflect-metadata';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { machineLine, seedEndpointDatabase, writeResults } from './support.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PLATFORM = process.env.BENCH_PLATFORM ?? 'express';
/**
 * Requests per second in all, when set: every variant then serves the same rate (below what the
 * slowest can serve), so that CPU per request compares work alone, without the event loop's
 * batching, which grows with the load.
 */
const RATE = process.env.BENCH_RATE
  ? Number(process.env.BENCH_RATE)
  : undefined;
const NODE = process.env.BENCH_NODE ?? process.execPath;
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '')
  .split(' ')
  .filter(Boolean);
type Variant =
  | 'bare'
  | 'interceptor'
  | 'als'
  | 'undecorated'
  | 'peer'
  | 'await'
  | 'buffered'
  | 'buffered-otel'
  | 'buffered-otel-off';
const VARIANTS = (
  process.env.BENCH_VARIANTS ??
  'bare,interceptor,als,undecorated,peer,await,buffered,buffered-otel,buffered-otel-off'
).split(',') as Variant[];
const AUDITED: Variant[] = [
  'peer',
  'await',
  'buffered',
  'buffered-otel',
  'buffered-otel-off',
];
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
  /** The server's CPU time (user + system) per request over the measured window, in µs. */
  cpuUsPerRequest: number;
  /** Of which the main thread's (Node 23.9+), without GC and libuv helper threads. */
  mainThreadCpuUsPerRequest?: number;
  /** The garbage collector's pauses of the main thread per request, in µs (part of the above). */
  gcPauseUsPerRequest: number;
  /** Collections per 1,000 requests. */
  gcPer1000Requests: number;
  auditRows?: number;
}

const here = dirname(fileURLToPath(import.meta.url));

async function startServer(
  variant: Variant,
  route: string,
  url: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    NODE,
    [
      ...NODE_FLAGS,
      join(here, 'endpoint-server.js'),
      variant,
      route,
      url,
      PLATFORM,
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
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

/** The server's CPU time, in µs, spent while `measure` runs. */
async function serverCpu<T>(
  child: ChildProcess,
  measure: () => Promise<T>,
): Promise<{ result: T } & ServerCpu> {
  const started = once(child, 'message');
  child.send('start');
  await started;
  const result = await measure();
  const answer = once(child, 'message');
  child.send('stop');
  const [cpu] = (await answer) as [ServerCpu];
  return { result, ...cpu };
}

/** What the server measured over the window. */
interface ServerCpu {
  cpuUs: number;
  mainThreadCpuUs?: number;
  /** The garbage collector's pauses of the main thread. */
  gcPauseUs: number;
  gcCount: number;
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
    ...(RATE === undefined ? {} : { overallRate: RATE }),
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const { server, url, setup, firm, user, project } =
    await seedEndpointDatabase();
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

  const serverNode = execFileSync(NODE, ['--version']).toString().trim();
  console.log(
    `bench/endpoint: server node ${serverNode}, routes ${ROUTES.join(', ')} on ${PLATFORM}, ${CONNECTIONS} connections${RATE === undefined ? '' : ` at ${RATE} req/s`}, ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, ${ROUNDS} rounds, ${machineLine()}, ${server.description}`,
  );
  const rounds: Result[][] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round} of ${ROUNDS}`);
    const results: Result[] = [];
    for (const route of ROUTES) {
      // every other round in reverse order, so that no variant always runs first or after another
      const order = round % 2 === 0 ? [...VARIANTS].reverse() : VARIANTS;
      for (const variant of order) {
        // append-only: the owner (the bench's admin) empties it, as only the owner may
        await setup.query(
          `SELECT set_config('logging.purge_cutoff', 'infinity', false);
           DELETE FROM audit_log;
           RESET logging.purge_cutoff`,
        );
        await setup.query('VACUUM audit_log');
        await setup.query(`DELETE FROM cma_projects WHERE name = 'bench-load'`);
        const { child, port } = await startServer(variant, route, url);
        const warmup = await load(port, targets[route], WARMUP_SECONDS);
        const {
          result: run,
          cpuUs,
          mainThreadCpuUs,
          gcPauseUs,
          gcCount,
        } = await serverCpu(child, () => load(port, targets[route], SECONDS));
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
          cpuUsPerRequest: cpuUs / run.requests.total,
          mainThreadCpuUsPerRequest:
            mainThreadCpuUs === undefined
              ? undefined
              : mainThreadCpuUs / run.requests.total,
          gcPauseUsPerRequest: gcPauseUs / run.requests.total,
          gcPer1000Requests: (gcCount * 1000) / run.requests.total,
        };
        const profileDir = process.env.BENCH_PROFILE_DIR;
        if (profileDir) {
          // beside the window's profile: what bench/profile-split.ts divides it by
          writeFileSync(
            join(profileDir, `${variant}-${route}-${child.pid}.json`),
            JSON.stringify({ ...result, round }),
          );
        }
        if (result.non2xx > 0 || result.errors > 0) {
          throw new Error(
            `${route} ${variant}: ${result.non2xx} non-2xx responses, ${result.errors} errors`,
          );
        }
        if (AUDITED.includes(variant)) {
          // Every 2xx response has its row. Requests in flight when autocannon stopped (after the
          // warm-up and after the run) were served and audited without their response being
          // counted: a few per connection at most, far from the double of a row written twice.
          result.auditRows = await count('SELECT count(*) AS n FROM audit_log');
          const answered = warmup['2xx'] + run['2xx'];
          if (
            result.auditRows < answered ||
            result.auditRows > answered + 4 * CONNECTIONS
          ) {
            throw new Error(
              `${route} ${variant}: ${answered} responses with status 2xx but ${result.auditRows} audit rows`,
            );
          }
        }
        console.log(
          `  ${route.padEnd(8)} ${variant.padEnd(17)} ${Math.round(result.requestsPerSecond).toString().padStart(6)} req/s  p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms  cpu ${result.cpuUsPerRequest.toFixed(1)} µs/req${result.mainThreadCpuUsPerRequest === undefined ? '' : ` (main thread ${result.mainThreadCpuUsPerRequest.toFixed(1)})`}  gc ${result.gcPauseUsPerRequest.toFixed(1)} µs/req${result.auditRows === undefined ? '' : `  ${result.auditRows} audit rows`}`,
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
        cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
        mainThreadCpuUsPerRequest: runs.every(
          (r) => r.mainThreadCpuUsPerRequest !== undefined,
        )
          ? median(runs.map((r) => r.mainThreadCpuUsPerRequest!))
          : undefined,
        gcPauseUsPerRequest: median(runs.map((r) => r.gcPauseUsPerRequest)),
      };
    });
    const bare = summary[0];
    return summary.map((s) => ({
      ...s,
      ratioToBare: s.requestsPerSecond / bare.requestsPerSecond,
      p99OverBareMs: s.p99Ms - bare.p99Ms,
      cpuOverBareUs: s.cpuUsPerRequest - bare.cpuUsPerRequest,
      mainThreadCpuOverBareUs:
        s.mainThreadCpuUsPerRequest === undefined
          ? undefined
          : s.mainThreadCpuUsPerRequest - bare.mainThreadCpuUsPerRequest!,
    }));
  });
  console.log(
    `\nmedian of ${ROUNDS} rounds (server node ${serverNode})\nroute    variant        req/s  ratio  p50 ms  p99 ms  p99 - bare  cpu µs/req  cpu - bare`,
  );
  for (const row of table) {
    console.log(
      `${row.route.padEnd(8)} ${row.variant.padEnd(17)} ${Math.round(row.requestsPerSecond).toString().padStart(8)}   ${row.ratioToBare.toFixed(2)}  ${String(row.p50Ms).padStart(6)}  ${String(row.p99Ms).padStart(6)}  ${(row.p99OverBareMs >= 0 ? '+' : '') + row.p99OverBareMs}`.padEnd(
        72,
      ) +
        `${row.cpuUsPerRequest.toFixed(1).padStart(10)}  ${((row.cpuOverBareUs >= 0 ? '+' : '') + row.cpuOverBareUs.toFixed(1)).padEnd(8)}` +
        (row.mainThreadCpuOverBareUs === undefined
          ? ''
          : `  main thread ${row.mainThreadCpuUsPerRequest!.toFixed(1)} (${(row.mainThreadCpuOverBareUs >= 0 ? '+' : '') + row.mainThreadCpuOverBareUs.toFixed(1)})`) +
        `  gc ${row.gcPauseUsPerRequest.toFixed(1)}`,
    );
  }
  const telemetry = telemetrySummary(rounds);
  // one file per major version of the servers' node, so that runs on two nodes stand side by side
  await writeResults(
    `endpoint-${serverNode.split('.')[0].replace('v', 'node')}`,
    {
      node: serverNode,
      warmupSeconds: WARMUP_SECONDS,
      database: server.description,
      platform: PLATFORM,
      connections: CONNECTIONS,
      seconds: SECONDS,
      rounds,
      median: table,
      telemetry,
    },
  );
}

/** The ratios that tell the host's SDK's cost from the module's telemetry (bench/README.md). */
const TELEMETRY_RATIOS: [label: string, over: Variant, under: Variant][] = [
  [
    "the host's SDK alone (buffered-otel-off / buffered)",
    'buffered-otel-off',
    'buffered',
  ],
  [
    "the module's telemetry (buffered-otel / buffered-otel-off)",
    'buffered-otel',
    'buffered-otel-off',
  ],
  ['both (buffered-otel / buffered)', 'buffered-otel', 'buffered'],
];

/**
 * Per route, each telemetry ratio taken round by round (the same round's runs side by side): its
 * median and range for req/s, and the median CPU time per request it adds.
 */
function telemetrySummary(rounds: Result[][]) {
  const summary = [];
  for (const route of ROUTES) {
    const find = (round: Result[], variant: Variant) =>
      round.find((r) => r.route === route && r.variant === variant);
    for (const [label, over, under] of TELEMETRY_RATIOS) {
      if (!rounds.every((round) => find(round, over) && find(round, under))) {
        continue;
      }
      const paired = rounds.map(
        (round) =>
          find(round, over)!.requestsPerSecond /
          find(round, under)!.requestsPerSecond,
      );
      const cpuRatio = rounds.map(
        (round) =>
          find(round, over)!.cpuUsPerRequest /
          find(round, under)!.cpuUsPerRequest,
      );
      const cpuAdded = rounds.map(
        (round) =>
          find(round, over)!.cpuUsPerRequest -
          find(round, under)!.cpuUsPerRequest,
      );
      const row = {
        route,
        label,
        throughput: median(paired),
        min: Math.min(...paired),
        max: Math.max(...paired),
        cpuPerRequest: median(cpuRatio),
        cpuMin: Math.min(...cpuRatio),
        cpuMax: Math.max(...cpuRatio),
        cpuUsPerRequestAdded: median(cpuAdded),
      };
      if (summary.length === 0) {
        console.log(
          `\ntelemetry, paired by round (median, range): req/s ratio; CPU per request ratio, µs added`,
        );
      }
      console.log(
        `${route.padEnd(8)} ${label.padEnd(58)} ${row.throughput.toFixed(3)} (${row.min.toFixed(3)} to ${row.max.toFixed(3)})  cpu ${row.cpuPerRequest.toFixed(3)} (${row.cpuMin.toFixed(3)} to ${row.cpuMax.toFixed(3)}) ${row.cpuUsPerRequestAdded >= 0 ? '+' : ''}${row.cpuUsPerRequestAdded.toFixed(1)} µs`,
      );
      summary.push(row);
    }
  }
  return summary;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
