import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IsInt, Max } from 'class-validator';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import {
  AuditLogService,
  LlmUsageService,
  LogBufferFullError,
  LogWriteError,
  LogWriterService,
  LoggingModule,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { captureLogs } from './support/logs.js';
import { SINGLE_ROLE } from './support/roles.js';
import { childEnv, finished, run, waitForOutput } from './support/processes.js';
import { seedFirm } from './support/seed.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** What the load's `run_extraction` rows store: a page count. */
class ExtractionMetadata {
  @IsInt() @Max(100) pages: number;
}

/**
 * Faults: the database goes away under load, stays away past the retry budget, and the app is
 * stopped by SIGTERM or killed outright. Nothing a caller was told is recorded may be missing.
 */

const usageEntry = (firmId: string, n: number) => ({
  firmId,
  model: 'gemini-3-flash',
  taskType: 'extraction' as const,
  inputTokens: n,
  outputTokens: 1,
  costUsd: '0.000001',
});

async function idsIn(
  url: string,
  table: 'llm_usage_log' | 'audit_log',
  column: 'id' | 'entity_id',
  ids: string[],
): Promise<Set<string>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `SELECT ${column} AS id FROM ${table} WHERE ${column} = ANY($1::uuid[])`,
      [ids],
    );
    return new Set(rows.map((row) => row.id));
  } finally {
    await client.end();
  }
}

/**
 * The app reaches the test server through a TCP proxy of this file's own, which cuts the way and
 * restores it, or lets connections go half-open or slow; the server itself is never stopped (other
 * files use it, and it may be DATABASE_URL's).
 */
