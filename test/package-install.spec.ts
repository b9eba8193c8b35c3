import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
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
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { childEnv, finished, run, waitForOutput } from './support/processes.js';

/**
 * The package as a new host meets it. `npm pack` (its `prepack` builds) gives the tarball: its
 * files, source maps, links and `npm publish --dry-run` are checked. Then `npm install` of the
 * tarball, offline, into a folder of hosts outside the repository: the module's own dependencies
 * are copied from this repository's node_modules first, so npm finds them satisfied and downloads
 * nothing; the peers (Nest, TypeORM, rxjs, the driver, TypeScript) are linked from it, as a host's
 * own. `@opentelemetry/api`, an optional peer, is not installed: the module runs without it.
 *
 * Each host follows the packed README's "Adding the module to a host" and nothing else: the
 * README's `typeorm migration:create` names its migration with the current time (so it sorts after
 * the module's migrations), the README's migration, `data-source.ts`, `app.module.ts` and
 * `package.json` scripts are copied as written (the timestamp of the README's example replaced by
 * the generated one), and its own code (test/fixtures/package-host: a guard, routes, a host entity)
 * imports the module by its package name only. A CommonJS host (the Nest CLI's default: no
 * `"type"`, TypeScript `module: nodenext`) and an ES module host each run on Node 22 and on Node 24
 * (`.ci/node`), in a host folder and database of their own: `npm run migration:run` (the README's
 * script: the host's build under `strict`, then the TypeORM CLI), boot, one write through a host
 * entity, one audited request, one tracked call, a seal, the rows read back and both shipped
 * verifiers run on them.
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
  'typescript',
];
/** The commands the peers give a host, as `npm install` would link them. */
const BINS = {
  typeorm: '../typeorm/cli.js',
  tsc: '../typescript/bin/tsc',
};
const MAJORS = ['22', '24'] as const;
type Major = (typeof MAJORS)[number];
/** The newest of the module's migrations: a host migration made today sorts after it. */
const LAST_MODULE_MIGRATION = 1795305940000;
const MODULE_MIGRATIONS = [
  'CreateLoggingTables',
  'AppendOnlyLogs',
  'AddLlmUsageLogFirmCreatedAtIndex',
  'CreateCreditLedger',
  'CreateDailyRollups',
  'CreateLogSeals',
  'DatabaseGuarantees',
  'LedgerRunningBalance',
  'SealRuns',
  'SealReferenceGroups',
  'AddLlmUsageLogFirmCostIndex',
  'AddAuditLogFirmCreatedAtIndex',
  'LogPartitions',
];

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  bin?: Record<string, string>;
  repository?: { type: string; url: string };
  publishConfig?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
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

/** The README's host section: its files (a ```ts block whose first line is `// <path>`), scripts and command. */
interface HostSteps {
  /** `npx typeorm migration:create src/migrations/CreateHostTables`, as the README writes it. */
  create: string[];
  /** The timestamp of the README's example migration, replaced by the generated one. */
  example: string;
  files: { path: string; code: string }[];
  scripts: Record<string, string>;
}

function hostSteps(readme: string): HostSteps {
  const start = readme.indexOf('## Adding the module to a host\n');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map(
    ([, lang, code]) => ({ lang, code }),
  );
  const files = blocks
    .filter((b) => b.lang === 'ts')
    .map(({ code }) => ({
      path: /^\/\/ (src\/\S+\.ts)\n/.exec(code)?.[1] ?? '',
      code,
    }));
  const command = blocks
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => b.code.split('\n'))
    .find((line) => line.startsWith('npx typeorm migration:create '));
  const json = blocks.find((b) => b.lang === 'json');
  const migration = files.find((f) => f.path.startsWith('src/migrations/'));
  return {
    create: command?.split(' ').slice(2) ?? [],
    example: /\/(\d{13})-/.exec(migration?.path ?? '')?.[1] ?? '',
    files,
    scripts: json
      ? (JSON.parse(json.code) as { scripts: Record<string, string> }).scripts
      : {},
  };
}

/** GitHub's anchors of a Markdown file's headings. */
function anchorsOf(markdown: string): Set<string> {
  const headings = markdown
    .replace(/^```[\s\S]*?^```$/gm, '')
    .split('\n')
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) =>
      line
        .replace(/^#+ /, '')
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  return new Set(headings);
}

