import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  cp,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { childEnv, run, waitForOutput } from './support/processes.js';

/**
 * The package as a host meets it: `npm pack` (its `prepack` builds), then `npm install` of the
 * tarball into a scratch app outside the repository, offline. The module's own dependencies are
 * copied from this repository's node_modules first, so npm finds them satisfied and downloads
 * nothing; the peers (Nest, TypeORM, rxjs, the driver) are linked from it, as a host's own. The
 * host (test/fixtures/package-host) imports the module by its package name only, is type-checked
 * against the installed declarations, boots, runs its migrations, audits one request and tracks one
 * LLM call. `@opentelemetry/api`, an optional peer, is not installed: the module runs without it.
 */

const root = resolve(import.meta.dirname, '..');
const fixture = join(root, 'test/fixtures/package-host');
const PEERS = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/typeorm',
  '@nestjs/platform-express',
  '@types/node',
  'typeorm',
  'rxjs',
  'reflect-metadata',
  'pg',
];

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

const manifestOf = async (dir: string): Promise<Manifest> =>
  JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Copies `name` and everything it depends on from the repository's (hoisted) node_modules. */
async function copyDependency(
  name: string,
  target: string,
  seen: Set<string>,
): Promise<void> {
  if (seen.has(name)) return;
  seen.add(name);
  const source = join(root, 'node_modules', name);
  await cp(source, join(target, 'node_modules', name), { recursive: true });
  const { dependencies = {} } = await manifestOf(source);
  for (const dependency of Object.keys(dependencies)) {
    await copyDependency(dependency, target, seen);
  }
}