describe('the database goes away', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await TcpProxy.start(database.url);
  });
  afterAll(async () => {
    await proxy.close();
    await database.drop();
  });

  /** The app through the proxy; `pool` adds to the host pool's settings. */
  async function app(
    options: LoggingModuleOptions,
    pool: Record<string, unknown> = {},
  ) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          ...demoDataSourceOptions(proxy.url(database.url)),
          extra: { connectionTimeoutMillis: 1_000, ...pool },
        }),
        LoggingModule.forRoot({
          ...SINGLE_ROLE,
          ...options,
          audit: {
            ...options.audit,
            actions: { run_extraction: ExtractionMetadata },
          },
        }),
      ],
    }).compile();
    const nest: INestApplication = moduleRef.createNestApplication({
      logger: false,
    });
    const logs = captureLogs(nest);
    await nest.init();
    const dataSource = nest.get(DataSource);
    const firm = await seedFirm(dataSource, `faults-${randomUUID()}`);
    return {
      nest,
      logs,
      firmId: firm.firmId,
      usage: nest.get(LlmUsageService),
      audit: nest.get(AuditLogService),
      writer: nest.get(LogWriterService),
    };
  }

  /**
   * Records as fast as 8 awaiting and 2 buffering callers can while `disturb` runs, and returns
   * the ids each durability was given, and the errors.
   */
  async function underLoad(
    { usage, audit, firmId }: Awaited<ReturnType<typeof app>>,
    disturb: () => Promise<void>,
  ) {
    const stored = { usage: [] as string[], audit: [] as string[] };
    const failures: unknown[] = [];
    let running = true;
    let n = 0;
    const awaited = async () => {
      while (running) {
        try {
          stored.usage.push(await usage.record(usageEntry(firmId, n++)));
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const buffered = async () => {
      while (running) {
        try {
          stored.audit.push(
            await audit.record(
              {
                firmId,
                action: 'run_extraction',
                entityType: 'cma_project',
                metadata: { pages: n++ % 100 },
              },
              { durability: 'buffered' },
            ),
          );
        } catch (error) {
          failures.push(error);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const load = [
      ...Array.from({ length: 8 }, awaited),
      ...Array.from({ length: 2 }, buffered),
    ];
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = stored.usage.length;
    await disturb();
    running = false;
    await Promise.all(load);
    return { stored, failures, before };
  }

  /** Every id the callers were given is stored, once, and nothing else is. */
  async function expectAllStoredOnce(
    firmId: string,
    stored: { usage: string[]; audit: string[] },
  ) {
    const usageIds = await idsIn(
      database.url,
      'llm_usage_log',
      'id',
      stored.usage,
    );
    const auditIds = await idsIn(database.url, 'audit_log', 'id', stored.audit);
    expect(usageIds.size).toBe(stored.usage.length);
    expect(auditIds.size).toBe(stored.audit.length);
    const client = new Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ usage: number; audit: number }>(
      `SELECT (SELECT count(*)::int FROM llm_usage_log WHERE firm_id = $1) AS usage,
              (SELECT count(*)::int FROM audit_log WHERE firm_id = $1) AS audit`,
      [firmId],
    );
    await client.end();
    expect(rows[0]).toEqual({
      usage: stored.usage.length,
      audit: stored.audit.length,
    });
  }

  it('is cut off under load in both durabilities: every resolved record() is stored, and the writer recovers by itself', async () => {
    const running = await app({
      writer: { retry: { attempts: 40, baseDelayMs: 50, maxDelayMs: 400 } },
    });
    const { nest, firmId, usage, writer, logs } = running;
    const { stored, failures, before } = await underLoad(running, async () => {
      proxy.cut();
      await pause(1_000);
      proxy.restore();
      await pause(1_000);
    });
    await writer.flush();

    const stats = writer.stats();
    expect(failures).toEqual([]);
    expect(stats.rowsFailed).toBe(0);
    expect(stats.retries).toBeGreaterThan(0); // the outage was felt
    expect(logs.warn.length).toBe(stats.retries); // and each retry was reported
    expect(logs.error).toEqual([]);
    expect(before).toBeGreaterThan(0);
    expect(stored.usage.length).toBeGreaterThan(before); // and lived through
    // nothing more either: a batch retried after a lost acknowledgement is not stored twice
    await expectAllStoredOnce(firmId, stored);
    // and it writes again at once
    const id = await usage.record(usageEntry(firmId, 0));
    expect((await idsIn(database.url, 'llm_usage_log', 'id', [id])).size).toBe(
      1,
    );
    await nest.close();
  }, 60_000);

  it('notices connections gone half-open under load (writer.statementTimeoutMs), moves to new ones, and loses nothing it acknowledged', async () => {
    const running = await app({
      writer: {
        statementTimeoutMs: 400,
        retry: { attempts: 40, baseDelayMs: 20, maxDelayMs: 200 },
      },
    });
    const { nest, firmId, writer, logs } = running;
    let silenced = 0;
    const { stored, failures, before } = await underLoad(running, async () => {
      silenced = proxy.halfOpen();
      await pause(2_000);
    });
    await writer.flush();

    expect(silenced).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    const stats = writer.stats();
    expect(stats.rowsFailed).toBe(0);
    expect(stats.retries).toBeGreaterThan(0);
    // each retry names the timeout that noticed the dead connection
    expect(logs.warn.length).toBe(stats.retries);
    expect(
      logs.warn.every((line) => line.includes('writer.statementTimeoutMs')),
    ).toBe(true);
    expect(logs.error).toEqual([]);
    expect(stored.usage.length).toBeGreaterThan(before);
    await expectAllStoredOnce(firmId, stored);
    // The statements that timed out gave their connections back: no pool waits for them to end.
    await nest.close();
  }, 60_000);

  it("keeps the host's pool serving its own queries through a half-open database while the writer retries", async () => {
    // A host pool of 3: before the writer had a pool of its own, each statement it gave up on kept
    // one of the host's connections, and three such statements left the host none.
    const { nest, firmId, usage, audit, writer, logs } = await app(
      {
        writer: {
          statementTimeoutMs: 200,
          retry: { attempts: 100, baseDelayMs: 10, maxDelayMs: 50 },
        },
      },
      { max: 3 },
    );
    const host = nest.get(DataSource);
    // Every connection that carries a log INSERT goes half-open with it; the host's queries pass.
    proxy.silenceOn(/INSERT INTO "(llm_usage_log|audit_log)"/);
    const recorded = Promise.all([
      ...Array.from({ length: 5 }, (_, i) =>
        usage.record(usageEntry(firmId, i)),
      ),
      ...Array.from({ length: 5 }, (_, i) =>
        audit.record({
          firmId,
          action: 'run_extraction',
          entityType: 'cma_project',
          metadata: { pages: i },
        }),
      ),
    ]);
    const latencies: number[] = [];
    // At least 2.5 s of host queries, and on until the writer has given up on more statements than
    // both pools hold together, however slowly a busy machine runs it (20 s at most).
    const started = Date.now();
    const gaveUpOnMore = () =>
      writer.stats().retries > 14 && proxy.silenced > 14;
    while (
      Date.now() - started < 2_500 ||
      (!gaveUpOnMore() && Date.now() - started < 20_000)
    ) {
      const asked = Date.now();
      const [{ n }] = await host.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM firms WHERE id = $1',
        [firmId],
      );
      latencies.push(Date.now() - asked);
      expect(n).toBe(1);
      await pause(20);
    }
    // The writer gave up on many more statements than either pool holds (3 and 4 connections)...
    const givenUp = writer.stats().retries;
    expect(givenUp).toBeGreaterThan(14);
    expect(proxy.silenced).toBeGreaterThan(14);
    expect(logs.warn.length).toBe(givenUp);
    // ...and the host's queries were answered all along, each at once
    expect(latencies.length).toBeGreaterThan(50);
    expect(Math.max(...latencies)).toBeLessThan(300);

    // The way clears: the writer finds free connections in its own pool and writes everything.
    proxy.restore();
    const ids = await recorded;
    expect(writer.stats()).toMatchObject({ rowsWritten: 10, rowsFailed: 0 });
    await expectAllStoredOnce(firmId, {
      usage: ids.slice(0, 5),
      audit: ids.slice(5),
    });
    expect(logs.error).toEqual([]);
    await nest.close();
  }, 60_000);

  it('waits out a slow link, and a statement answered after its timeout is not written twice', async () => {
    const running = await app({
      writer: {
        statementTimeoutMs: 300,
        retry: { attempts: 40, baseDelayMs: 20, maxDelayMs: 200 },
      },
    });
    const { nest, firmId, writer, logs } = running;
    const { stored, failures } = await underLoad(running, async () => {
      proxy.slow(500); // longer than the timeout: statements arrive, and are answered, late
      await pause(1_500);
      proxy.restore();
      await pause(500);
    });
    await writer.flush();
    await pause(1_000); // answers still held by the slow link arrive, and are ignored

    expect(failures).toEqual([]);
    expect(writer.stats()).toMatchObject({ rowsFailed: 0 });
    expect(writer.stats().retries).toBeGreaterThan(0);
    expect(logs.error).toEqual([]);
    await expectAllStoredOnce(firmId, stored);
    await nest.close();
  }, 60_000);

  it('stays away past the retry budget: the buffer keeps its bound, the policy applies, and the counters say what was lost', async () => {
    const { nest, firmId, usage, writer, logs } = await app({
      writer: {
        retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 },
        batchSize: 10,
        bufferSize: 50,
        onFullBuffer: 'reject',
        bufferedDelayMs: 10,
      },
    });
    proxy.cut();
    try {
      let deepest = 0;
      const sampler = setInterval(() => {
        deepest = Math.max(deepest, writer.stats().bufferDepth.llm_usage_log);
      }, 2);
      const awaited = Array.from({ length: 20 }, (_, i) =>
        usage.record(usageEntry(firmId, i)).then(
          () => 'stored',
          (error: unknown) => error,
        ),
      );
      let accepted = 0;
      let refused = 0;
      for (let i = 0; i < 100; i++) {
        try {
          await usage.record(usageEntry(firmId, 100 + i), {
            durability: 'buffered',
          });
          accepted++;
        } catch (error) {
          expect(error).toBeInstanceOf(LogBufferFullError);
          refused++;
        }
      }
      const outcomes = await Promise.all(awaited);
      await writer.flush();
      clearInterval(sampler);

      expect(deepest).toBeLessThanOrEqual(50);
      expect(refused).toBeGreaterThan(0); // 'reject': refused, not queued beyond the bound
      for (const outcome of outcomes) {
        expect(outcome).toBeInstanceOf(LogWriteError); // each awaited caller was told
      }
      const stats = writer.stats();
      expect(stats.rowsRejected).toBe(refused);
      expect(stats.rowsFailed).toBe(outcomes.length + accepted);
      expect(stats.rowsWritten).toBe(0);
      expect(stats.bufferDepth.llm_usage_log).toBe(0);
      // every lost row is in an error line, each line naming its count; nothing else is an error
      const lost = logs.error.map((line) =>
        Number(/(\d+) row\(s\) could not be written/.exec(line)?.[1]),
      );
      expect(lost.reduce((sum, rows) => sum + rows, 0)).toBe(stats.rowsFailed);
    } finally {
      proxy.restore();
    }
    // back up: the next row is written, and none of the failed ones appeared after all
    const id = await usage.record(usageEntry(firmId, 0));
    const client = new Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ id: string }>(
      'SELECT id FROM llm_usage_log WHERE firm_id = $1',
      [firmId],
    );
    await client.end();
    expect(rows).toEqual([{ id }]);
    await nest.close();
  }, 60_000);
});

