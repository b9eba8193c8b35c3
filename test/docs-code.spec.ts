import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { childEnv, run } from './support/processes.js';

/**
 * Every TypeScript code block of the README and of docs/ compiles as a new Nest host compiles it,
 * with the text of the docs as it is: each block is a module of its own, in a host whose
 * `node_modules` holds `@cma/logging` as the package ships it (its `package.json` exports and the
 * declarations `npm run build` emits), type-checked with `strict: true` (every strict flag,
 * `strictPropertyInitialization` included), `module`/`moduleResolution` `nodenext`,
 * `isolatedModules`, decorators with their metadata, and `declaration`. Each block is checked twice:
 * in an ES module host (`"type": "module"`) and in a CommonJS one (Nest's CLI default).
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
 * from the tarball: its package.json and its emitted declarations (a host compiles against those,
 * with `skipLibCheck`, never against the module's sources and their compiler settings).
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
      '--emitDeclarationOnly',
      '--sourceMap',
      'false',
      '--outDir',
      join(pkg, 'dist'),
    ],
    childEnv({}),
    180_000,
  );
  if (emitted.code !== 0) throw new Error(emitted.output);
}

describe('code blocks of the README and docs/', () => {
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'logging-docs-'));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('are there: every documented feature shows code', async () => {
    const found = await blocks();
    expect(new Set(found.map((b) => b.file)).size).toBeGreaterThanOrEqual(6);
  });

  it('compile as written in a strict host, ES module and CommonJS, against the packed declarations', async () => {
    const found = await blocks();
    await hostModules(scratch);
    const names = found.map(
      (block) => `${block.file.replace(/[/.]/g, '_')}_L${block.line}`,
    );
    const files: string[] = [];
    for (const [kind, type] of [
      ['esm', 'module'],
      ['cjs', 'commonjs'],
    ] as const) {
      await mkdir(join(scratch, kind));
      await writeFile(
        join(scratch, kind, 'package.json'),
        `{ "type": "${type}" }`,
      );
      for (const [i, block] of found.entries()) {
        // `export {}` makes a block without imports a module too; the block's text is unchanged.
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
          emitDeclarationOnly: true,
          outDir: 'out',
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
      /(esm|cjs)\/([A-Za-z0-9_-]+)\.ts\((\d+),(\d+)\)/g,
      (whole, kind: string, name: string, row: string) => {
        const block = byName.get(name);
        return block
          ? `${block.file}:${block.line + Number(row) - 1} (${kind})`
          : whole;
      },
    );
    // One rule is the ES module's alone: a block that awaits at its top level (a fragment, as in
    // `const page = await trail.trail(...)`) is written inside an async function in a CommonJS
    // host. Every other error counts, in both kinds of host.
    const diagnostics = errors.split(/\n(?=\S)/).filter((d) => d.trim() !== '');
    const topLevelAwait = /\(cjs\): error TS1309:/;
    expect(diagnostics.filter((d) => !topLevelAwait.test(d))).toEqual([]);
    if (diagnostics.length === 0) expect(compiled.code).toBe(0);
  }, 360_000);
});
