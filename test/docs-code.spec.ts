import {
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { childEnv, run } from './support/processes.js';

/**
 * Every TypeScript code block of the README and of docs/ compiles against the package's public
 * entry points, as a host would write it: each block is a module of its own, with its imports,
 * type-checked strictly with `@cma/logging`, `@cma/logging/pricing`, `@cma/logging/entities`,
 * `@cma/logging/migrations`, `@cma/logging/dashboard`, `@cma/logging/seals` and
 * `@cma/logging/partitions` mapped to the sources of those entry points.
 */

const root = resolve(import.meta.dirname, '..');

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

  it('type-check against the public API', async () => {
    const found = await blocks();
    const names = found.map(
      (block) => `${block.file.replace(/[/.]/g, '_')}_L${block.line}.ts`,
    );
    await Promise.all(
      found.map((block, i) =>
        writeFile(join(scratch, names[i]), `${block.code}\nexport {};\n`),
      ),
    );
    await symlink(
      join(root, 'node_modules'),
      join(scratch, 'node_modules'),
      'dir',
    );
    await writeFile(join(scratch, 'package.json'), '{ "type": "module" }');
    const entry = (path: string) => [relative(scratch, join(root, path))];
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
          strictPropertyInitialization: false,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          skipLibCheck: true,
          noEmit: true,
          noUnusedLocals: false,
          paths: {
            '@cma/logging': entry('src/logging/index.ts'),
            '@cma/logging/pricing': entry('src/logging/pricing.ts'),
            '@cma/logging/entities': entry('src/logging/entities/index.ts'),
            '@cma/logging/migrations': entry('src/logging/migrations/index.ts'),
            '@cma/logging/dashboard': entry('src/logging/dashboard/index.ts'),
            '@cma/logging/seals': entry('src/logging/seals/index.ts'),
            '@cma/logging/partitions': entry('src/logging/partitions/index.ts'),
          },
        },
        files: names,
      }),
    );
    const compiled = await run(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', scratch],
      childEnv({}),
      120_000,
    );
    // Name each error by its document and line, not by the scratch file.
    const errors = compiled.output.replace(
      /\S*?([A-Za-z-]+(?:_[A-Za-z-]+)?)_(md)_L(\d+)\.ts\((\d+),(\d+)\)/g,
      (_, file: string, ext: string, line: string, row: string) =>
        `${file.replace(/_/g, '/').replace(/^docs\//, 'docs/')}.${ext}:${Number(line) + Number(row) - 1}`,
    );
    expect(errors).toBe('');
    expect(compiled.code).toBe(0);
  }, 180_000);
});
