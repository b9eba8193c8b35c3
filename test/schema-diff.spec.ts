import { openTestDataSource } from './support/database.js';
import { childEnv, run, type Finished } from './support/processes.js';

/**
 * Entities and migrations agree: after the migrations, TypeORM finds nothing to change.
 *
 * The diff runs through TypeORM's CLI (`migration:generate --check`, as a user checks it) in a
 * child process: TypeORM's schema reader issues concurrent queries on one pg client, which pg
 * answers with a deprecation warning; in a child process that stays in the captured output.
 */

function schemaCheck(url: string): Promise<Finished> {
  return run(
    'npm',
    [
      'run',
      '-s',
      'migration:generate',
      '--',
      '--check',
      'src/demo/migrations/unused',
    ],
    childEnv({ DATABASE_URL: url }),
  );
}

describe('entities and migrations', () => {
  it('leave an empty schema diff after the migrations run', async () => {
    const { database, close } = await openTestDataSource();
    try {
      const check = await schemaCheck(database.url);
      expect(check.output).toContain(
        'No changes in database schema were found',
      );
      expect(check.code).toBe(0);
    } finally {
      await close();
    }
  });

  it('would show drift: a dropped index or a changed ON DELETE action appears in the diff', async () => {
    const { database, dataSource, close } = await openTestDataSource();
    try {
      await dataSource.query('DROP INDEX "idx_audit_log_action"');
      await dataSource.query(
        'DROP INDEX "idx_credit_transaction_user_id_created_at"',
      );
      await dataSource.query(
        'ALTER TABLE "llm_usage_log" DROP CONSTRAINT "fk_llm_usage_log_cma_project_id"',
      );
      await dataSource.query(
        `ALTER TABLE "llm_usage_log" ADD CONSTRAINT "fk_llm_usage_log_cma_project_id"
           FOREIGN KEY ("cma_project_id") REFERENCES "cma_projects" ("id") ON DELETE CASCADE`,
      );
      const check = await schemaCheck(database.url);
      expect(check.output).toContain(
        'Unexpected changes in database schema were found',
      );
      expect(check.output).toContain('CREATE INDEX "idx_audit_log_action"');
      expect(check.output).toContain(
        'CREATE INDEX "idx_credit_transaction_user_id_created_at"',
      );
      expect(check.output).toMatch(
        /ADD CONSTRAINT "fk_llm_usage_log_cma_project_id".*ON DELETE SET NULL/,
      );
      expect(check.code).toBe(1);
    } finally {
      await close();
    }
  });
});
