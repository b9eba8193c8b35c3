import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Adds `idx_audit_log_firm_id_created_at` on `audit_log (firm_id, created_at)`, beyond the table
 * spec's three indexes: a firm's trail, newest first (`AuditTrailService.trail`, the dashboard),
 * reads that firm's entries in order instead of every firm's through `idx_audit_log_created_at`,
 * and on a partitioned `audit_log` each month answers whether it holds the firm's newest entry
 * from the index alone (docs/partitions.md, "Queries").
 */
export class AddAuditLogFirmCreatedAtIndex1795305930000 implements MigrationInterface {
  name = 'AddAuditLogFirmCreatedAtIndex1795305930000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "idx_audit_log_firm_id_created_at" ON "audit_log" ("firm_id", "created_at")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_audit_log_firm_id_created_at"`);
  }
}
