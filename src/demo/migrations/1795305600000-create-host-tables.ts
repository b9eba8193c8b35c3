import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The demo host's tenants, users and CMA projects: the tables the logs reference. */
export class CreateHostTables1795305600000 implements MigrationInterface {
  name = 'CreateHostTables1795305600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "firms" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "name" text NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_firms" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "users" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "firm_id" uuid NOT NULL,
        "email" text NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_users" PRIMARY KEY ("id"),
        CONSTRAINT "fk_users_firm_id" FOREIGN KEY ("firm_id")
          REFERENCES "firms" ("id") ON DELETE CASCADE
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "idx_users_firm_id" ON "users" ("firm_id")`,
    );
    await queryRunner.query(`
      CREATE TABLE "cma_projects" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "firm_id" uuid NOT NULL,
        "name" text NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_cma_projects" PRIMARY KEY ("id"),
        CONSTRAINT "fk_cma_projects_firm_id" FOREIGN KEY ("firm_id")
          REFERENCES "firms" ("id") ON DELETE CASCADE
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "idx_cma_projects_firm_id" ON "cma_projects" ("firm_id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "cma_projects"`);
    await queryRunner.query(`DROP TABLE "users"`);
    await queryRunner.query(`DROP TABLE "firms"`);
  }
}
