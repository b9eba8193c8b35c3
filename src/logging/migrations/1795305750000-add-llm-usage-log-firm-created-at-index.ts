import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Adds `idx_llm_usage_log_firm_id_created_at` on `llm_usage_log (firm_id, created_at)`, beyond the
 * table spec's three indexes: a usage report of one firm over a date range reads just that firm's
 * rows of that range instead of every row of the firm (see the README, "Usage reports").
 */
export class AddLlmUsageLogFirmCreatedAtIndex1795305750000 implements MigrationInterface {
  name = 'AddLlmUsageLogFirmCreatedAtIndex1795305750000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "idx_llm_usage_log_firm_id_created_at" ON "llm_usage_log" ("firm_id", "created_at")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP INDEX "idx_llm_usage_log_firm_id_created_at"`,
    );
  }
}
