import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  PURGE_SEALED_GUARDED_SQL,
  pinSearchPath,
} from './1795305840000-database-guarantees.js';

const RUN_HINT =
  'runs are recorded by the sealer under its lock and are kept: they cover the time of every firm';

/** `logging_purge_sealed()` whose tombstone keeps the run of the last seal it stands for. */
const PURGE_SEALED_WITH_RUN_SQL = [
  [
    'row_count, prev_digest, digest, snapshot, sealed_at)',
    'row_count, prev_digest, digest, snapshot, sealed_at, run_seq)',
  ],
  [
    'last.snapshot, last.sealed_at);',
    'last.snapshot, last.sealed_at, last.run_seq);',
  ],
].reduce((sql, [from, to]) => {
  if (!sql.includes(from)) throw new Error(`not in the SQL: ${from}`);
  return sql.replace(from, to);
}, PURGE_SEALED_GUARDED_SQL);

/** The statements of `up`, in order. */
const SEAL_RUNS_UP: readonly string[] = [
  // One row per sealing run: the time it covered for every firm (or one firm), the snapshot it
  // read in, the windows it used, and a digest that commits to every covered firm's head.
  `CREATE TABLE "log_seal_run" (
    "id" uuid NOT NULL DEFAULT gen_random_uuid(),
    "log" text NOT NULL,
    "seq" integer NOT NULL,
    "firm_id" uuid,
    "upto" timestamptz NOT NULL,
    "snapshot" text NOT NULL,
    "xid" bigint NOT NULL,
    "sealed_at" timestamptz NOT NULL DEFAULT now(),
    "late_window_ms" bigint NOT NULL,
    "settle_ms" bigint NOT NULL,
    "edge_ids" uuid array NOT NULL DEFAULT '{}',
    "heads_count" integer NOT NULL,
    "heads_digest" bytea NOT NULL,
    "prev_digest" bytea NOT NULL,
    "digest" bytea NOT NULL,
    CONSTRAINT "pk_log_seal_run" PRIMARY KEY ("id"),
    CONSTRAINT "uq_log_seal_run_log_seq" UNIQUE ("log", "seq"),
    CONSTRAINT "chk_log_seal_run_log" CHECK (log IN ('audit_log', 'llm_usage_log')),
    CONSTRAINT "chk_log_seal_run_seq" CHECK (seq >= 1),
    CONSTRAINT "chk_log_seal_run_windows" CHECK (late_window_ms >= 0 AND settle_ms >= 0 AND heads_count >= 0),
    CONSTRAINT "chk_log_seal_run_digests" CHECK (octet_length(digest) = 32 AND octet_length(prev_digest) = 32 AND octet_length(heads_digest) = 32)
  )`,
  // Append-only: a run is inserted only by a session holding the sealers' lock, as the next link
  // of its log's chain; UPDATE is refused; DELETE only as the owner. No foreign key to the firm:
  // a firm's deletion leaves the log's chain of runs whole.
  `CREATE FUNCTION "log_seal_run_guard"() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      last log_seal_run;
    BEGIN
      IF TG_OP = 'INSERT' THEN
        IF NOT logging_holds_seal_lock() THEN
          RAISE EXCEPTION 'log_seal_run: a run is recorded only by a session holding the sealers'' lock, pg_advisory_lock(hashtext(''logging.log_seal''))'
            USING ERRCODE = 'insufficient_privilege', HINT = '${RUN_HINT}';
        END IF;
        SELECT * INTO last FROM log_seal_run WHERE log = NEW.log ORDER BY seq DESC LIMIT 1;
        IF NEW.seq <> coalesce(last.seq, 0) + 1
           OR NEW.prev_digest <> coalesce(last.digest, decode(repeat('00', 32), 'hex'))
           OR NEW.upto < last.upto THEN
          RAISE EXCEPTION 'log_seal_run: run % of % must follow run % (its digest, and an upto no earlier)', NEW.seq, NEW.log, coalesce(last.seq, 0)
            USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END IF;
      IF TG_OP = 'DELETE' AND logging_owner_acts('log_seal_run'::regclass) THEN
        RETURN OLD;
      END IF;
      RAISE EXCEPTION 'log_seal_run is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege', HINT = '${RUN_HINT}';
    END
    $$`,
  `CREATE TRIGGER "trg_log_seal_run_guard"
    BEFORE INSERT OR UPDATE OR DELETE ON "log_seal_run"
    FOR EACH ROW EXECUTE FUNCTION "log_seal_run_guard"()`,
  `CREATE TRIGGER "trg_log_seal_run_no_truncate"
    BEFORE TRUNCATE ON "log_seal_run"
    FOR EACH STATEMENT EXECUTE FUNCTION "logging_refuse_truncate"('${RUN_HINT}')`,
  pinSearchPath(['log_seal_run_guard()']),
  // The run that made each seal; null for seals made before runs were recorded. A tombstone
  // keeps the run of the last seal it stands for.
  `ALTER TABLE "log_seal" ADD "run_seq" integer`,
  PURGE_SEALED_WITH_RUN_SQL,
  pinSearchPath(['logging_purge_sealed(regclass, uuid, integer)']),
];

const SEAL_RUNS_DOWN: readonly string[] = [
  PURGE_SEALED_GUARDED_SQL,
  pinSearchPath(['logging_purge_sealed(regclass, uuid, integer)']),
  `ALTER TABLE "log_seal" DROP COLUMN "run_seq"`,
  `DROP TABLE "log_seal_run"`,
  `DROP FUNCTION "log_seal_run_guard"()`,
];

/**
 * Seal runs (docs/tamper-evidence.md): `log_seal_run`, one row per sealing pass over a log, which
 * covers every firm's time up to its cutoff, idle firms included, and `log_seal.run_seq`, the run
 * that made a seal.
 */
export class SealRuns1795305880000 implements MigrationInterface {
  name = 'SealRuns1795305880000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of SEAL_RUNS_UP) await queryRunner.query(statement);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of SEAL_RUNS_DOWN) await queryRunner.query(statement);
  }
}
