import { DataSource, type Logger, type MigrationInterface } from 'typeorm';
import { LOGGING_MIGRATIONS, loggingMigrations } from '../src/logging/index.js';
import {
  CreateHostTables1795305600000,
  DEMO_MIGRATIONS,
} from '../src/demo/migrations/index.js';
import { EMPTY_SCHEMA, schemaSnapshot } from './support/catalog.js';
import {
  createTestDatabase,
  dataSourceFor,
  type TestDatabase,
} from './support/database.js';

/** Every migration runs on an empty database, reverts, and brings the same schema back. */

describe('migrations', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
    dataSource = await dataSourceFor(database.url).initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  const tables = async () => (await schemaSnapshot(dataSource)).tables;

  it('run in order on an empty database: the host tables first, then the logs', async () => {
    expect(await tables()).toEqual([]);
    const executed = await dataSource.runMigrations();
    expect(executed.map((m) => m.name)).toEqual(
      [...DEMO_MIGRATIONS, ...LOGGING_MIGRATIONS].map((m) => m.name),
    );
    expect(await tables()).toEqual([
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
  });

  it('revert one at a time until nothing of theirs is left, then come back identical', async () => {
    const migrated = await schemaSnapshot(dataSource);
    // the migrations after the seals, newest first: each reverts; what they made is checked by
    // the specs of their guarantees, and the whole round trip at the end
    const later = LOGGING_MIGRATIONS.slice(
      LOGGING_MIGRATIONS.findIndex(
        (m) => m.name === 'CreateLogSeals1795305820000',
      ) + 1,
    );
    for (let i = 0; i < later.length; i++) {
      await dataSource.undoLastMigration();
    }
    const sealed = await schemaSnapshot(dataSource);
    expect(JSON.stringify(sealed)).not.toMatch(
      /logging_owner_acts|logging_clock_bound|logging_holds_seal_lock|retention_floor|trg_\w+_created_at|requires_lock/,
    );
    expect((sealed.triggers as { name: string }[]).map((t) => t.name)).toEqual([
      'trg_audit_log_append_only',
      'trg_audit_log_no_truncate',
      'trg_audit_log_record_purge',
      'trg_audit_log_rollup',
      'trg_credit_transaction_append_only',
      'trg_credit_transaction_no_truncate',
      'trg_llm_usage_log_append_only',
      'trg_llm_usage_log_no_truncate',
      'trg_llm_usage_log_record_purge',
      'trg_llm_usage_log_rollup',
      'trg_log_seal_append_only',
      'trg_log_seal_no_truncate',
    ]);

    await dataSource.undoLastMigration(); // the seals
    const unsealed = await schemaSnapshot(dataSource);
    const notSeal = <T>(rows: T[]) =>
      rows.filter((r) => !JSON.stringify(r).includes('log_seal'));
    expect(unsealed).toEqual({
      ...sealed,
      tables: notSeal(sealed.tables),
      columns: notSeal(sealed.columns),
      constraints: notSeal(sealed.constraints),
      indexes: notSeal(sealed.indexes),
      triggers: notSeal(sealed.triggers),
      functions: (sealed.functions as { name: string }[]).filter(
        (f) =>
          !['log_seal_append_only', 'logging_purge_sealed'].includes(f.name),
      ),
    });

    await dataSource.undoLastMigration(); // the daily rollups
    const rollupless = await schemaSnapshot(dataSource);
    const ROLLUP_NAMES =
      /_daily|retention_horizon|_rollup|record_purge|logging_rollup_compact/;
    const notRollup = <T>(rows: T[]) =>
      rows.filter((r) => !ROLLUP_NAMES.test(JSON.stringify(r)));
    expect(rollupless).toEqual({
      tables: notRollup(unsealed.tables),
      columns: notRollup(unsealed.columns),
      constraints: notRollup(unsealed.constraints),
      indexes: notRollup(unsealed.indexes),
      types: unsealed.types,
      triggers: notRollup(unsealed.triggers),
      functions: notRollup(unsealed.functions),
    });
    expect(
      (rollupless.triggers as { name: string }[]).map((t) => t.name),
    ).toEqual([
      'trg_audit_log_append_only',
      'trg_audit_log_no_truncate',
      'trg_credit_transaction_append_only',
      'trg_credit_transaction_no_truncate',
      'trg_llm_usage_log_append_only',
      'trg_llm_usage_log_no_truncate',
    ]);
    expect(sealed.types).toEqual([
      {
        name: 'credit_feature_type',
        labels:
          '{document_generation,workstream_clustering,chat_tool_call,chat_message}',
      },
      { name: 'credit_operation_type', labels: '{deduct,refund,grant}' },
    ]);

    await dataSource.undoLastMigration(); // the credit ledger
    const ledgerless = await schemaSnapshot(dataSource);
    const notLedger = <T>(rows: T[]) =>
      rows.filter((r) => !JSON.stringify(r).includes('credit_transaction'));
    expect(ledgerless).toEqual({
      tables: notLedger(rollupless.tables),
      columns: notLedger(rollupless.columns),
      constraints: notLedger(rollupless.constraints),
      indexes: notLedger(rollupless.indexes),
      types: [],
      triggers: notLedger(rollupless.triggers),
      functions: (rollupless.functions as { name: string }[]).filter(
        (f) => !f.name.startsWith('credit_transaction_'),
      ),
    });

    await dataSource.undoLastMigration(); // the (firm_id, created_at) index
    const withoutComposite = await schemaSnapshot(dataSource);
    expect(withoutComposite.tables).toEqual(ledgerless.tables);
    expect(JSON.stringify(withoutComposite)).not.toContain(
      'idx_llm_usage_log_firm_id_created_at',
    );
    expect(JSON.stringify(rollupless)).toContain(
      'idx_llm_usage_log_firm_id_created_at',
    );

    await dataSource.undoLastMigration(); // append-only triggers
    const unguarded = await schemaSnapshot(dataSource);
    expect(unguarded).toEqual({
      ...withoutComposite,
      triggers: [],
      functions: [],
    });

    await dataSource.undoLastMigration();
    expect(await tables()).toEqual(['cma_projects', 'firms', 'users']);

    await dataSource.undoLastMigration();
    expect(await schemaSnapshot(dataSource)).toEqual(EMPTY_SCHEMA);
    expect(
      await dataSource.query('SELECT count(*)::int AS n FROM migrations'),
    ).toEqual([{ n: 0 }]);

    await dataSource.runMigrations();
    expect(await schemaSnapshot(dataSource)).toEqual(migrated);
  });
});

/**
 * A host migration made today (`typeorm migration:create` names it with `Date.now()`) sorts after
 * the module's, whose names carry the time they were written: TypeORM orders by that timestamp,
 * not by the DataSource's list.
 */
describe('migrations of a host whose own migration is newer than the module', () => {
  let database: TestDatabase;
  let reference: TestDatabase;
  const now = Date.now();
  /** The demo host's tables, in a migration named as `migration:create` names one today. */
  const hostToday = class extends CreateHostTables1795305600000 {
    override name = `CreateHostTables${now}`;
  };
  Object.defineProperty(hostToday, 'name', { value: `CreateHostTables${now}` });

  /** What TypeORM reports of the migrations it runs (kept here, not printed). */
  const reported: string[] = [];
  const logger: Logger = {
    logQuery: () => undefined,
    logQueryError: () => undefined,
    logQuerySlow: () => undefined,
    logSchemaBuild: () => undefined,
    logMigration: (message) => void reported.push(message),
    log: () => undefined,
  };
  const withMigrations = async (
    migrations: (new () => MigrationInterface)[],
    run: (dataSource: DataSource) => Promise<void>,
  ) => {
    const dataSource = new DataSource({
      ...dataSourceFor(database.url).options,
      migrations,
      logger,
    });
    await dataSource.initialize();
    try {
      await run(dataSource);
    } finally {
      await dataSource.destroy();
    }
  };

  beforeAll(async () => {
    [database, reference] = await Promise.all([
      createTestDatabase({ migrated: false }),
      createTestDatabase(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([database?.drop(), reference?.drop()]);
  });

  it('with LOGGING_MIGRATIONS listed as they are, refuses before creating anything, naming the missing tables and the fix', async () => {
    expect(now).toBeGreaterThan(1795305900000);
    await withMigrations([hostToday, ...LOGGING_MIGRATIONS], async (ds) => {
      await expect(ds.runMigrations()).rejects.toThrow(
        "CreateLoggingTables1795305660000: the host's tables firms, users, cma_projects do not exist yet, and the module's tables reference firms, users and cma_projects. Create them in a host migration that runs before the module's. TypeORM runs migrations in the order of the 13-digit timestamps ending their names, so list the module's migrations in the DataSource as loggingMigrations({ after: '<the name of that host migration>' }) (from '@cma/logging'), which places them right after it, then run migration:run again. Nothing was created.",
      );
      expect(reported).toEqual([
        expect.stringMatching(
          /^Migration "CreateLoggingTables1795305660000" failed, error: CreateLoggingTables1795305660000: the host's tables firms, users, cma_projects do not exist yet/,
        ),
      ]);
      expect(await schemaSnapshot(ds)).toEqual(EMPTY_SCHEMA);
      expect(
        await ds.query('SELECT count(*)::int AS n FROM migrations'),
      ).toEqual([{ n: 0 }]);

      // Only the tables still missing are named.
      await ds.query(`CREATE TABLE firms (id uuid PRIMARY KEY)`);
      await expect(ds.runMigrations()).rejects.toThrow(
        "CreateLoggingTables1795305660000: the host's tables users, cma_projects do not exist yet",
      );
      await ds.query(`DROP TABLE firms`);
    });
  });

  it('with loggingMigrations({ after }), runs the host migration first and builds the same schema, then reverts to nothing', async () => {
    const placed = loggingMigrations({ after: hostToday });
    await withMigrations([...placed, hostToday], async (ds) => {
      const executed = await ds.runMigrations();
      expect(executed.map((m) => m.name)).toEqual([
        `CreateHostTables${now}`,
        ...LOGGING_MIGRATIONS.map(
          (m, i) => `${new m().name.slice(0, -13)}${now + i + 1}`,
        ),
      ]);
      expect(
        await ds.query('SELECT name FROM migrations ORDER BY id LIMIT 2'),
      ).toEqual([
        { name: `CreateHostTables${now}` },
        { name: `CreateLoggingTables${now + 1}` },
      ]);
      const migrated = await dataSourceFor(reference.url).initialize();
      try {
        expect(await schemaSnapshot(ds)).toEqual(
          await schemaSnapshot(migrated),
        );
      } finally {
        await migrated.destroy();
      }
      expect(await ds.runMigrations()).toEqual([]);

      for (let i = 0; i < placed.length + 1; i++) {
        await ds.undoLastMigration();
      }
      expect(await schemaSnapshot(ds)).toEqual(EMPTY_SCHEMA);
    });
  });
});