/** The writer's shutdown deadline in the drill, and how much later the SIGKILL comes. */
const SHUTDOWN_MS = 2_000;
const GRACE_MS = 1_000;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The app in a process of its own (test/fixtures/fault-app.ts), compiled once for this file. */
describe('the app is stopped', () => {
  const root = process.cwd();
  const script = join(root, 'dist/fault-app/test/fixtures/fault-app.js');
  let database: TestDatabase;

  beforeAll(async () => {
    const compiled = await run(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'test/fixtures/tsconfig.fault-app.json'),
        '--outDir',
        join(root, 'dist/fault-app'),
      ],
      childEnv({}),
      120_000,
    );
    expect(compiled).toMatchObject({ code: 0, output: '' });
    database = await createTestDatabase();
  }, 130_000);
  afterAll(() => database.drop());

  it('by SIGTERM while holding buffered rows: all of them are in the database before it exits', async () => {
    const setup = await new DataSource(
      demoDataSourceOptions(database.url),
    ).initialize();
    const { firmId } = await seedFirm(setup, `sigterm-${randomUUID()}`);
    await setup.destroy();
    const child = spawn(
      process.execPath,
      [script, 'buffered', database.url, firmId, '500'],
      { env: childEnv({}) },
    );
    const exit = finished(child, 60_000);
    await waitForOutput(child, /accepted 500/, 60_000);
    // held: a 10-minute bufferedDelayMs
    const held = new Client({ connectionString: database.url });
    await held.connect();
    const count = async () =>
      (
        await held.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM llm_usage_log WHERE firm_id = $1',
          [firmId],
        )
      ).rows[0].n;
    expect(await count()).toBe(0);
    child.kill('SIGTERM');
    const { output } = await exit;
    expect(output).not.toMatch(/error/i);
    expect(await count()).toBe(500);
    await held.end();
  }, 90_000);

  /**
   * The drill: 20 loops record 'buffered' rows steadily, the database goes down (or stays up),
   * SIGTERM, and SIGKILL when the grace period ends, as an orchestrator does. Returns what the loops
   * were told, what the writer reported, what the database holds and how long the process took.
   */
  async function drill(databaseDown: boolean) {
    const setup = await new DataSource(
      demoDataSourceOptions(database.url),
    ).initialize();
    const { firmId } = await seedFirm(setup, `drill-${randomUUID()}`);
    await setup.destroy();
    const proxy = await TcpProxy.start(database.url);
    try {
      const child = spawn(
        process.execPath,
        [
          script,
          'steady',
          proxy.url(database.url),
          firmId,
          '20',
          String(SHUTDOWN_MS),
        ],
        { env: childEnv({}) },
      );
      const exit = finished(child, 60_000);
      await waitForOutput(child, /recording/, 60_000);
      await pause(1_000); // rows are written as they come
      if (databaseDown) {
        proxy.cut();
        await pause(500); // and now pile up
      }
      const signalled = Date.now();
      child.kill('SIGTERM');
      const grace = setTimeout(
        () => child.kill('SIGKILL'),
        SHUTDOWN_MS + GRACE_MS,
      );
      const { signal, output } = await exit;
      const took = Date.now() - signalled;
      clearTimeout(grace);
      proxy.restore();
      const text = stripVTControlCharacters(output);
      const told =
        /accepted usage=(\d+) audit=(\d+) refused=(\d+) other=(\d+)/.exec(text);
      const reported = { llm_usage_log: 0, audit_log: 0 };
      const unanswered = { llm_usage_log: 0, audit_log: 0 };
      for (const [, table, rows, , , sent] of text.matchAll(
        /(llm_usage_log|audit_log): (\d+) accepted row\(s\) not written by the shutdown deadline [^:]*: (\d+) queued, (\d+) tried and refused, (\d+) sent without an answer/g,
      )) {
        reported[table as keyof typeof reported] += Number(rows);
        unanswered[table as keyof typeof reported] += Number(sent);
      }
      const client = new Client({ connectionString: database.url });
      await client.connect();
      const { rows } = await client.query<{ usage: number; audit: number }>(
        `SELECT (SELECT count(*)::int FROM llm_usage_log WHERE firm_id = $1) AS usage,
                (SELECT count(*)::int FROM audit_log WHERE firm_id = $1) AS audit`,
        [firmId],
      );
      await client.end();
      return {
        signal,
        took,
        output: text,
        accepted: { usage: Number(told?.[1]), audit: Number(told?.[2]) },
        refused: Number(told?.[3]),
        other: Number(told?.[4]),
        reported,
        unanswered,
        stored: rows[0],
      };
    } finally {
      await proxy.close();
    }
  }

  it.each([
    ['down', true],
    ['up', false],
  ])(
    'by SIGTERM under steady buffered traffic with the database %s: it exits within writer.shutdownTimeoutMs, before the SIGKILL, and every accepted row is stored or reported',
    async (_, databaseDown) => {
      const run = await drill(databaseDown);
      // the process ended by itself, its signal re-raised by Nest, before the SIGKILL
      expect(run.signal).toBe('SIGTERM');
      expect(run.took).toBeLessThan(SHUTDOWN_MS + GRACE_MS);
      // every loop was refused in the end, and told so
      expect(run).toMatchObject({ refused: 20, other: 0 });
      expect(run.accepted.usage).toBeGreaterThan(100);
      expect(run.accepted.audit).toBeGreaterThan(100);
      // stored = accepted - reported, per table, but for rows whose statement was sent without an
      // answer: the database may have committed them as the way was cut
      for (const [table, key] of [
        ['llm_usage_log', 'usage'],
        ['audit_log', 'audit'],
      ] as const) {
        const lower = run.accepted[key] - run.reported[table];
        expect(run.stored[key]).toBeGreaterThanOrEqual(lower);
        expect(run.stored[key]).toBeLessThanOrEqual(
          lower + run.unanswered[table],
        );
      }
      if (databaseDown) {
        // the rows that piled up were reported, per table
        expect(run.reported.llm_usage_log).toBeGreaterThan(0);
        expect(run.reported.audit_log).toBeGreaterThan(0);
        expect(run.took).toBeGreaterThanOrEqual(SHUTDOWN_MS - 100);
      } else {
        expect(run.reported).toEqual({ llm_usage_log: 0, audit_log: 0 });
      }
    },
    60_000,
  );

  it("by kill -9 under load with durability 'await': every request that got its response has its audit row", async () => {
    const setup = await new DataSource(
      demoDataSourceOptions(database.url),
    ).initialize();
    const firm = await seedFirm(setup, `sigkill-${randomUUID()}`);
    await setup.destroy();
    const child = spawn(process.execPath, [script, 'http', database.url], {
      env: childEnv({}),
    });
    const exit = finished(child, 60_000);
    const [, port] = await waitForOutput(child, /listening (\d+)/, 60_000);
    const answered: string[] = [];
    let killed = false;
    const client = async () => {
      while (!killed) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/projects`, {
            method: 'POST',
            headers: { 'x-test-firm': firm.firmId, 'x-test-user': firm.userId },
          });
          if (response.status === 201) {
            answered.push(((await response.json()) as { id: string }).id);
          }
        } catch {
          // the process is gone: this request got no response
        }
      }
    };
    const load = Array.from({ length: 8 }, client);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    child.kill('SIGKILL');
    killed = true;
    await Promise.all(load);
    const { signal } = await exit;
    expect(signal).toBe('SIGKILL');
    expect(answered.length).toBeGreaterThan(20);
    const stored = await idsIn(
      database.url,
      'audit_log',
      'entity_id',
      answered,
    );
    expect(answered.filter((id) => !stored.has(id))).toEqual([]);
  }, 90_000);
});
