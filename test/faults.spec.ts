import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import {
  type EmbeddedPostgresHandle,
  ensureDatabase,
  startEmbeddedPostgres,
} from '../src/demo/database/embedded-postgres.js';
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
import {
  childEnv,
  finished,
  freePort,
  run,
  waitForOutput,
} from './support/processes.js';
import { seedFirm } from './support/seed.js';

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
 * A PostgreSQL of this file's own, which it can stop and start again (the shared test server
 * cannot be: other files use it).
 */
describe('the database goes away', () => {
  let parent: string;
  let port: number;
  let server: EmbeddedPostgresHandle;
  let url: string;

  const startServer = async () => {
    server = await startEmbeddedPostgres({
      dataDir: join(parent, 'data'),
      port,
      persistent: true,
    });
  };

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'logging-faults-'));
    await chmod(parent, 0o755);
    port = await freePort();
    await startServer();
    await ensureDatabase(server.url('postgres'), 'faults');
    url = server.url('faults');
    const setup = await new DataSource(demoDataSourceOptions(url)).initialize();
    await setup.runMigrations();
    await setup.destroy();
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    await rm(parent, { recursive: true, force: true });
  });

  async function app(options: LoggingModuleOptions) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          ...demoDataSourceOptions(url),
          extra: { connectionTimeoutMillis: 1_000 },
        }),
        LoggingModule.forRoot(options),
      ],
    }).compile();
    const nest: INestApplication = moduleRef.createNestApplication({
      logger: false,
    });
    await nest.init();
    const dataSource = nest.get(DataSource);
    const firm = await seedFirm(dataSource, `faults-${randomUUID()}`);
    return {
      nest,
      firmId: firm.firmId,
      usage: nest.get(LlmUsageService),
      audit: nest.get(AuditLogService),
      writer: nest.get(LogWriterService),
    };
  }

  it('restarts under load in both durabilities: every resolved record() is stored, and the writer recovers by itself', async () => {
    const { nest, firmId, usage, audit, writer } = await app({
      writer: { retry: { attempts: 40, baseDelayMs: 50, maxDelayMs: 400 } },
    });
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
    const before = { usage: stored.usage.length };
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await startServer();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    running = false;
    await Promise.all(load);
    await writer.flush();

    const stats = writer.stats();
    expect(failures).toEqual([]);
    expect(stats.rowsFailed).toBe(0);
    expect(stats.retries).toBeGreaterThan(0); // the outage was felt
    expect(before.usage).toBeGreaterThan(0);
    expect(stored.usage.length).toBeGreaterThan(before.usage); // and lived through
    const usageIds = await idsIn(url, 'llm_usage_log', 'id', stored.usage);
    const auditIds = await idsIn(url, 'audit_log', 'id', stored.audit);
    expect(usageIds.size).toBe(stored.usage.length);
    expect(auditIds.size).toBe(stored.audit.length);
    // nothing more either: a batch retried after a lost acknowledgement is not stored twice
    const client = new Client({ connectionString: url });
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
    // and it writes again at once
    const id = await usage.record(usageEntry(firmId, 0));
    expect((await idsIn(url, 'llm_usage_log', 'id', [id])).size).toBe(1);
    await nest.close();
  }, 60_000);

  it('stays away past the retry budget: the buffer keeps its bound, the policy applies, and the counters say what was lost', async () => {
    const { nest, firmId, usage, writer } = await app({
      writer: {
        retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 },
        batchSize: 10,
        bufferSize: 50,
        onFullBuffer: 'reject',
        bufferedDelayMs: 10,
      },
    });
    await server.stop();
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
    } finally {
      await startServer();
    }
    // back up: the next row is written, and none of the failed ones appeared after all
    const id = await usage.record(usageEntry(firmId, 0));
    const client = new Client({ connectionString: url });
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
