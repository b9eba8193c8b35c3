import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Adds `idx_llm_usage_log_firm_id_cost_usd` on `llm_usage_log (firm_id, cost_usd DESC, created_at
 * DESC NULLS LAST, id DESC)`, beyond the table spec's indexes: the order of
 * `LlmUsageReportService.mostExpensive`, so a firm's most expensive calls of its whole kept history
 * are the first entries of the index instead of a sort of every row of the firm (docs/reports.md).
 * On a partitioned `llm_usage_log` every month has it, and the months' first entries are merged.
 */
export class AddLlmUsageLogFirmCostIndex1795305920000 implements MigrationInterface {
  name = 'AddLlmUsageLogFirmCostIndex1795305920000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "idx_llm_usage_log_firm_id_cost_usd" ON "llm_usage_log" ("firm_id", "cost_usd" DESC, "created_at" DESC NULLS LAST, "id" DESC)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_llm_usage_log_firm_id_cost_usd"`);
  }
}
