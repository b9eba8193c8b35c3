import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, chmod, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { AppModule } from '../src/app.module.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import {
  type Finished,
  childEnv,
  finished,
  freePort,
  isAlive,
  processGroup,
  processGroupGone,
  run,
  waitForOutput,
} from './support/processes.js';
import { LOGGING_MIGRATIONS } from '../src/logging/index.js';
import { DEMO_MIGRATIONS } from '../src/demo/migrations/index.js';
import { DemoProcess } from '../src/demo/demo-process.js';
import { idHidesIdentity } from '../src/logging/core/sensitive-values.js';
import { startEmbeddedPostgres } from '../src/demo/database/embedded-postgres.js';

describe('demo host', () => {
  describe('AppModule on an empty database', () => {
    let database: TestDatabase;
    let app: INestApplication;

    beforeAll(async () => {
      database = await createTestDatabase({ migrated: false });
      const moduleRef = await Test.createTestingModule({
        imports: [AppModule.forDatabase(database.url)],
      }).compile();
      app = await moduleRef.createNestApplication().init();
    });
    afterAll(async () => {
      await app.close();
      await database.drop();
    });

    it('runs the migrations at boot', async () => {
      const client = new Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string }>(
          'SELECT name FROM migrations ORDER BY timestamp',
        );
        expect(rows.map((r) => r.name)).toEqual(
          [...DEMO_MIGRATIONS, ...LOGGING_MIGRATIONS].map((m) => m.name),
        );
      } finally {
        await client.end();
      }
    });

    it('answers GET /health', async () => {
      await request(app.getHttpServer() as App)
        .get('/health')
        .expect(200, { status: 'ok', database: 'up' });
    });
  });

  /**
   * Where `npm start` and `npm run demo` run: with DATABASE_URL set (the suite runs on a given
   * server), a database of their own on that server; otherwise an embedded server of their own, in
   * a data folder of their own on a free port.
   */
  function demoDatabase() {
    const given = Boolean(process.env.DATABASE_URL);
    let database: TestDatabase | undefined;
    let dataParent: string | undefined;
    let pgPort = 0;
    beforeAll(async () => {
      if (given) {
        database = await createTestDatabase({ migrated: false });
      } else {
        dataParent = await mkdtemp(join(tmpdir(), 'logging-demo-'));
        await chmod(dataParent, 0o755);
        pgPort = await freePort();
      }
    });
    afterAll(async () => {
      await database?.drop();
      if (dataParent) await rm(dataParent, { recursive: true, force: true });
    });
    return {
      given,
      get pgPort() {
        return pgPort;
      },
      /** The embedded server's data folder (none with DATABASE_URL). */
      get dataDir() {
        return dataParent && join(dataParent, 'pgdata');
      },
      env: (extra: Record<string, string> = {}) =>
        childEnv({
          ...extra,
          ...(given
            ? { DATABASE_URL: database!.url }
            : {
                DATABASE_URL: undefined,
                EMBEDDED_PG_DIR: join(dataParent!, 'pgdata'),
                EMBEDDED_PG_PORT: String(pgPort),
              }),
        }),
      /** How `npm start` names the database it uses. */
      get description() {
        return given
          ? 'Database: DATABASE_URL'
          : `embedded PostgreSQL on port ${pgPort}`;
      },
    };
  }

  describe('npm start', () => {
    const demo = demoDatabase();

    /**
     * Starts `npm start` in a process group of its own, checks that it serves, sends `signal` to
     * the npm process alone (as a supervisor or `kill` does), and returns what ran and what remains.
     */
    async function startThenSignal(signal: 'SIGTERM' | 'SIGINT') {
      const child = spawn('npm', ['start'], {
        detached: true,
        env: demo.env({ PORT: '0' }),
      });
      const exit = finished(child, 90_000);
      try {
        return await checkThenSignal(child, signal, exit);
      } catch (error) {
        if (processGroup(child.pid!).length)
          process.kill(-child.pid!, 'SIGKILL');
        throw error;
      }
    }

    async function checkThenSignal(
      child: ChildProcess,
      signal: NodeJS.Signals,
      exit: Promise<Finished>,
    ) {
      const [, url, dashboard] = await waitForOutput(
        child,
        /Listening on (http:\/\/127\.0\.0\.1:\d+)[^]*Dashboard: (http:\/\/\S+\/dashboard\/)/,
        90_000,
      );
      const response = await fetch(`${url}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok', database: 'up' });
      // It prints the dashboard's URL, which serves the page.
      expect(dashboard).toBe(`${url}/dashboard/`);
      const page = await fetch(dashboard);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain(
        "script-src 'self'",
      );
      // npm, the node process it runs and, without DATABASE_URL, the embedded server
      const running = processGroup(child.pid!);
      const postmaster = demo.given ? undefined : await postmasterPid();
      expect(running.length).toBeGreaterThanOrEqual(demo.given ? 2 : 3);
      if (postmaster) expect(running).toContain(postmaster);

      process.kill(child.pid!, signal);
      const ended = await exit;
      return { pgid: child.pid!, running, postmaster, ...ended };
    }

    /** The pid in the embedded server's postmaster.pid, or undefined when there is none. */
    async function postmasterPid(): Promise<number | undefined> {
      const text = await readFile(
        join(demo.dataDir!, 'postmaster.pid'),
        'utf8',
      ).catch(() => undefined);
      return text === undefined ? undefined : Number(text.split('\n')[0]);
    }

    /** Nothing of the group is left, the embedded server is gone, its port refuses. */
    async function expectAllStopped(pgid: number, postmaster?: number) {
      expect(await processGroupGone(pgid, 5_000)).toEqual([]);
      if (demo.given) return;
      expect(isAlive(postmaster!)).toBe(false);
      expect(await postmasterPid()).toBeUndefined();
      const probe = new Client({
        connectionString: `postgres://postgres:postgres@127.0.0.1:${demo.pgPort}/postgres`,
        connectionTimeoutMillis: 2_000,
      });
      await expect(probe.connect()).rejects.toThrow();
      await probe.end().catch(() => undefined);
    }

    it('starts on its database (the embedded one without DATABASE_URL), serves /health and the dashboard on the port it prints, and SIGTERM to npm stops npm, the app and the embedded PostgreSQL', async () => {
      const started = await startThenSignal('SIGTERM');
      expect(started.output).toContain(demo.description);
      expect(started.output).toContain(
        'SIGTERM: closing the app, then stopping the database it started',
      );
      // npm passes the signal on, and ends by it as its script did
      expect(started.signal).toBe('SIGTERM');
      await expectAllStopped(started.pgid, started.postmaster);
    }, 120_000);

    it('SIGINT to npm stops npm, the app and the embedded PostgreSQL too', async () => {
      const started = await startThenSignal('SIGINT');
      expect(started.output).toContain(
        'SIGINT: closing the app, then stopping the database it started',
      );
      expect(started.signal).toBe('SIGINT');
      await expectAllStopped(started.pgid, started.postmaster);
    }, 120_000);
  });

  describe('DemoProcess: what npm start and npm run demo stop on a signal', () => {
    let dataParent: string;
    let dataDir: string;
    let port: number;
    beforeAll(async () => {
      dataParent = await mkdtemp(join(tmpdir(), 'logging-demo-process-'));
      await chmod(dataParent, 0o755);
      dataDir = join(dataParent, 'pgdata');
      port = await freePort();
    });
    afterAll(() => rm(dataParent, { recursive: true, force: true }));

    const startServer = () =>
      startEmbeddedPostgres({
        dataDir,
        port,
        persistent: true,
        throwaway: true,
      });

    /** The embedded server is down: no postmaster.pid, its port refuses. */
    async function expectServerStopped() {
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
      const probe = new Client({
        connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
        connectionTimeoutMillis: 2_000,
      });
      await expect(probe.connect()).rejects.toThrow();
      await probe.end().catch(() => undefined);
    }

    it.each([
      ['fails', () => Promise.reject(new Error('close failed'))],
      ['hangs past its deadline', () => new Promise<void>(() => undefined)],
    ])(
      "stops the embedded PostgreSQL after the app, also when the app's close %s",
      async (_, close) => {
        const errors: string[] = [];
        const stopped: string[] = [];
        const demo = new DemoProcess({
          closeDeadlineMs: 300,
          logger: {
            log: () => undefined,
            error: (line: string) => errors.push(line),
          },
        });
        const server = await demo.start('the database', startServer, (s) => {
          stopped.push('database');
          return s.stop();
        });
        expect(server.started).toBe(true);
        expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(true);
        await demo.start(
          'the app',
          () => Promise.resolve('app'),
          () => {
            stopped.push('app');
            return close();
          },
          { deadline: true },
        );

        await demo.stop();
        expect(stopped).toEqual(['app', 'database']);
        expect(errors).toEqual([
          expect.stringMatching(
            /^the app did not stop cleanly: Error: (close failed|not closed within 300 ms)/,
          ),
        ]);
        await expectServerStopped();
        // once: a second stop() stops nothing again
        await demo.stop();
        expect(stopped).toEqual(['app', 'database']);
      },
    );

    it('stops a server whose start ends after stop() was called (a signal during boot)', async () => {
      const demo = new DemoProcess({
        logger: { log: () => undefined, error: () => undefined },
      });
      const starting = demo.start('the database', startServer, (s) => s.stop());
      const stopping = demo.stop();
      await expect(starting).rejects.toThrow(
        'stopping: the database is being stopped',
      );
      await stopping;
      await expectServerStopped();
      await expect(
        demo.start(
          'the app',
          () => Promise.resolve(1),
          () => Promise.resolve(),
        ),
      ).rejects.toThrow('stopping: the app was not started');
    });
  });

  describe('npm run demo', () => {
    const demo = demoDatabase();

    it("performs the seed's actions for two firms, prints each firm's trail and exact costs, warns of none of its own actions, seals each firm's rows and prints the audit:verify command that verifies them", async () => {
      const child = spawn('npm', ['run', 'demo'], {
        detached: true,
        env: demo.env(),
      });
      const { code, output } = await finished(child, 170_000);
      expect(code).toBe(0);
      const [, acme, birch] = output.split(/^=== /m);
      expect(acme).toMatch(/^Acme Advisors/);
      expect(birch).toMatch(/^Birch & Co/);
      for (const firm of [acme, birch]) {
        for (const action of [
          'create_project',
          'upload_file',
          'run_extraction',
          'resolve_review',
          'download_cma',
        ]) {
          expect(firm).toContain(action);
        }
        for (const model of [
          'gemini-2.0-flash',
          'gemini-3-flash',
          'gemini-3.1-pro',
        ]) {
          expect(firm).toContain(model);
        }
        // 0.001360 + 0.035700 + 0.330000 + a failed call at 0 (see src/demo/actions)
        expect(firm).toMatch(/total\s+4\s+1\s+300000\s+12900\s+0\.367060/);
      }
      // Birch & Co asked for Acme's project: refused, and on record as a failure
      expect(birch).toMatch(/download_cma\s+generated_file\s+failure/);
      // Each action declares its metadata, which is stored whole: no warning about the demo's own
      // actions (no undeclared action, no key dropped, no picker failing on a refused call). The
      // two warnings left are about the demo's setup: a superuser role, an open dashboard. A
      // project id is drawn by the database: about one random UUID in 70 holds an identity
      // number's shape (docs/metadata-policy.md), and the policy then trims it from the metadata,
      // saying so; only then.
      const projects = new Map(
        [
          ...output.matchAll(
            /^=== (.+) \(firm [0-9a-f-]{36}, project ([0-9a-f-]{36})\) ===$/gm,
          ),
        ].map((match) => [match[1], match[2]]),
      );
      expect(projects.size).toBe(2);
      const shaped = [...projects.values()].filter(idHidesIdentity);
      const warnings = output
        .split('\n')
        .filter((line) => /\bWARN\b/.test(line));
      for (const line of warnings) {
        expect(line).toMatch(
          shaped.length
            ? /a superuser|allowUnauthenticated: true|metadata of action '(upload_file|resolve_review|download_cma)' trimmed by the policy: projectId \(identity_number\)/
            : /a superuser|allowUnauthenticated: true/,
        );
      }
      const acmeProject = projects.get('Acme Advisors')!;
      const picked = idHidesIdentity(acmeProject)
        ? ''
        : `,"projectId":"${acmeProject}"`;
      expect(acme).toMatch(
        /create_project\s+cma_project\s+\S+\s+success\s+\{"nameLength":24\}/,
      );
      expect(acme).toContain(`{"decision":"accept"${picked}}`);
      expect(acme).toContain(`{"format":"xlsx"${picked}}`);
      // It seals both logs of each firm, and prints the command that verifies them: the one of
      // Acme Advisors, run after the demo has ended, verifies every row
      expect(output).toMatch(
        /Acme Advisors +audit_log +seal 1: \d+ rows, digest [0-9a-f]{16}…/,
      );
      expect(output).toMatch(
        /Birch & Co +llm_usage_log +seal 1: \d+ rows, digest [0-9a-f]{16}…/,
      );
      const firmIds = [
        ...output.matchAll(/^=== .+ \(firm ([0-9a-f-]{36}), project /gm),
      ].map((match) => match[1]);
      const commands = [
        ...output.matchAll(/^ {2}npm run audit:verify -- (.+)$/gm),
      ].map((match) => match[1]);
      const target = demo.given
        ? ''
        : `--url postgres://postgres:postgres@127.0.0.1:${demo.pgPort}/cma_logging `;
      expect(commands).toEqual(firmIds.map((id) => `${target}--firm ${id}`));
      const verified = await run(
        'npm',
        ['run', '-s', 'audit:verify', '--', ...commands[0].split(' ')],
        demo.env(),
        120_000,
      );
      for (const log of ['audit_log', 'llm_usage_log']) {
        expect(verified.output).toMatch(
          new RegExp(
            `^VERIFIED  ${log} of firm ${firmIds[0]}: \\d+ seal\\(s\\), [1-9]\\d* row\\(s\\), last seal`,
            'm',
          ),
        );
      }
      expect(verified.output).not.toMatch(/UNSEALED|TAMPERED/);
      expect(verified.code).toBe(0);
      // it started the embedded server for the command, and stopped it after
      if (!demo.given) {
        expect(existsSync(join(demo.dataDir!, 'postmaster.pid'))).toBe(false);
      }

      // It ends by printing where the dashboard is.
      expect(output.trim().split('\n').at(-1)).toMatch(
        /^Dashboard: run npm start, then open http:\/\/127\.0\.0\.1:\d+\/dashboard\/$/,
      );
      // the demo (a build included) and one run of the CLI, on 2 cores shared with others
    }, 300_000);
  });
});