describe('the packed module installed into a host app', () => {
  let scratch: string;
  let database: TestDatabase;
  let host: ChildProcess | undefined;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'logging-host-'));
    database = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    host?.kill('SIGKILL');
    await database?.drop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('packs only the built module and its documents', async () => {
    const packed = await run(
      'npm',
      ['pack', '--json', '--pack-destination', scratch],
      childEnv({}),
      120_000,
    );
    expect(packed.code).toBe(0);
    const [tarball] = JSON.parse(
      packed.output.slice(packed.output.indexOf('[')),
    ) as { filename: string; files: { path: string }[] }[];
    const files = tarball.files.map((file) => file.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'CHANGELOG.md',
        'LICENSE',
        'dist/src/logging/index.js',
        'dist/src/logging/index.d.ts',
        // The dashboard's page and chart library: served from the package, no CDN.
        ...[
          'index.html',
          'dashboard.js',
          'dashboard.css',
          'uPlot.iife.min.js',
          'uPlot.min.css',
          'uPlot.LICENSE',
        ].map((file) => `dist/src/logging/dashboard/assets/${file}`),
      ]),
    );
    const strays = files.filter(
      (path) =>
        !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(
          path,
        ) &&
        !/^dist\/src\/logging\/.+\.(js|d\.ts)$/.test(path) &&
        !/^dist\/src\/logging\/dashboard\/assets\/[\w.-]+$/.test(path),
    );
    expect(strays).toEqual([]);
    expect(files.filter((path) => path.includes('.spec.'))).toEqual([]);
  }, 180_000);

  it('installs offline without the optional @opentelemetry/api, type-checks the host against it, boots, migrates, audits a request and tracks an LLM call', async () => {
    const [tarball] = (await readdir(scratch)).filter((f) =>
      f.endsWith('.tgz'),
    );
    expect(tarball).toBeDefined();
    const app = join(scratch, 'host');
    await mkdir(join(app, 'node_modules'), { recursive: true });
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'scratch-host', private: true, type: 'module' }),
    );
    const { dependencies = {} } = await manifestOf(root);
    const seen = new Set<string>();
    for (const dependency of Object.keys(dependencies)) {
      await copyDependency(dependency, app, seen);
    }

    const installed = await run(
      'npm',
      [
        'install',
        '--offline',
        '--ignore-scripts',
        '--legacy-peer-deps',
        '--no-audit',
        '--no-fund',
        '--prefix',
        app,
        join(scratch, tarball),
      ],
      childEnv({}),
      120_000,
    );
    expect(installed.output).not.toMatch(/ENOTCACHED|ERR!/);
    expect(installed.code).toBe(0);
    const pkg = await manifestOf(join(app, 'node_modules/@cma/logging'));
    expect(pkg.name).toBe('@cma/logging');
    const manifest = JSON.parse(
      await readFile(
        join(app, 'node_modules/@cma/logging/package.json'),
        'utf8',
      ),
    ) as { peerDependenciesMeta?: Record<string, { optional?: boolean }> };
    expect(manifest.peerDependenciesMeta?.['@opentelemetry/api']).toEqual({
      optional: true,
    });
    expect(existsSync(join(app, 'node_modules/@opentelemetry/api'))).toBe(
      false,
    );

    for (const peer of PEERS) {
      const link = join(app, 'node_modules', peer);
      await mkdir(dirname(link), { recursive: true });
      await symlink(join(root, 'node_modules', peer), link, 'dir');
    }
    for (const file of [
      'main.ts',
      'host.entities.ts',
      'host-tables.migration.ts',
      'tsconfig.json',
    ]) {
      await cp(join(fixture, file), join(app, file));
    }
    const source = await readFile(join(app, 'main.ts'), 'utf8');
    const moduleImports = [
      ...source.matchAll(/from '(@cma\/[^']+|\.\.?\/[^']+)'/g),
    ].map((match) => match[1]);
    expect(moduleImports).toEqual([
      '@cma/logging',
      '@cma/logging/dashboard',
      '@cma/logging/seals',
      './host.entities.js',
      './host-tables.migration.js',
    ]);

    const compiled = await run(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', app],
      childEnv({}),
      120_000,
    );
    expect(compiled.output).toBe('');
    expect(compiled.code).toBe(0);

    host = spawn(process.execPath, [join(app, 'dist/main.js')], {
      cwd: app,
      env: childEnv({ DATABASE_URL: database.url }),
    });
    const [, url] = await waitForOutput(host, /host listening on (\S+)/);

    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const applied = await client.query<{ name: string }>(
        'SELECT name FROM migrations ORDER BY id',
      );
      expect(applied.rows.map((row) => row.name)).toEqual(
        expect.arrayContaining([
          'CreateHostTables1700000000000',
          'CreateLoggingTables1795305660000',
        ]),
      );
      const firmId = randomUUID();
      const userId = randomUUID();
      const projectId = randomUUID();
      await client.query(`INSERT INTO firms (id, name) VALUES ($1, 'host')`, [
        firmId,
      ]);
      await client.query(`INSERT INTO users (id, firm_id) VALUES ($1, $2)`, [
        userId,
        firmId,
      ]);
      await client.query(
        `INSERT INTO cma_projects (id, firm_id) VALUES ($1, $2)`,
        [projectId, firmId],
      );

      const response = await fetch(
        `${url.replace('[::1]', '127.0.0.1')}/projects/${projectId}/download`,
        {
          method: 'POST',
          headers: { 'x-firm-id': firmId, 'x-user-id': userId },
        },
      );
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ projectId, downloaded: true });

      const summarized = await fetch(
        `${url.replace('[::1]', '127.0.0.1')}/projects/${projectId}/summarize`,
        { method: 'POST', headers: { 'x-firm-id': firmId } },
      );
      expect(summarized.status).toBe(201);
      expect(await summarized.json()).toEqual({ projectId, summarized: true });
      const usage = await client.query(
        `SELECT model, cost_usd::text AS cost_usd, success FROM llm_usage_log WHERE firm_id = $1`,
        [firmId],
      );
      expect(usage.rows).toEqual([
        { model: 'gemini-2.5-flash', cost_usd: '0.000055', success: true },
      ]);
      // The dashboard serves its page and chart library from the installed package.
      for (const path of ['/logs/', '/logs/assets/uPlot.iife.min.js']) {
        const asset = await fetch(
          `${url.replace('[::1]', '127.0.0.1')}${path}`,
          { headers: { 'x-firm-id': firmId } },
        );
        expect(asset.status).toBe(200);
        expect((await asset.text()).length).toBeGreaterThan(1000);
      }

      const { rows } = await client.query(
        `SELECT firm_id, user_id, action, entity_type, entity_id, metadata->>'outcome' AS outcome
           FROM audit_log`,
      );
      expect(rows).toEqual([
        {
          firm_id: firmId,
          user_id: userId,
          action: 'download_cma',
          entity_type: 'cma_project',
          entity_id: projectId,
          outcome: 'success',
        },
      ]);

      // Sealing on demand, its error class imported from @cma/logging/seals: one seal per log.
      const sealed = await fetch(`${url.replace('[::1]', '127.0.0.1')}/seals`, {
        method: 'POST',
      });
      expect(sealed.status).toBe(201);
      expect(await sealed.json()).toEqual({ sealed: 2 });
      const seals = await client.query(
        `SELECT log, seq, row_count::int AS rows FROM log_seal WHERE firm_id = $1 ORDER BY log`,
        [firmId],
      );
      expect(seals.rows).toEqual([
        { log: 'audit_log', seq: 1, rows: 1 },
        { log: 'llm_usage_log', seq: 1, rows: 1 },
      ]);
    } finally {
      await client.end();
    }
  }, 240_000);
});
