import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  type Type,
  UseGuards,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { DataSource } from 'typeorm';
import { CmaProject, DEMO_ENTITIES } from '../src/demo/entities/index.js';
import type * as Logging from '../src/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { plainUuid } from './support/ids.js';
import { childEnv, run } from './support/processes.js';
import { SINGLE_ROLE } from './support/roles.js';
import { seedFirm } from './support/seed.js';

/**
 * Every TypeScript code block of the README and of docs/ compiles as a new Nest host compiles it,
 * with the text of the docs as it is: each block is a module of its own, in a host whose
 * `node_modules` holds `@cma/logging` as the package ships it (its `package.json` exports and the
 * declarations `npm run build` emits), type-checked with `strict: true` (every strict flag,
 * `strictPropertyInitialization` included), `module`/`moduleResolution` `nodenext`,
 * `isolatedModules`, decorators with their metadata, and `declaration`. Each block is checked twice:
 * in an ES module host (`"type": "module"`) and in a CommonJS one (Nest's CLI default).
 *
 * The examples that record metadata then run, compiled, in an app on the built package and a real
 * database: each row holds what the example declares, read back with SQL.
 */

const root = resolve(import.meta.dirname, '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

interface Block {
  file: string;
  line: number;
  code: string;
}

async function blocks(): Promise<Block[]> {
  const files = [
    'README.md',
    ...(await readdir(join(root, 'docs')))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const found: Block[] = [];
  for (const file of files) {
    const lines = (await readFile(join(root, file), 'utf8')).split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
      const start = i + 1;
      let end = start;
      while (end < lines.length && !lines[end].startsWith('```')) end++;
      found.push({
        file,
        line: start + 1,
        code: lines.slice(start, end).join('\n'),
      });
      i = end;
    }
  }
  return found;
}

/**
 * `<scratch>/node_modules`: the project's packages, each a link, and `@cma/logging` as installed
 * from the tarball: its package.json and its build, JavaScript and declarations (a host compiles
 * against those, with `skipLibCheck`, never against the module's sources and their settings).
 */
async function hostModules(scratch: string): Promise<void> {
  const modules = join(scratch, 'node_modules');
  await mkdir(modules);
  for (const entry of await readdir(join(root, 'node_modules'))) {
    if (entry === '@cma') continue;
    await symlink(join(root, 'node_modules', entry), join(modules, entry));
  }
  const pkg = join(modules, '@cma/logging');
  await mkdir(pkg, { recursive: true });
  const manifest = JSON.parse(
    await readFile(join(root, 'package.json'), 'utf8'),
  ) as Record<string, unknown>;
  const { name, version, type, exports, main, types } = manifest;
  await writeFile(
    join(pkg, 'package.json'),
    JSON.stringify({ name, version, type, exports, main, types }),
  );
  const emitted = await run(
    process.execPath,
    [
      tsc,
      '-p',
      join(root, 'tsconfig.build.json'),
      '--sourceMap',
      'false',
      '--inlineSources',
      'false',
      '--outDir',
      join(pkg, 'dist'),
    ],
    childEnv({}),
    180_000,
  );
  if (emitted.code !== 0) throw new Error(emitted.output);
}

/**
 * The blocks that record metadata, each run below: a file, and a text only its block holds. A block
 * that passes `metadata` to `@Audit`, `record()` or the ledger and is not listed fails the suite.
 */
const RECORDING_EXAMPLES = [
  ['docs/metadata-policy.md', 'class FilesController'],
  ['docs/auditing.md', 'class ProjectsController'],
  ['docs/auditing.md', 'class RefusalAuditFilter'],
  ['docs/writer-and-durability.md', 'class ProjectsService'],
  ['docs/ledger.md', 'const spend = await ledger.deduct'],
] as const;

interface Compiled {
  blocks: Block[];
  /** Each block's file name in the scratch host, without its extension. */
  names: string[];
  diagnostics: string[];
  code: number | null;
}

/** Writes every block into an ES module host and a CommonJS host and compiles both at once. */
async function compileBlocks(scratch: string): Promise<Compiled> {
  const found = await blocks();
  // A block whose first line names its file (`// src/data-source.ts`, the README's host files) is
  // written at that path beside the other files of its document, so they import each other.
  const names = found.map((block) => {
    const path = /^\/\/ (src\/[\w./-]+)\.ts\n/.exec(block.code)?.[1];
    const doc = block.file.replace(/[/.]/g, '_');
    return path ? `${doc}/${path}` : `${doc}_L${block.line}`;
  });
  const files: string[] = [];
  for (const [kind, type] of [
    ['esm', 'module'],
    ['cjs', 'commonjs'],
  ] as const) {
    const manifest = `{ "type": "${type}" }`;
    await mkdir(join(scratch, kind));
    await writeFile(join(scratch, kind, 'package.json'), manifest);
    await mkdir(join(scratch, 'out', kind), { recursive: true });
    await writeFile(join(scratch, 'out', kind, 'package.json'), manifest);
    for (const [i, block] of found.entries()) {
      // `export {}` makes a block without imports a module too; the block's text is unchanged.
      await mkdir(dirname(join(scratch, kind, `${names[i]}.ts`)), {
        recursive: true,
      });
      await writeFile(
        join(scratch, kind, `${names[i]}.ts`),
        `${block.code}\nexport {};\n`,
      );
      files.push(`${kind}/${names[i]}.ts`);
    }
  }
  await writeFile(
    join(scratch, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2023',
        lib: ['es2023'],
        types: ['node'],
        strict: true,
        isolatedModules: true,
        esModuleInterop: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        declaration: true,
        outDir: 'out',
        rootDir: '.',
        skipLibCheck: true,
        forceConsistentCasingInFileNames: true,
      },
      files,
    }),
  );
  const compiled = await run(
    process.execPath,
    [tsc, '-p', scratch],
    childEnv({}),
    180_000,
  );
  // Name each error by its document and line (and the host's kind), not by the scratch file.
  const byName = new Map(names.map((name, i) => [name, found[i]]));
  const errors = compiled.output.replace(
    /(esm|cjs)\/([A-Za-z0-9_/.-]+?)\.ts\((\d+),(\d+)\)/g,
    (whole, kind: string, name: string, row: string) => {
      const block = byName.get(name);
      return block
        ? `${block.file}:${block.line + Number(row) - 1} (${kind})`
        : whole;
    },
  );
  return {
    blocks: found,
    names,
    diagnostics: errors.split(/\n(?=\S)/).filter((d) => d.trim() !== ''),
    code: compiled.code,
  };
}

