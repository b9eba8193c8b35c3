import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { demoDataSourceOptions } from '../../src/demo/database/data-source.js';
import { partitionLogs } from '../../src/logging/partitions/index.js';

/**
 * Databases for tests. Each test file creates its own on the run's server (see
 * test/setup/global-setup.mjs), so files never see each other's rows. Migrated databases are cloned
 * from a template that the first file to ask migrates once, with the real migrations.
 */

function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run the tests through jest's global setup (npm test).`,
    );
  }
  return value;
}

const adminUrl = () => env('LOGGING_TEST_ADMIN_URL');
const runId = () => env('LOGGING_TEST_RUN');

/**
 * The layout of the logs in migrated test databases: `'partitioned'` when the jest project
 * `partitioned` runs the file (LOGGING_TEST_LAYOUT, test/setup/partitioned-layout.mjs), the logs then
 * converted by `partitionLogs()` after the migrations; one table per log otherwise.
 */
export const TEST_LAYOUT: 'single' | 'partitioned' =
  process.env.LOGGING_TEST_LAYOUT === 'partitioned' ? 'partitioned' : 'single';

const templateName = () =>
  `logging_test_${runId()}_template${TEST_LAYOUT === 'partitioned' ? '_partitioned' : ''}`;

/** The URL of `database` on the test server, with the admin URL's credentials. */
export function databaseUrl(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A DataSource on `url` with the demo host's and the logging module's entities and migrations. */
export function dataSourceFor(url: string): DataSource {
  return new DataSource(demoDataSourceOptions(url));
}

async function ensureTemplate(): Promise<string> {
  const template = templateName();
  await withAdmin(async (client) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [template]);
    try {
      const { rows } = await client.query<{ comment: string | null }>(
        `SELECT shobj_description(oid, 'pg_database') AS comment
           FROM pg_database WHERE datname = $1`,
        [template],
      );
      if (rows[0]?.comment === 'migrated') return;
      if (rows.length) {
        await client.query(
          `DROP DATABASE ${client.escapeIdentifier(template)}`,
        );
      }
      await client.query(
        `CREATE DATABASE ${client.escapeIdentifier(template)}`,
      );
      const dataSource = dataSourceFor(databaseUrl(template));
      await dataSource.initialize();
      try {
        await dataSource.runMigrations();
        if (TEST_LAYOUT === 'partitioned') {
          await partitionLogs(dataSource, { copyShare: 1 });
        }
      } finally {
        await dataSource.destroy();
      }
      await client.query(
        `COMMENT ON DATABASE ${client.escapeIdentifier(template)} IS 'migrated'`,
      );
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [template]);
    }
  });
  return template;
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops the database, closing any connection still open to it. */
  drop: () => Promise<void>;
}

/**
 * Creates a database for one test file: migrated (a copy of the migrated template) by default, or
 * empty with `{ migrated: false }`.
 */
export async function createTestDatabase(
  options: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  const template = migrated ? await ensureTemplate() : 'template0';
  const name = `logging_test_${runId()}_${randomBytes(5).toString('hex')}`;
  await withAdmin(async (client) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(
          `CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(template)}`,
        );
        return;
      } catch (error) {
        // 55006: another session is still connected to the template; it lets go within moments.
        const code = (error as { code?: string }).code;
        if (code !== '55006' || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  return {
    name,
    url: databaseUrl(name),
    drop: () =>
      withAdmin(async (client) => {
        await client.query(
          `DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`,
        );
      }),
  };
}

/** Creates a migrated test database and an initialized DataSource on it. */
export async function openTestDataSource(): Promise<{
  database: TestDatabase;
  dataSource: DataSource;
  close: () => Promise<void>;
}> {
  const database = await createTestDatabase();
  const dataSource = await dataSourceFor(database.url).initialize();
  return {
    database,
    dataSource,
    close: async () => {
      await dataSource.destroy();
      await database.drop();
    },
  };
}
