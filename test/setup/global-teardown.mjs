import { rm } from 'node:fs/promises';
import pg from 'pg';

export default async function globalTeardown() {
  const adminUrl = process.env.LOGGING_TEST_ADMIN_URL;
  const run = process.env.LOGGING_TEST_RUN;
  const embedded = globalThis.__LOGGING_TEST_SERVER__;

  if (adminUrl && run && !embedded) {
    // A shared server: drop what this run created, however its test files ended.
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT datname FROM pg_database WHERE datname LIKE $1`,
        [`logging_test_${run}_%`],
      );
      for (const { datname } of rows) {
        await client.query(
          `DROP DATABASE IF EXISTS ${client.escapeIdentifier(datname)} WITH (FORCE)`,
        );
      }
    } finally {
      await client.end();
    }
  }

  if (embedded) {
    globalThis.__LOGGING_TEST_SERVER__ = undefined;
    await embedded.server.stop();
    await rm(embedded.parent, { recursive: true, force: true });
  }
}
