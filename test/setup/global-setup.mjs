// One PostgreSQL server for the whole run: DATABASE_URL's when set, otherwise a throwaway embedded
// server in a temporary folder on a free port, started by the demo's own startEmbeddedPostgres
// (which checks, before spawning anything, that the server's user can reach it). Test files create
// their own databases on it (test/support/database.ts); the teardown drops them and stops the server.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importTypeScript } from '../../scripts/load-typescript.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export default async function globalSetup() {
  // one server for every project of the run (jest runs a setup shared by projects once; this holds
  // if it ever runs it twice)
  if (globalThis.__LOGGING_TEST_SERVER__) return;
  process.env.LOGGING_TEST_RUN = `r${Date.now().toString(36)}${process.pid}`;
  if (process.env.DATABASE_URL) {
    process.env.LOGGING_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return;
  }

  const { startEmbeddedPostgres } = await importTypeScript(
    'src/demo/database/embedded-postgres.ts',
    ['src/demo/database/postgres-user-access.ts'],
  );
  // mkdtemp makes a 0700 folder; the server may run as the `postgres` user, so open the parent
  // and let the package create (and chown) the data folder inside it.
  const parent = await mkdtemp(join(tmpdir(), 'logging-test-pg-'));
  try {
    await chmod(parent, 0o755);
    const server = await startEmbeddedPostgres({
      dataDir: join(parent, 'data'),
      port: await freePort(),
      persistent: false,
      throwaway: true,
    });
    globalThis.__LOGGING_TEST_SERVER__ = { server, parent };
    process.env.LOGGING_TEST_ADMIN_URL = server.url('postgres');
  } catch (error) {
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
}
