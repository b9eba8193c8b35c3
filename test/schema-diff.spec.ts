import type { DataSource } from 'typeorm';
import { openTestDataSource } from './support/database.js';

/** Entities and migrations agree: after the migrations, TypeORM finds nothing to change. */

async function pendingSchemaChanges(dataSource: DataSource): Promise<string[]> {
  const sql = await dataSource.driver.createSchemaBuilder().log();
  return sql.upQueries.map((query) => query.query);
}

describe('entities and migrations', () => {
  it('leave an empty schema diff after the migrations run', async () => {
    const { dataSource, close } = await openTestDataSource();
    try {
      expect(await pendingSchemaChanges(dataSource)).toEqual([]);
    } finally {
      await close();
    }
  });

  it('would show drift: a dropped index or a changed ON DELETE action appears in the diff', async () => {
    const { dataSource, close } = await openTestDataSource();
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
      const diff = (await pendingSchemaChanges(dataSource)).join('\n');
      expect(diff).toContain('CREATE INDEX "idx_audit_log_action"');
      expect(diff).toContain(
        'CREATE INDEX "idx_credit_transaction_user_id_created_at"',
      );
      expect(diff).toMatch(
        /ADD CONSTRAINT "fk_llm_usage_log_cma_project_id".*ON DELETE SET NULL/,
      );
    } finally {
      await close();
    }
  });
});
