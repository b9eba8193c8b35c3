import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Seals that tell an erasure from tampering (docs/tamper-evidence.md, "Encoding 2"). Adds to
 * `log_seal`:
 *
 * - `encoding`, the version of the canonical encoding the seal's digest was made with: 1 for every
 *   seal made before (the default, so they verify as they always did), 2 for the seals made from now
 *   on, whose row encoding leaves out the reference a foreign key sets to NULL
 *   (`audit_log.user_id`, `llm_usage_log.cma_project_id`);
 * - `ref_ids`, `ref_rows`, `ref_digests`, the seal's reference groups under encoding 2: for each
 *   value of that reference among the seal's rows (NULL included), how many rows have it and the
 *   SHA-256 of their ids. The digest commits to them.
 */
export class SealReferenceGroups1795305900000 implements MigrationInterface {
  name = 'SealReferenceGroups1795305900000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "log_seal"
        ADD COLUMN "encoding" smallint NOT NULL DEFAULT 1,
        ADD COLUMN "ref_ids" uuid array NOT NULL DEFAULT '{}',
        ADD COLUMN "ref_rows" integer array NOT NULL DEFAULT '{}',
        ADD COLUMN "ref_digests" bytea array NOT NULL DEFAULT '{}',
        ADD CONSTRAINT "chk_log_seal_encoding" CHECK (encoding IN (1, 2)),
        ADD CONSTRAINT "chk_log_seal_ref_groups" CHECK (
          cardinality(ref_rows) = cardinality(ref_ids)
          AND cardinality(ref_digests) = cardinality(ref_ids)
          AND (encoding = 2 OR cardinality(ref_ids) = 0))
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "log_seal"
        DROP CONSTRAINT "chk_log_seal_ref_groups",
        DROP CONSTRAINT "chk_log_seal_encoding",
        DROP COLUMN "ref_digests",
        DROP COLUMN "ref_rows",
        DROP COLUMN "ref_ids",
        DROP COLUMN "encoding"
    `);
  }
}
