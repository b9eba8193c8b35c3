import type { MigrationInterface, QueryRunner } from 'typeorm';

export const SEAL_HINT =
  'seals leave only with their firm, or through logging_purge_sealed()';

/** `log_seal_append_only()` as this migration creates it. */
export const LOG_SEAL_APPEND_ONLY_SQL = `
      CREATE FUNCTION "log_seal_append_only"() RETURNS trigger
        LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND (
             current_setting('logging.seal_purge', true) = 'on'
             OR NOT EXISTS (SELECT 1 FROM firms WHERE id = OLD.firm_id)) THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'log_seal is append-only: % refused', TG_OP
          USING ERRCODE = 'insufficient_privilege', HINT = '${SEAL_HINT}';
      END
      $$
    `;

/** `logging_purge_sealed()` as this migration creates it. */
export const PURGE_SEALED_SQL = `
      CREATE FUNCTION "logging_purge_sealed"(
        target regclass, firm uuid, through_seq integer
      ) RETURNS bigint
        LANGUAGE plpgsql AS $$
      DECLARE
        last log_seal;
        first_prev bytea;
        total bigint;
        kept uuid[];
        deleted bigint;
      BEGIN
        IF target NOT IN ('llm_usage_log'::regclass, 'audit_log'::regclass) THEN
          RAISE EXCEPTION 'logging_purge_sealed: % is not a log table', target
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM 1 FROM log_seal
          WHERE log = target::text AND firm_id = firm ORDER BY seq FOR UPDATE;
        SELECT * INTO last FROM log_seal
          WHERE log = target::text AND firm_id = firm AND seq = through_seq;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'logging_purge_sealed: % has no seal % for firm %', target, through_seq, firm
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT s.prev_digest INTO first_prev FROM log_seal s
          WHERE s.log = target::text AND s.firm_id = firm ORDER BY s.seq LIMIT 1;
        SELECT sum(s.row_count) INTO total FROM log_seal s
          WHERE s.log = target::text AND s.firm_id = firm AND s.seq <= through_seq;
        -- rows of the purged range that a later seal took in as late arrivals stay with it
        SELECT coalesce(array_agg(l.id), '{}') INTO kept FROM log_seal s, unnest(s.late_ids) AS l(id)
          WHERE s.log = target::text AND s.firm_id = firm AND s.seq > through_seq;
        PERFORM set_config('logging.purge_cutoff', (last.to_created_at + interval '1 microsecond')::text, true);
        EXECUTE format(
          'DELETE FROM %s WHERE firm_id = $1 AND (created_at, id) <= ($2, $3) AND NOT (id = ANY ($4))',
          target
        ) USING firm, last.to_created_at, last.to_id, kept;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        PERFORM set_config('logging.purge_cutoff', '', true);
        PERFORM set_config('logging.seal_purge', 'on', true);
        DELETE FROM log_seal
          WHERE log = target::text AND firm_id = firm AND seq <= through_seq;
        PERFORM set_config('logging.seal_purge', '', true);
        INSERT INTO log_seal (log, firm_id, seq, kind, to_created_at, to_id, range_count,
                              row_count, prev_digest, digest, snapshot, sealed_at)
          VALUES (target::text, firm, through_seq, 'tombstone', last.to_created_at, last.to_id, 0,
                  total, first_prev, last.digest, last.snapshot, last.sealed_at);
        RETURN deleted;
      END
      $$
    `;

/**
 * Creates `log_seal`, the hash chains that make edits of `audit_log` and `llm_usage_log` evident,
 * even the database owner's (docs/tamper-evidence.md):
 *
 * - the table, append-only like the logs: UPDATE and TRUNCATE are refused; DELETE only with the
 *   firm (ON DELETE CASCADE) or through `logging_purge_sealed()`;
 * - `logging_purge_sealed(log, firm, through_seq)`, the retention path of a sealed log: it deletes
 *   the rows the seals up to `through_seq` cover together with those seals, and leaves one tombstone
 *   seal that carries the chain on.
 */
export class CreateLogSeals1795305820000 implements MigrationInterface {
  name = 'CreateLogSeals1795305820000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "log_seal" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "log" text NOT NULL,
        "firm_id" uuid NOT NULL,
        "seq" integer NOT NULL,
        "kind" text NOT NULL DEFAULT 'seal',
        "from_created_at" timestamptz,
        "from_id" uuid,
        "to_created_at" timestamptz NOT NULL,
        "to_id" uuid NOT NULL,
        "range_count" integer NOT NULL,
        "late_ids" uuid array NOT NULL DEFAULT '{}',
        "row_count" bigint NOT NULL,
        "prev_digest" bytea NOT NULL,
        "digest" bytea NOT NULL,
        "snapshot" text,
        "sealed_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_log_seal" PRIMARY KEY ("id"),
        CONSTRAINT "uq_log_seal_log_firm_id_seq" UNIQUE ("log", "firm_id", "seq"),
        CONSTRAINT "chk_log_seal_log" CHECK (log IN ('audit_log', 'llm_usage_log')),
        CONSTRAINT "chk_log_seal_kind" CHECK (kind IN ('seal', 'tombstone')),
        CONSTRAINT "chk_log_seal_seq" CHECK (seq >= 1),
        CONSTRAINT "chk_log_seal_counts" CHECK (range_count >= 0 AND row_count >= 0),
        CONSTRAINT "chk_log_seal_digests" CHECK (octet_length(digest) = 32 AND octet_length(prev_digest) = 32),
        CONSTRAINT "fk_log_seal_firm_id" FOREIGN KEY ("firm_id") REFERENCES "firms"("id") ON DELETE CASCADE
      )
    `);
    await queryRunner.query(LOG_SEAL_APPEND_ONLY_SQL);
    await queryRunner.query(`
      CREATE TRIGGER "trg_log_seal_append_only"
        BEFORE UPDATE OR DELETE ON "log_seal"
        FOR EACH ROW EXECUTE FUNCTION "log_seal_append_only"()
    `);
    await queryRunner.query(`
      CREATE TRIGGER "trg_log_seal_no_truncate"
        BEFORE TRUNCATE ON "log_seal"
        FOR EACH STATEMENT EXECUTE FUNCTION "logging_refuse_truncate"('${SEAL_HINT}')
    `);
    await queryRunner.query(PURGE_SEALED_SQL);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION "logging_purge_sealed"(regclass, uuid, integer)`,
    );
    await queryRunner.query(`DROP TABLE "log_seal"`);
    await queryRunner.query(`DROP FUNCTION "log_seal_append_only"()`);
  }
}