describe('code blocks of the README and docs/', () => {
  let scratch: string;
  let compiled: Compiled;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'logging-docs-'));
    await hostModules(scratch);
    compiled = await compileBlocks(scratch);
  }, 360_000);
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('are there: every documented feature shows code', () => {
    expect(
      new Set(compiled.blocks.map((b) => b.file)).size,
    ).toBeGreaterThanOrEqual(6);
  });

  it('compile as written in a strict host, ES module and CommonJS, against the packed declarations', () => {
    // One rule is the ES module's alone: a block that awaits at its top level (a fragment, as in
    // `const page = await trail.trail(...)`) is written inside an async function in a CommonJS
    // host. Every other error counts, in both kinds of host.
    const topLevelAwait = /\(cjs\): error TS1309:/;
    expect(compiled.diagnostics.filter((d) => !topLevelAwait.test(d))).toEqual(
      [],
    );
    if (compiled.diagnostics.length === 0) expect(compiled.code).toBe(0);
  });

  describe('the examples that record metadata store what they declare', () => {
    let database: TestDatabase;
    let logging: typeof Logging;
    let firm: Awaited<ReturnType<typeof seedFirm>>;
    let app: INestApplication | undefined;
    const globals: string[] = [];

    /** The compiled block of `file` that holds `marker`, imported as the ES module host runs it. */
    async function example<T>(
      file: (typeof RECORDING_EXAMPLES)[number][0],
      marker: string,
    ): Promise<T> {
      const at = compiled.blocks.findIndex(
        (b) => b.file === file && b.code.includes(marker),
      );
      if (at < 0) throw new Error(`no block of ${file} holds ${marker}`);
      return (await import(
        join(scratch, 'out/esm', `${compiled.names[at]}.js`)
      )) as T;
    }

    /** What a block leaves to the host (`declare const ledger: ...`), as globals of the run. */
    function provide(values: Record<string, unknown>): void {
      for (const [name, value] of Object.entries(values)) {
        (globalThis as Record<string, unknown>)[name] = value;
        globals.push(name);
      }
    }

    /** A host on the built package: its connection, the one LoggingModule, and `metadata`. */
    async function host(
      options: Logging.LoggingModuleOptions,
      metadata: { controllers?: Type[]; providers?: unknown[] } = {},
    ): Promise<INestApplication> {
      const moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({
            type: 'postgres',
            url: database.url,
            entities: [...DEMO_ENTITIES, ...logging.LOGGING_ENTITIES],
          }),
          logging.LoggingModule.forRoot({ ...SINGLE_ROLE, ...options }),
        ],
        controllers: metadata.controllers ?? [],
        providers: (metadata.providers ?? []) as Type[],
      }).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      return app;
    }

    async function auditMetadata(action: string) {
      const rows = await app!
        .get(DataSource)
        .query<{ metadata: Record<string, unknown> }[]>(
          'SELECT metadata FROM audit_log WHERE firm_id = $1 AND action = $2',
          [firm.firmId, action],
        );
      return rows.map((r) => r.metadata);
    }

    beforeAll(async () => {
      database = await createTestDatabase();
      logging = (await import(
        join(scratch, 'node_modules/@cma/logging/dist/src/logging/index.js')
      )) as typeof Logging;
    });
    beforeEach(async () => {
      const source = await new DataSource({
        type: 'postgres',
        url: database.url,
        entities: DEMO_ENTITIES,
      }).initialize();
      firm = await seedFirm(source, `docs-${randomUUID()}`);
      await source.destroy();
    });
    afterEach(async () => {
      await app?.close();
      app = undefined;
      for (const name of globals.splice(0)) {
        delete (globalThis as Record<string, unknown>)[name];
      }
    });
    afterAll(() => database.drop());

    it('are every block that records metadata', () => {
      const where = (b: Block) => `${b.file}:${b.line}`;
      const recording = compiled.blocks.filter(
        (b) =>
          /\bmetadata\s*:/.test(b.code) &&
          /@Audit\(|\.record\(|\.(deduct|grant|refund)\(/.test(b.code),
      );
      const listed = compiled.blocks.filter((b) =>
        RECORDING_EXAMPLES.some(
          ([file, marker]) => b.file === file && b.code.includes(marker),
        ),
      );
      expect(recording.map(where)).toEqual(listed.map(where));
    });

    it('docs/metadata-policy.md: the upload handler stores its declared fileId, pages and format', async () => {
      const { FilesController } = await example<{ FilesController: Type }>(
        'docs/metadata-policy.md',
        'class FilesController',
      );
      await host(
        { audit: { resolveActor: () => firm } },
        { controllers: [FilesController] },
      );
      await request(app!.getHttpServer() as App)
        .post(`/projects/${firm.projectId}/files`)
        .expect(201);
      expect(await auditMetadata('upload_file')).toEqual([
        {
          fileId: firm.projectId,
          pages: 3,
          format: 'pdf',
          outcome: 'success',
          requestId: expect.stringMatching(/^[a-p]{32}$/),
        },
      ]);
    });

    it('docs/auditing.md: @Audit with metadataClass stores the picked fileId and pages', async () => {
      const fileId = plainUuid();
      // The block's `declare class` and `declare const`, defined before its classes are.
      provide({
        CreateProjectDto: class {},
        UploadDto: class {},
        projects: {
          create: () => Promise.resolve({ id: plainUuid() }),
          upload: (_: string, dto: { pages: number }) =>
            Promise.resolve({ id: fileId, pages: dto.pages }),
        },
      });
      const { ProjectsController } = await example<{
        ProjectsController: Type;
      }>('docs/auditing.md', 'class ProjectsController');
      await host(
        { audit: { resolveActor: () => firm } },
        { controllers: [ProjectsController] },
      );
      await request(app!.getHttpServer() as App)
        .post(`/projects/${firm.projectId}/files`)
        .send({ pages: 4 })
        .expect(201);
      expect(await auditMetadata('upload_file')).toEqual([
        {
          fileId,
          pages: 4,
          outcome: 'success',
          requestId: expect.stringMatching(/^[a-p]{32}$/),
        },
      ]);
    });

    it("docs/auditing.md: the guard refusals' filter stores the declared status", async () => {
      const { RefusalAuditFilter, loggingOptions } = await example<{
        RefusalAuditFilter: Type;
        loggingOptions: Logging.LoggingModuleOptions;
      }>('docs/auditing.md', 'class RefusalAuditFilter');
      const user = { firmId: firm.firmId, id: firm.userId };
      class RefusingGuard implements CanActivate {
        canActivate(context: ExecutionContext) {
          context.switchToHttp().getRequest<{ user: unknown }>().user = user;
          return false;
        }
      }
      @Controller('reports')
      class ReportsController {
        @Get()
        @UseGuards(RefusingGuard)
        list() {
          return [];
        }
      }
      await host(loggingOptions, {
        controllers: [ReportsController],
        providers: [{ provide: APP_FILTER, useClass: RefusalAuditFilter }],
      });
      await request(app!.getHttpServer() as App)
        .get('/reports')
        .expect(403);
      expect(await auditMetadata('access_refused')).toEqual([{ status: 403 }]);
    });

    it('docs/writer-and-durability.md: record() stores the declared files count, and drops it undeclared', async () => {
      const { ProjectsService, loggingOptions } = await example<{
        ProjectsService: new (...args: unknown[]) => {
          create(firmId: string, userId: string, name: string): Promise<void>;
        };
        loggingOptions: Logging.LoggingModuleOptions;
      }>('docs/writer-and-durability.md', 'class ProjectsService');
      const create = async (options: Logging.LoggingModuleOptions) => {
        const running = await host(options);
        const audit = running.get(logging.AuditLogService);
        const service = new ProjectsService(
          audit,
          running.get(logging.LlmUsageService),
          running.get(DataSource).getRepository(CmaProject),
        );
        await service.create(firm.firmId, firm.userId, 'docs project');
        return audit.stats().metadataDropped;
      };
      // Without its declaration, the example's metadata is dropped and counted...
      expect(await create({})).toBe(1);
      await app!.close();
      // ...with it, stored.
      expect(await create(loggingOptions)).toBe(0);
      expect(await auditMetadata('create_project')).toEqual([{}, { files: 0 }]);
      const [usage] = await app!
        .get(DataSource)
        .query<{ count: number }[]>(
          'SELECT count(*)::int AS count FROM llm_usage_log WHERE firm_id = $1',
          [firm.firmId],
        );
      expect(usage.count).toBe(2);
    });

    it("docs/ledger.md: a deduct stores its declared documentId and pages, and the example's calls run", async () => {
      const { loggingOptions } = await example<{
        loggingOptions: Logging.LoggingModuleOptions;
      }>('docs/ledger.md', 'class DeductMetadata');
      const running = await host(loggingOptions);
      // ids the identity detectors take for ids, as in the audit specs (test/support/ids.ts)
      const documentId = plainUuid();
      provide({
        ledger: running.get(logging.CreditLedgerService),
        userId: firm.userId,
        documentId,
      });
      await example('docs/ledger.md', 'const spend = await ledger.deduct');
      const rows = await running
        .get(DataSource)
        .query<{ operation: string; metadata: unknown; balance: string }[]>(
          `SELECT operation, metadata, balance::text AS balance FROM credit_transaction
           WHERE user_id = $1 ORDER BY seq`,
          [firm.userId],
        );
      expect(rows).toEqual([
        { operation: 'grant', metadata: null, balance: '100' },
        {
          operation: 'deduct',
          metadata: { documentId, pages: 12 },
          balance: '95',
        },
        { operation: 'refund', metadata: null, balance: '100' },
      ]);
    });
  });
});
