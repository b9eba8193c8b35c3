import type { MigrationInterface, QueryRunner } from 'typeorm';

export const LOG_HINT =
  'rows leave only with their firm, or through logging_purge_batch()';

/** A log table, the firm its rows go with, and its one reference ON DELETE SET NULL. */
export interface Guard {
  table: string;
  nulled: { column: string; parent: string };
  /** Every other column: none of them may change. */
  kept: string[];
}

export const GUARDS: Guard[] = [
  {
    table: 'llm_usage_log',
    nulled: { column: 'cma_project_id', parent: 'cma_projects' },
    kept: [
      'id',
      'firm_id',
      'model',
      'task_type',
      'input_tokens',
      'output_tokens',
      'cost_usd',
      'latency_ms',
      'success',
      'error_message',
      'created_at',
    ],
  },
  {
    table: 'audit_log',
    nulled: { column: 'user_id', parent: 'users' },
    kept: [
      'id',
      'firm_id',
      'action',
      'entity_type',
      'entity_id',
      'metadata',
      'ip_address',
      'created_at',
    ],
  },
];

/**
 * The row trigger function of a log: DELETE only of rows older than the retention cutoff or whose
 * firm is gone; UPDATE only of the nulled reference to null once its row is gone, all else equal.
 */
export function appendOnlyFunction({ table, nulled, kept }: Guard): string {
  const row = (alias: string) => kept.map((c) => `${alias}.${c}`).join(', ');
  return `
      CREATE FUNCTION "${table}_append_only"() RETURNS trigger
        LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          IF OLD.created_at < logging_purge_cutoff()
             OR NOT EXISTS (SELECT 1 FROM firms WHERE id = OLD.firm_id) THEN
            RETURN OLD;
          END IF;
        ELSIF TG_OP = 'UPDATE' THEN
          IF NEW.${nulled.column} IS NULL AND OLD.${nulled.column} IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM ${nulled.parent} WHERE id = OLD.${nulled.column})
             AND (${row('NEW')}) IS NOT DISTINCT FROM (${row('OLD')}) THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION '${table} is append-only: % refused', TG_OP
          USING ERRCODE = 'insufficient_privilege', HINT = '${LOG_HINT}';
      END
      $$
    `;
}

/** `logging_purge_batch()` as this migration creates it. */
export const PURGE_BATCH_SQL = `
      CREATE FUNCTION "logging_purge_batch"(
        target regclass, cutoff timestamptz, batch_size integer DEFAULT 10000
      ) RETURNS integer
        LANGUAGE plpgsql AS $$
      DECLARE
        deleted integer;
      BEGIN
        IF target NOT IN ('llm_usage_log'::regclass, 'audit_log'::regclass) THEN
          RAISE EXCEPTION 'logging_purge_batch: % is not a log table', target
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF cutoff IS NULL OR batch_size IS NULL OR batch_size < 1 THEN
          RAISE EXCEPTION 'logging_purge_batch: cutoff and a batch_size of at least 1 are required'
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM set_config('logging.purge_cutoff', cutoff::text, true);
        EXECUTE format(
          'DELETE FROM %s WHERE id IN (SELECT id FROM %s WHERE created_at < $1 ORDER BY created_at LIMIT $2)',
          target, target
        ) USING cutoff, batch_size;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        PERFORM set_config('logging.purge_cutoff', '', true);
        RETURN deleted;
      END
      $$
    `;

/**
 * Makes `llm_usage_log` and `audit_log` append-only in the database. Triggers refuse every UPDATE,
 * DELETE and TRUNCATE, except:
 *
 * - the foreign-key actions of the spec: a row whose firm is gone may be deleted (ON DELETE
 *   CASCADE), and a row whose project (`llm_usage_log.cma_project_id`) or user
 *   (`audit_log.user_id`) is gone may have that reference, and nothing else, set to null (ON DELETE
 *   SET NULL);
 * - the retention path, `logging_purge_batch(table, cutoff, batch_size)`, which deletes up to
 *   `batch_size` rows created before `cutoff` and returns how many it deleted. Call it until it
 *   returns less than `batch_size` (`LogRetentionService.purge` does), one transaction per batch.
 *
 * A refusal is SQLSTATE 42501 (insufficient_privilege) naming the table and the operation.
 */
export class AppendOnlyLogs1795305720000 implements MigrationInterface {
  name = 'AppendOnlyLogs1795305720000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // The retention cutoff in force in this transaction, set by logging_purge_batch only.
    await queryRunner.query(`
      CREATE FUNCTION "logging_purge_cutoff"() RETURNS timestamptz
        LANGUAGE sql STABLE AS $$
          SELECT nullif(current_setting('logging.purge_cutoff', true), '')::timestamptz
        $$
    `);
    for (const guard of GUARDS) {
      await queryRunner.query(appendOnlyFunction(guard));
    }
    // Shared by every append-only table; the trigger may pass its own hint.
    await queryRunner.query(`
      CREATE FUNCTION "logging_refuse_truncate"() RETURNS trigger
        LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege',
                HINT = coalesce(TG_ARGV[0], '${LOG_HINT}');
      END
      $$
    `);
    for (const { table } of GUARDS) {
      await queryRunner.query(`
        CREATE TRIGGER "trg_${table}_append_only"
          BEFORE UPDATE OR DELETE ON "${table}"
          FOR EACH ROW EXECUTE FUNCTION "${table}_append_only"()
      `);
      await queryRunner.query(`
        CREATE TRIGGER "trg_${table}_no_truncate"
          BEFORE TRUNCATE ON "${table}"
          FOR EACH STATEMENT EXECUTE FUNCTION "logging_refuse_truncate"()
      `);
    }
    await queryRunner.query(PURGE_BATCH_SQL);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION "logging_purge_batch"(regclass, timestamptz, integer)`,
    );
    for (const table of ['audit_log', 'llm_usage_log']) {
      await queryRunner.query(
        `DROP TRIGGER "trg_${table}_no_truncate" ON "${table}"`,
      );
      await queryRunner.query(
        `DROP TRIGGER "trg_${table}_append_only" ON "${table}"`,
      );
      await queryRunner.query(`DROP FUNCTION "${table}_append_only"()`);
    }
    await queryRunner.query(`DROP FUNCTION "logging_refuse_truncate"()`);
    await queryRunner.query(`DROP FUNCTION "logging_purge_cutoff"()`);
  }
}
