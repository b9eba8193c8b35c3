/**
 * bench/audit-path: the main thread's CPU per request of bench/endpoint's variants, in one process
 * and without sockets, so that what the audit adds shows apart from the machine's noise. Each
 * variant is one Nest app (endpoint-app.ts) on the same route, driven in-process through
 * `light-my-request` (the injector Fastify uses) with a fixed number of requests in flight; the
 * variants take turns, block by block, and each block's CPU (`process.threadCpuUsage()`), the
 * collector's pauses (`PerformanceObserver`, `gc` entries) and requests are counted. A block of an
 * audited variant ends once its writer has written the block's rows (`LogWriterService.flush()`),
 * so its statements count where they were caused.
 *
 *   npm run bench:build
 *   PATH="$(bash .ci/node 24):$PATH" node dist/bench/audit-path.js
 *   # BENCH_VARIANTS (interceptor,buffered), BENCH_ROUTE (projects), BENCH_BLOCKS (30),
 *   # BENCH_BLOCK_REQUESTS (400), BENCH_INFLIGHT (16), BENCH_PROFILE_DIR (a profile per block, for
 *   # bench/profile-split.js), BENCH_HEAP_PROFILE_DIR (a sampling heap profile per block, every
 *   # allocation counted whether collected or not, for Chrome DevTools' Memory tab)
 *
 * Node 23.9+ (`process.threadCpuUsage`). It works in the database of bench/endpoint,
 * `logging_bench_endpoint`, made anew.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { inject } from 'light-my-request';
import { LogWriterService } from '../src/logging/writer/log-writer.service.js';
import {
  BenchAppModule,
  hasLoggingModule,
  type Route,
  type Variant,
} from './endpoint-app.js';
import { seedEndpointDatabase } from './support.js';

const VARIANTS = (process.env.BENCH_VARIANTS ?? 'interceptor,buffered').split(
  ',',
) as Variant[];
const ROUTE = (process.env.BENCH_ROUTE ?? 'projects') as Route;
const BLOCKS = Number(process.env.BENCH_BLOCKS ?? 30);
const BLOCK_REQUESTS = Number(process.env.BENCH_BLOCK_REQUESTS ?? 400);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 16);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const HEAP_DIR = process.env.BENCH_HEAP_PROFILE_DIR;

type Dispatch = Parameters<typeof inject>[0];

interface Block {
  variant: Variant;
  requests: number;
  mainThreadUs: number;
  gcPauseUs: number;
}

const threadCpu = (
  process as { threadCpuUsage?: (since?: NodeJS.CpuUsage) => NodeJS.CpuUsage }
).threadCpuUsage?.bind(process);

const gc = { us: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gc.us += entry.duration * 1000;
}).observe({ entryTypes: ['gc'] });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  if (!threadCpu) throw new Error('audit-path needs Node 23.9+');
  const { server, url, setup, firm, user, project } =
    await seedEndpointDatabase();
  const request =
    ROUTE === 'projects'
      ? { url: '/projects', payload: { name: 'bench-load' } }
      : {
          url: `/projects/${project.id}/files`,
          payload: { name: 'balance-sheet.pdf', pages: 12 },
        };
  const headers = {
    'content-type': 'application/json',
    'x-firm-id': firm.id,
    'x-user-id': user.id,
  };
  const payload = JSON.stringify(request.payload);

  const apps = new Map<
    Variant,
    { app: INestApplication; dispatch: Dispatch; writer?: LogWriterService }
  >();
  for (const variant of VARIANTS) {
    const app = await NestFactory.create(
      BenchAppModule.for(variant, ROUTE, url),
      { logger: ['error', 'warn'], abortOnError: false },
    );
    await app.init();
    const writer = hasLoggingModule(variant)
      ? app.get(LogWriterService, { strict: false })
      : undefined;
    apps.set(variant, {
      app,
      dispatch: app.getHttpAdapter().getInstance() as Dispatch,
      writer,
    });
  }

  const run = async (variant: Variant, requests: number) => {
    const { dispatch, writer } = apps.get(variant)!;
    let sent = 0;
    const worker = async () => {
      while (sent < requests) {
        sent++;
        const response = await inject(dispatch, {
          method: 'POST',
          url: request.url,
          headers,
          payload,
        });
        if (response.statusCode >= 300) {
          throw new Error(
            `${variant}: status ${response.statusCode} ${response.body}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: INFLIGHT }, worker));
    await writer?.flush();
  };

  const session = PROFILE_DIR ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
  }
  const heap = HEAP_DIR ? new Session() : undefined;
  if (heap) {
    heap.connect();
    await heap.post('HeapProfiler.enable');
  }

  // warm-up: every variant, twice a block
  for (const variant of VARIANTS) await run(variant, 2 * BLOCK_REQUESTS);

  const blocks: Block[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    const order = b % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const name = `${variant}-${ROUTE}-${b}`;
      if (session) await session.post('Profiler.start');
      if (heap) {
        await heap.post('HeapProfiler.startSampling', {
          samplingInterval: 1024,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
      }
      const gcBefore = gc.us;
      const before = threadCpu();
      await run(variant, BLOCK_REQUESTS);
      const cpu = threadCpu(before);
      // the collector's entries arrive in a later task
      await new Promise((resolve) => setImmediate(resolve));
      const block: Block = {
        variant,
        requests: BLOCK_REQUESTS,
        mainThreadUs: cpu.user + cpu.system,
        gcPauseUs: gc.us - gcBefore,
      };
      blocks.push(block);
      if (heap) {
        const { profile } = await heap.post('HeapProfiler.stopSampling');
        writeFileSync(
          join(HEAP_DIR!, `${name}.heapprofile`),
          JSON.stringify(profile),
        );
      }
      if (session) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(
          join(PROFILE_DIR!, `${name}.cpuprofile`),
          JSON.stringify(profile),
        );
        writeFileSync(
          join(PROFILE_DIR!, `${name}.json`),
          JSON.stringify({
            requests: block.requests,
            mainThreadCpuUsPerRequest: block.mainThreadUs / block.requests,
            gcPauseUsPerRequest: block.gcPauseUs / block.requests,
          }),
        );
      }
    }
  }

  console.log(
    `audit-path: node ${process.version}, route ${ROUTE}, ${BLOCKS} blocks of ${BLOCK_REQUESTS} requests, ${INFLIGHT} in flight`,
  );
  const base = VARIANTS[0];
  const perRequest = (variant: Variant, key: 'mainThreadUs' | 'gcPauseUs') =>
    blocks.filter((b) => b.variant === variant).map((b) => b[key] / b.requests);
  for (const variant of VARIANTS) {
    const cpu = perRequest(variant, 'mainThreadUs');
    const paired = cpu.map((us, i) => us - perRequest(base, 'mainThreadUs')[i]);
    console.log(
      `${variant.padEnd(12)} main thread ${median(cpu).toFixed(1).padStart(7)} µs/req (blocks ${Math.min(...cpu).toFixed(0)} to ${Math.max(...cpu).toFixed(0)})  − ${base}: ${median(paired) >= 0 ? '+' : ''}${median(paired).toFixed(1)} (paired by block)  gc pauses ${median(perRequest(variant, 'gcPauseUs')).toFixed(1)} µs/req`,
    );
  }
  for (const { app } of apps.values()) await app.close();
  await setup.destroy();
  await server.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
