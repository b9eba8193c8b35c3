import { spawn } from 'node:child_process';
import { mkdtemp, chmod, rm } from 'node:fs/promises';
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
  childEnv,
  finished,
  freePort,
  waitForOutput,
} from './support/processes.js';
import { LOGGING_MIGRATIONS } from '../src/logging/index.js';
import { DEMO_MIGRATIONS } from '../src/demo/migrations/index.js';

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

    it('starts on its database (the embedded one without DATABASE_URL), serves /health on the port it prints, and stops on SIGTERM', async () => {
      const child = spawn('npm', ['start'], {
        detached: true,
        env: demo.env({ PORT: '0' }),
      });
      const exit = finished(child, 90_000);
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

      // npm's process group: npm itself and the node process it runs.
      process.kill(-child.pid!, 'SIGTERM');
      const { output } = await exit;
      expect(output).toContain(demo.description);
      if (demo.given) return;

      // the embedded server it started stopped with it
      const probe = new Client({
        connectionString: `postgres://postgres:postgres@127.0.0.1:${demo.pgPort}/postgres`,
        connectionTimeoutMillis: 2_000,
      });
      await expect(probe.connect()).rejects.toThrow();
      await probe.end().catch(() => undefined);
    }, 120_000);
  });

  describe('npm run demo', () => {
    const demo = demoDatabase();

    it("performs the seed's actions for two firms and prints each firm's trail and exact costs", async () => {
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
      // It ends by printing where the dashboard is.
      expect(output.trim().split('\n').at(-1)).toMatch(
        /^Dashboard: run npm start, then open http:\/\/127\.0\.0\.1:\d+\/dashboard\/$/,
      );
    }, 180_000);
  });
});