describe('the packed module', () => {
  let scratch: string;
  let packed: string;
  let files: string[];
  let tarball: string;
  const nodeBins = {} as Record<Major, string>;
  const databases: TestDatabase[] = [];
  const hosts = () => join(scratch, 'hosts');

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'logging-host-'));
    const [pack, ...bins] = await Promise.all([
      run(
        'npm',
        ['pack', '--json', '--pack-destination', scratch],
        childEnv({}),
        180_000,
      ),
      ...MAJORS.map((major) =>
        run('bash', ['.ci/node', major], childEnv({}), 120_000, root),
      ),
    ]);
    if (pack.code !== 0) throw new Error(pack.output);
    const [packInfo] = JSON.parse(
      pack.output.slice(pack.output.search(/^\[$/m)),
    ) as { filename: string; files: { path: string }[] }[];
    files = packInfo.files.map((file) => file.path).sort();
    tarball = join(scratch, packInfo.filename);
    MAJORS.forEach((major, i) => {
      const bin = bins[i].output
        .split('\n')
        .find((line) => line.startsWith('/'));
      if (bins[i].code !== 0 || !bin) throw new Error(bins[i].output);
      nodeBins[major] = bin;
    });
    packed = join(scratch, 'packed');
    await mkdir(packed);
    const untar = await run(
      'tar',
      ['-xzf', tarball, '-C', packed],
      childEnv({}),
    );
    if (untar.code !== 0) throw new Error(untar.output);
    packed = join(packed, 'package');
  }, 300_000);
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
    await rm(scratch, { recursive: true, force: true });
  });

  it('holds the built module with its source maps and their sources, the docs, the verifiers, and nothing else', async () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'CHANGELOG.md',
        'LICENSE',
        'dist/src/logging/index.js',
        'dist/src/logging/index.js.map',
        'dist/src/logging/index.d.ts',
        'dist/src/logging/seals/verify-cli.js',
        // the auditors' standalone verifier, beside the page that documents it
        'docs/verify-audit-seals.mjs',
        'docs/tamper-evidence.md',
        'docs/dashboard.png',
        'api/logging.api.md',
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
    // every page of docs/ and every API report
    for (const folder of ['docs', 'api']) {
      for (const file of await readdir(join(root, folder))) {
        if (/\.(md|png)$/.test(file))
          expect(files).toContain(`${folder}/${file}`);
      }
    }
    const strays = files.filter(
      (path) =>
        !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(
          path,
        ) &&
        !/^dist\/src\/logging\/.+\.(js|js\.map|d\.ts)$/.test(path) &&
        !/^dist\/src\/logging\/dashboard\/assets\/[\w.-]+$/.test(path) &&
        !/^docs\/[\w.-]+\.(md|png)$/.test(path) &&
        path !== 'docs/verify-audit-seals.mjs' &&
        !/^api\/[\w.-]+\.api\.md$/.test(path),
    );
    expect(strays).toEqual([]);
    expect(files.filter((path) => path.includes('.spec.'))).toEqual([]);

    // Each source map a .js names is shipped, and carries the sources it maps.
    const scripts = files.filter(
      (path) => path.endsWith('.js') && path.startsWith('dist/'),
    );
    const unmapped: string[] = [];
    let mapped = 0;
    for (const script of scripts) {
      const text = await readFile(join(packed, script), 'utf8');
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
      if (!url) continue;
      mapped++;
      const map = posix.join(posix.dirname(script), url);
      if (!files.includes(map)) {
        unmapped.push(`${script} → ${map} (not packed)`);
        continue;
      }
      const { sources, sourcesContent } = JSON.parse(
        await readFile(join(packed, map), 'utf8'),
      ) as { sources: string[]; sourcesContent?: (string | null)[] };
      if (
        sources.length === 0 ||
        sourcesContent?.length !== sources.length ||
        sourcesContent.some((content) => !content)
      ) {
        unmapped.push(`${map}: sources not inline`);
      }
    }
    expect(unmapped).toEqual([]);
    expect(mapped).toBeGreaterThan(90);

    const manifest = await manifestOf(packed);
    expect(manifest.bin).toEqual({
      'logging-audit-verify': 'dist/src/logging/seals/verify-cli.js',
      'logging-audit-archive': 'dist/src/logging/seals/archive-cli.js',
      'logging-partition': 'dist/src/logging/partitions/partition-cli.js',
    });
    for (const script of [
      'docs/verify-audit-seals.mjs',
      ...Object.values(manifest.bin ?? {}),
    ]) {
      expect([
        script,
        (await readFile(join(packed, script), 'utf8')).split('\n')[0],
      ]).toEqual([script, '#!/usr/bin/env node']);
    }
  });

  it('passes `npm publish --dry-run`: not private, public access, the repository named', async () => {
    const manifest = await manifestOf(packed);
    expect(manifest.name).toBe('@cma/logging');
    // npm's dry run skips the registry's refusal of a private package: the manifest is checked here.
    expect(manifest.private).toBeUndefined();
    expect(manifest.publishConfig).toEqual({ access: 'public' });
    expect(manifest.repository).toEqual({
      type: 'git',
      url: 'git+https://github.com/cma/logging.git',
    });
    const published = await run(
      'npm',
      ['publish', '--dry-run', tarball],
      childEnv({}),
      120_000,
      scratch,
    );
    expect(published.output).toContain(
      `Publishing to https://registry.npmjs.org/ with tag latest and public access (dry-run)`,
    );
    expect(published.output).toContain(`+ @cma/logging@${manifest.version}`);
    // The one warning is about not being logged in: nothing was corrected or refused.
    expect(
      published.output
        .split('\n')
        .filter((line) => /^npm (warn|error)/i.test(line))
        .filter((line) => !/requires you to be logged in/.test(line)),
    ).toEqual([]);
    expect(published.code).toBe(0);
  }, 120_000);

  it('resolves every link of the packed README to a packed file, and each anchor to a heading there', async () => {
    const readme = await readFile(join(packed, 'README.md'), 'utf8');
    const prose = readme.replace(/^```[\s\S]*?^```$/gm, '');
    const links = [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map(
      ([, target]) => target,
    );
    expect(links.length).toBeGreaterThan(20);
    const broken: string[] = [];
    for (const link of links) {
      if (/^[a-z]+:/i.test(link)) {
        // Absolute links may only point into the repository, at files it holds.
        broken.push(`${link}: not a packed file`);
        continue;
      }
      const [path, anchor] = link.split('#');
      const target = join(packed, path || 'README.md');
      if (!existsSync(target)) {
        broken.push(`${link}: no ${path} in the package`);
        continue;
      }
      if (statSync(target).isDirectory()) {
        if ((await readdir(target)).length === 0) broken.push(`${link}: empty`);
        continue;
      }
      if (anchor && !anchorsOf(await readFile(target, 'utf8')).has(anchor)) {
        broken.push(`${link}: no heading #${anchor} in ${path || 'README.md'}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('installs offline into a folder of hosts, without the optional @opentelemetry/api', async () => {
    const app = hosts();
    await mkdir(join(app, 'node_modules'), { recursive: true });
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'hosts', private: true }),
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
        tarball,
      ],
      childEnv({}),
      120_000,
    );
    expect(installed.output).not.toMatch(/ENOTCACHED|ERR!/);
    expect(installed.code).toBe(0);
    const manifest = await manifestOf(join(app, 'node_modules/@cma/logging'));
    expect(manifest.name).toBe('@cma/logging');
    expect(manifest.peerDependenciesMeta?.['@opentelemetry/api']).toEqual({
      optional: true,
    });
    expect(existsSync(join(app, 'node_modules/@opentelemetry/api'))).toBe(
      false,
    );
    for (const bin of [
      'logging-audit-verify',
      'logging-audit-archive',
      'logging-partition',
    ]) {
      expect([bin, existsSync(join(app, 'node_modules/.bin', bin))]).toEqual([
        bin,
        true,
      ]);
    }

    for (const peer of PEERS) {
      const link = join(app, 'node_modules', peer);
      await mkdir(dirname(link), { recursive: true });
      await symlink(join(root, 'node_modules', peer), link, 'dir');
    }
    for (const [bin, target] of Object.entries(BINS)) {
      await symlink(target, join(app, 'node_modules/.bin', bin));
    }
  }, 180_000);

  /**
   * One host made by following the README, on one Node: its folder, its migration named now, its
   * database. Resolves once its rows are checked.
   */
  async function followTheReadme(
    kind: 'cjs' | 'esm',
    major: Major,
  ): Promise<void> {
    const steps = hostSteps(
      await readFile(
        join(hosts(), 'node_modules/@cma/logging/README.md'),
        'utf8',
      ),
    );
    expect(steps.create).toEqual([
      'migration:create',
      'src/migrations/CreateHostTables',
    ]);
    expect(steps.files.map((file) => file.path)).toEqual([
      `src/migrations/${steps.example}-CreateHostTables.ts`,
      'src/host.entity.ts',
      'src/data-source.ts',
      'src/app.module.ts',
    ]);
    expect(Object.keys(steps.scripts)).toContain('migration:run');

    const app = join(hosts(), `${kind}-${major}`);
    await mkdir(join(app, 'src'), { recursive: true });
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({
        name: `host-${kind}-${major}`,
        private: true,
        // A CommonJS package says nothing, as the Nest CLI's does.
        ...(kind === 'esm' ? { type: 'module' } : {}),
        scripts: { build: 'tsc -p tsconfig.json', ...steps.scripts },
      }),
    );
    await cp(join(fixture, 'tsconfig.json'), join(app, 'tsconfig.json'));
    await cp(join(fixture, 'main.ts'), join(app, 'src/main.ts'));
    const database = await createTestDatabase({ migrated: false });
    databases.push(database);
    const env = childEnv({
      PATH: `${nodeBins[major]}:${join(hosts(), 'node_modules/.bin')}:${process.env.PATH}`,
      DATABASE_URL: database.url,
    });
    for (const key of Object.keys(env)) {
      if (key.startsWith('npm_') || key === 'INIT_CWD') delete env[key];
    }
    const version = await run('node', ['--version'], env);
    expect(version.output).toMatch(new RegExp(`^v${major}\\.`));

    // The README's migration:create, run as npx runs it: the host's own typeorm bin.
    const before = Date.now();
    const created = await run('typeorm', steps.create, env, 60_000, app);
    const after = Date.now();
    expect(created).toMatchObject({ code: 0 });
    const [generated] = await readdir(join(app, 'src/migrations'));
    const timestamp = /^(\d{13})-CreateHostTables\.ts$/.exec(generated)?.[1];
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(after);
    expect(Number(timestamp)).toBeGreaterThan(LAST_MODULE_MIGRATION);
    expect(
      await readFile(join(app, 'src/migrations', generated), 'utf8'),
    ).toContain(
      `export class CreateHostTables${timestamp} implements MigrationInterface {`,
    );
    for (const file of steps.files) {
      const path = file.path.replaceAll(steps.example, timestamp!);
      await writeFile(
        join(app, path),
        file.code.replaceAll(steps.example, timestamp!),
      );
    }

    // The README's script builds (under `strict`, the fixture's tsconfig) and migrates.
    const migrated = await run(
      'npm',
      ['run', '-s', 'migration:run'],
      env,
      180_000,
      app,
    );
    expect(migrated.output).not.toMatch(/error TS\d+/);
    expect(migrated).toMatchObject({ code: 0 });
    if (kind === 'cjs' && major === MAJORS[0]) {
      // The package's own declarations type-check in a host too (a Nest host skips them), with
      // the optional @opentelemetry/api absent. The ES module host reads the same files.
      const checked = await run(
        'tsc',
        ['--noEmit', '-p', 'tsconfig.json', '--skipLibCheck', 'false'],
        env,
        180_000,
        app,
      );
      expect(checked).toMatchObject({ output: '', code: 0 });
    }
    const names = [
      `CreateHostTables${timestamp}`,
      ...MODULE_MIGRATIONS.map(
        (name, i) => `${name}${Number(timestamp) + i + 1}`,
      ),
    ];
    for (const name of names) {
      expect(migrated.output).toContain(
        `Migration ${name} has been executed successfully`,
      );
    }

    const host = spawn('node', [join(app, 'dist/main.js')], { cwd: app, env });
    const exited = finished(host, 180_000);
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const [, listening] = await waitForOutput(
        host,
        /host listening on (\S+)/,
      );
      const url = listening.replace('[::1]', '127.0.0.1');
      const applied = await client.query<{ name: string }>(
        'SELECT name FROM migrations ORDER BY id',
      );
      expect(applied.rows.map((row) => row.name)).toEqual(names);

      // A host entity, found by the README's `dist/**/*.entity.js`, writes through TypeORM.
      const created = await fetch(`${url}/firms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${kind} on Node ${major}` }),
      });
      expect(created.status).toBe(201);
      const { id: firmId } = (await created.json()) as { id: string };
      const userId = randomUUID();
      const projectId = randomUUID();
      await client.query(`INSERT INTO users (id, firm_id) VALUES ($1, $2)`, [
        userId,
        firmId,
      ]);
      await client.query(
        `INSERT INTO cma_projects (id, firm_id) VALUES ($1, $2)`,
        [projectId, firmId],
      );

      const downloaded = await fetch(`${url}/projects/${projectId}/download`, {
        method: 'POST',
        headers: { 'x-firm-id': firmId, 'x-user-id': userId },
      });
      expect(downloaded.status).toBe(201);
      expect(await downloaded.json()).toEqual({ projectId, downloaded: true });
      const summarized = await fetch(`${url}/projects/${projectId}/summarize`, {
        method: 'POST',
        headers: { 'x-firm-id': firmId },
      });
      expect(summarized.status).toBe(201);
      expect(await summarized.json()).toEqual({ projectId, summarized: true });

      const audit = await client.query(
        `SELECT f.name AS firm, user_id, action, entity_type, entity_id,
                metadata->>'outcome' AS outcome
           FROM audit_log JOIN firms f ON f.id = audit_log.firm_id`,
      );
      expect(audit.rows).toEqual([
        {
          firm: `${kind} on Node ${major}`,
          user_id: userId,
          action: 'download_cma',
          entity_type: 'cma_project',
          entity_id: projectId,
          outcome: 'success',
        },
      ]);
      const usage = await client.query(
        `SELECT firm_id, cma_project_id, model, cost_usd::text AS cost_usd, success
           FROM llm_usage_log`,
      );
      expect(usage.rows).toEqual([
        {
          firm_id: firmId,
          cma_project_id: projectId,
          model: 'gemini-2.5-flash',
          cost_usd: '0.000055',
          success: true,
        },
      ]);

      // The dashboard serves its page and chart library from the installed package.
      for (const path of ['/logs/', '/logs/assets/uPlot.iife.min.js']) {
        const asset = await fetch(`${url}${path}`, {
          headers: { 'x-firm-id': firmId },
        });
        expect(asset.status).toBe(200);
        expect((await asset.text()).length).toBeGreaterThan(1000);
      }

      // Sealing, once the rows have settled (5 s by default): one seal per log.
      const sealsOf = async () =>
        (
          await client.query<{ log: string; seq: number; rows: number }>(
            `SELECT log, seq, row_count::int AS rows FROM log_seal WHERE firm_id = $1 ORDER BY log`,
            [firmId],
          )
        ).rows;
      for (let tries = 0; (await sealsOf()).length < 2 && tries < 60; tries++) {
        const sealed = await fetch(`${url}/seals`, { method: 'POST' });
        expect(sealed.status).toBe(201);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(await sealsOf()).toEqual([
        { log: 'audit_log', seq: 1, rows: 1 },
        { log: 'llm_usage_log', seq: 1, rows: 1 },
      ]);

      // Both verifiers the package ships, run from the host on its own Node.
      const [standalone, bin] = await Promise.all([
        run(
          'node',
          [
            'node_modules/@cma/logging/docs/verify-audit-seals.mjs',
            '--url',
            database.url,
            '--firm',
            firmId,
          ],
          env,
          60_000,
          hosts(),
        ),
        run(
          'logging-audit-verify',
          ['--url', database.url, '--firm', firmId],
          env,
          60_000,
          app,
        ),
      ]);
      expect(standalone.output).toMatch(
        /VERIFIED: 1 seal\(s\) match their rows/,
      );
      expect(standalone.code).toBe(0);
      expect(bin.output).toMatch(
        new RegExp(
          `VERIFIED  audit_log of firm ${firmId}: 1 seal\\(s\\), 1 row\\(s\\)`,
        ),
      );
      expect(bin.output).toMatch(
        new RegExp(
          `VERIFIED  llm_usage_log of firm ${firmId}: 1 seal\\(s\\), 1 row\\(s\\)`,
        ),
      );
      expect(bin.code).toBe(0);
    } finally {
      await client.end();
      host.kill('SIGTERM');
    }
    const { output } = await exited;
    // Nothing but the one line it prints: no warning, no error.
    expect(output.trim().split('\n')).toEqual([
      expect.stringMatching(/^host listening on /),
    ]);
  }

  it.each([
    ['a CommonJS host (the Nest CLI default, TS module nodenext)', 'cjs'],
    ['an ES module host', 'esm'],
  ] as const)(
    '%s made by the README with a migration named now builds under strict, migrates, audits, tracks and seals, on Node 22 and 24',
    async (_, kind) => {
      await Promise.all(MAJORS.map((major) => followTheReadme(kind, major)));
    },
    300_000,
  );
});
