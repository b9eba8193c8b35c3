import type { MigrationInterface, QueryRunner } from 'typeorm';

export const LEDGER_HINT =
  'rows leave only with their user; correct a balance with a grant or a refund';

/** `credit_transaction_append_only()` as this migration creates it. */
export const LEDGER_APPEND_ONLY_SQL = `
      CREATE FUNCTION "credit_transaction_append_only"() RETURNS trigger
        LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'credit_transaction is append-only: % refused', TG_OP
          USING ERRCODE = 'insufficient_privilege', HINT = '${LEDGER_HINT}';
      END
      $$
    `;

/**
 * Creates the credit ledger, `credit_transaction`, with its enum types `credit_operation_type` and
 * `credit_feature_type`, and makes it append-only like the logs: a trigger refuses every UPDATE,
 * DELETE and TRUNCATE (SQLSTATE 42501), except the deletion of a row whose user is gone (the ON
 * DELETE CASCADE from `users`, for erasure). There is no retention path: the ledger is the record
 * of a user's balance for as long as the user exists.
 *
 * Beside the seed's columns: `idempotency_key` (unique per user, so a retried call records once)
 * and `refund_of` (the deduct a refund gives back, checked by a foreign key and indexed, so the
 * refunds of a deduct are summed without reading the user's whole history).
 */
export class CreateCreditLedger1795305780000 implements MigrationInterface {
  name = 'CreateCreditLedger1795305780000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TYPE "credit_operation_type" AS ENUM ('deduct', 'refund', 'grant')`,
    );
    await queryRunner.query(
      `CREATE TYPE "credit_feature_type" AS ENUM ('document_generation', 'workstream_clustering', 'chat_tool_call', 'chat_message')`,
    );
    await queryRunner.query(`
      CREATE TABLE "credit_transaction" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL,
        "operation" "credit_operation_type" NOT NULL,
        "feature" "credit_feature_type",
        "amount" integer NOT NULL,
        "refund_of" uuid,
        "idempotency_key" text NOT NULL,
        "metadata" jsonb,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_credit_transaction" PRIMARY KEY ("id"),
        CONSTRAINT "fk_credit_transaction_user_id" FOREIGN KEY ("user_id")
          REFERENCES "users" ("id") ON DELETE CASCADE,
        CONSTRAINT "fk_credit_transaction_refund_of" FOREIGN KEY ("refund_of")
          REFERENCES "credit_transaction" ("id"),
        CONSTRAINT "uq_credit_transaction_user_id_idempotency_key"
          UNIQUE ("user_id", "idempotency_key"),
        CONSTRAINT "chk_credit_transaction_amount" CHECK (amount > 0),
        CONSTRAINT "chk_credit_transaction_feature"
          CHECK ((operation = 'grant') = (feature IS NULL)),
        CONSTRAINT "chk_credit_transaction_refund_of"
          CHECK ((operation = 'refund') = (refund_of IS NOT NULL)),
        CONSTRAINT "chk_credit_transaction_idempotency_key"
          CHECK (char_length(idempotency_key) BETWEEN 1 AND 128)
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "idx_credit_transaction_user_id" ON "credit_transaction" ("user_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_credit_transaction_created_at" ON "credit_transaction" ("created_at")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_credit_transaction_user_id_created_at" ON "credit_transaction" ("user_id", "created_at")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_credit_transaction_refund_of" ON "credit_transaction" ("refund_of")`,
    );

    await queryRunner.query(LEDGER_APPEND_ONLY_SQL);
    await queryRunner.query(`
      CREATE TRIGGER "trg_credit_transaction_append_only"
        BEFORE UPDATE OR DELETE ON "credit_transaction"
        FOR EACH ROW EXECUTE FUNCTION "credit_transaction_append_only"()
    `);
    await queryRunner.query(`
      CREATE TRIGGER "trg_credit_transaction_no_truncate"
        BEFORE TRUNCATE ON "credit_transaction"
        FOR EACH STATEMENT EXECUTE FUNCTION "logging_refuse_truncate"('${LEDGER_HINT}')
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Dropping the table drops its triggers, indexes and constraints with it.
    await queryRunner.query(`DROP TABLE "credit_transaction"`);
    await queryRunner.query(`DROP FUNCTION "credit_transaction_append_only"()`);
    await queryRunner.query(`DROP TYPE "credit_feature_type"`);
    await queryRunner.query(`DROP TYPE "credit_operation_type"`);
  }
}
