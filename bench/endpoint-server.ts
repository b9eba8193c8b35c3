/**
 * The app bench/endpoint drives, one process per run:
 *
 *   node dist/bench/endpoint-server.js <variant> <route> <database-url> [express|fastify]
 *
 * Variants: `bare` without the LoggingModule and without `@Audit`; `interceptor` the same with an
 * interceptor that does nothing on the route (what Nest's interceptor pipeline costs before an
 * audit does anything); `als` the handler running inside `AsyncLocalStorage.run` and nothing more
 * (the floor of any audit that hands its context to the services the handler calls);
 * `undecorated` like `bare` with the LoggingModule imported; `peer` the audit a team would write
 * by hand: an interceptor awaiting `repository.insert()` of one `audit_log` row per request, no
 * batching, no context; `await`, `buffered`, `buffered-otel` (`buffered` with an OpenTelemetry
 * SDK registered, its exporters dropping everything) and `buffered-otel-off` (the same SDK, the
 * module's telemetry off: what the host's SDK costs by itself) with the LoggingModule and `@Audit`
 * on the route, in that audit durability. Routes, behind an authentication guard that sets `request.user` as a
 * host's would:
 *
 * - `files`: `POST /projects/:projectId/files`, which checks its body and answers from memory: the
 *   cheapest handler there is, so the audit's own cost shows in full;
 * - `projects`: `POST /projects`, which checks its body and inserts the project with TypeORM, as
 *   the demo's `create_project` does.
 *
 * Prints `listening <port>` once it accepts connections; SIGTERM shuts it down gracefully. Over
 * the IPC channel, `'start'` and `'stop'` delimit the measured window: `'stop'` answers with the
 * process's CPU time (`process.cpuUsage()`) spent inside it, the main thread's (Node 23.9+), and
 * the garbage collector's pauses in it (`PerformanceObserver` on `gc` entries: time the main thread
 * stood still for the collector). With `BENCH_PROFILE_DIR` set, the window alone is profiled
 * (the inspector's sampling profiler, `BENCH_PROFILE_INTERVAL_US`, 100 by default) into
 * `<dir>/<variant>-<route>-<pid>.cpuprofile`.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import {
  BenchAppModule,
  ROUTES,
  type Route,
  VARIANTS,
  type Variant,
} from './endpoint-app.js';
import { registerNoopSdk } from './otel-noop.js';

async function main(): Promise<void> {
  const [variant, route, url, platform = 'express'] = process.argv.slice(2);
  if (
    !VARIANTS.includes(variant as Variant) ||
    !ROUTES.includes(route as Route) ||
    !url
  ) {
    throw new Error(
      `usage: endpoint-server <${VARIANTS.join('|')}> <${ROUTES.join('|')}> <database-url> [express|fastify]`,
    );
  }
  if (variant.startsWith('buffered-otel')) registerNoopSdk();
  const module = BenchAppModule.for(variant as Variant, route as Route, url);
  const app =
    platform === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), {
          logger: ['error', 'warn'],
        })
      : await NestFactory.create(module, { logger: ['error', 'warn'] });
  // Closes the app (the writer flushes its buffer) and exits normally, so that a --cpu-prof
  // profile is written.
  process.once('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  // process.threadCpuUsage (Node 23.9+): the main thread alone, without GC and libuv helpers
  const threadCpu = (
    process as { threadCpuUsage?: (since?: NodeJS.CpuUsage) => NodeJS.CpuUsage }
  ).threadCpuUsage?.bind(process);
  let window = process.cpuUsage();
  let threadWindow = threadCpu?.();
  // the collector's pauses of the main thread, summed over the window
  const gc = { ms: 0, count: 0, counting: false };
  new PerformanceObserver((list) => {
    if (!gc.counting) return;
    for (const entry of list.getEntries()) {
      gc.ms += entry.duration;
      gc.count++;
    }
  }).observe({ entryTypes: ['gc'] });
  const profile = await windowProfiler(variant, route);
  process.on('message', (message) => {
    if (message === 'start') {
      void profile.start().then(() => {
        gc.ms = 0;
        gc.count = 0;
        gc.counting = true;
        window = process.cpuUsage();
        threadWindow = threadCpu?.();
        process.send?.('started');
      });
    }
    if (message === 'stop') {
      const { user, system } = process.cpuUsage(window);
      const thread = threadCpu?.(threadWindow);
      gc.counting = false;
      void profile.stop().then(() =>
        process.send?.({
          cpuUs: user + system,
          mainThreadCpuUs: thread && thread.user + thread.system,
          gcPauseUs: gc.ms * 1000,
          gcCount: gc.count,
        }),
      );
    }
  });
  process.stdout.write(`listening ${port}\n`);
}

/**
 * Profiles the measured window when `BENCH_PROFILE_DIR` is set (the inspector's sampling profiler,
 * in this process), writing `<dir>/<variant>-<route>-<pid>.cpuprofile`; does nothing otherwise.
 */
async function windowProfiler(
  variant: string,
  route: string,
): Promise<{ start(): Promise<void>; stop(): Promise<void> }> {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (!dir) {
    return { start: () => Promise.resolve(), stop: () => Promise.resolve() };
  }
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', {
    interval: Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 100),
  });
  return {
    start: () => session.post('Profiler.start'),
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(
        join(dir, `${variant}-${route}-${process.pid}.cpuprofile`),
        JSON.stringify(profile),
      );
    },
  };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
