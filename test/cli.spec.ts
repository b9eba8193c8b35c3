import type { DataSource } from 'typeorm';
import { LOGGING_MIGRATIONS } from '../src/logging/index.js';
import { DEMO_MIGRATIONS } from '../src/demo/migrations/index.js';
import { EMPTY_SCHEMA, schemaSnapshot } from './support/catalog.js';
import {
  createTestDatabase,
  dataSourceFor,
  type TestDatabase,
} from './support/database.js';
import { childEnv, run } from './support/processes.js';

/**
 * The npm migration scripts, run as a user runs them, with DATABASE_URL pointing at an empty
 * database: the TypeORM CLI loads ormconfig.ts, runs, shows, checks and reverts the migrations.
 */

describe('migration scripts with DATABASE_URL', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
    dataSource = await dataSourceFor(database.url).initialize();
    env = childEnv({ DATABASE_URL: database.url });
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  const npm = (...args: string[]) => run('npm', ['run', '-s', ...args], env);

  it('migration:run creates the schema, migration:show lists both as applied, and the diff check is clean', async () => {
    const ran = await npm('migration:run');
    expect(ran.code).toBe(0);
    expect(ran.output).toContain(
      'Migration CreateLoggingTables1795305660000 has been executed successfully',
    );
    expect(ran.output).toContain(
      'Migration AddLlmUsageLogFirmCreatedAtIndex1795305750000 has been executed successfully',
    );
    expect((await schemaSnapshot(dataSource)).tables).toEqual([
      'audit_log',
      'audit_log_daily',
      'cma_projects',
      'credit_transaction',
      'firms',
      'llm_usage_daily',
      'llm_usage_daily_project',
      'llm_usage_log',
      'log_seal',
      'log_seal_run',
      'logging_log_month',
      'logging_retention_floor',
      'logging_retention_horizon',
      'users',
    ]);

    const shown = await npm('migration:show');
    expect(shown.code).toBe(0);
    expect(shown.output).toMatch(/\[X\] 1 CreateHostTables1795305600000/);
    expect(shown.output).toMatch(/\[X\] 2 CreateLoggingTables1795305660000/);
    expect(shown.output).toMatch(/\[X\] 3 AppendOnlyLogs1795305720000/);
    expect(shown.output).toMatch(
      /\[X\] 4 AddLlmUsageLogFirmCreatedAtIndex1795305750000/,
    );
    expect(shown.output).toMatch(/\[X\] 5 CreateCreditLedger1795305780000/);
    expect(shown.output).toMatch(/\[X\] 6 CreateDailyRollups1795305800000/);
    expect(shown.output).toMatch(/\[X\] 7 CreateLogSeals1795305820000/);

    const check = await npm(
      'migration:generate',
      '--',
      '--check',
      'src/demo/migrations/unused',
    );
    expect(check.output).toContain('No changes in database schema were found');
    expect(check.code).toBe(0);
  });

  it('migration:revert, repeated, removes it all', async () => {
    for (const { name } of [
      ...DEMO_MIGRATIONS,
      ...LOGGING_MIGRATIONS,
    ].reverse()) {
      const reverted = await npm('migration:revert');
      expect(reverted.code).toBe(0);
      expect(reverted.output).toContain(
        `Migration ${name} has been reverted successfully`,
      );
    }
    expect(await schemaSnapshot(dataSource)).toEqual(EMPTY_SCHEMA);
    const last = await npm('migration:revert');
    expect(last.output).toContain('No migrations were found in the database');
    // one npm and TypeORM CLI process per migration, about 3 s each on 2 cores, more under load
  }, 180_000);
});
