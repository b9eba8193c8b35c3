import type { MigrationInterface, QueryRunner } from 'typeorm';
import { refuseWithoutHostTables } from './host-tables.js';

/**
 * Creates `llm_usage_log` and `audit_log` as the table spec gives them. Runs after the host's
 * `firms`, `users` and `cma_projects` tables exist: the logs reference them; without them it
 * refuses before creating anything, naming the missing tables and the fix.
 */
export class CreateLoggingTables1795305660000 implements MigrationInterface {
  name = 'CreateLoggingTables1795305660000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await refuseWithoutHostTables(queryRunner, this.name);
    await queryRunner.query(`
      CREATE TABLE "llm_usage_log" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "firm_id" uuid NOT NULL,
        "cma_project_id" uuid,
        "model" text NOT NULL,
        "task_type" text NOT NULL,
        "input_tokens" integer NOT NULL,
        "output_tokens" integer NOT NULL,
        "cost_usd" numeric(10,6) NOT NULL,
        "latency_ms" integer,
        "success" boolean DEFAULT true,
        "error_message" text,
        "created_at" timestamptz DEFAULT now(),
        CONSTRAINT "pk_llm_usage_log" PRIMARY KEY ("id"),
        CONSTRAINT "chk_llm_usage_log_task_type"
          CHECK (task_type IN ('extraction', 'classification', 'validation', 'fallback')),
        CONSTRAINT "fk_llm_usage_log_firm_id" FOREIGN KEY ("firm_id")
          REFERENCES "firms" ("id") ON DELETE CASCADE,
        CONSTRAINT "fk_llm_usage_log_cma_project_id" FOREIGN KEY ("cma_project_id")
          REFERENCES "cma_projects" ("id") ON DELETE SET NULL
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "idx_llm_usage_log_firm_id" ON "llm_usage_log" ("firm_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_llm_usage_log_cma_project_id" ON "llm_usage_log" ("cma_project_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_llm_usage_log_created_at" ON "llm_usage_log" ("created_at")`,
    );

    await queryRunner.query(`
      CREATE TABLE "audit_log" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "firm_id" uuid NOT NULL,
        "user_id" uuid,
        "action" text NOT NULL,
        "entity_type" text NOT NULL,
        "entity_id" uuid,
        "metadata" jsonb,
        "ip_address" text,
        "created_at" timestamptz DEFAULT now(),
        CONSTRAINT "pk_audit_log" PRIMARY KEY ("id"),
        CONSTRAINT "fk_audit_log_firm_id" FOREIGN KEY ("firm_id")
          REFERENCES "firms" ("id") ON DELETE CASCADE,
        CONSTRAINT "fk_audit_log_user_id" FOREIGN KEY ("user_id")
          REFERENCES "users" ("id") ON DELETE SET NULL
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "idx_audit_log_firm_id" ON "audit_log" ("firm_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_audit_log_created_at" ON "audit_log" ("created_at")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_audit_log_action" ON "audit_log" ("action")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Dropping a table drops its indexes and constraints with it.
    await queryRunner.query(`DROP TABLE "audit_log"`);
    await queryRunner.query(`DROP TABLE "llm_usage_log"`);
  }
}
