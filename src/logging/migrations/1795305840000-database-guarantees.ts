import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  GUARDS,
  LOG_HINT,
  PURGE_BATCH_SQL,
  appendOnlyFunction,
} from './1795305720000-append-only-logs.js';
import {
  LEDGER_APPEND_ONLY_SQL,
  LEDGER_HINT,
} from './1795305780000-create-credit-ledger.js';
import {
  LOG_SEAL_APPEND_ONLY_SQL,
  PURGE_SEALED_SQL,
  SEAL_HINT,
} from './1795305820000-create-log-seals.js';

/** The key of the advisory lock every sealer and every purge takes. */
export const SEAL_LOCK = `pg_catalog.hashtext('logging.log_seal')`;

/** Default retention floors: purges may not reach rows younger than these. */
export const RETENTION_FLOOR_DEFAULTS = {
  audit_log: '365 days',
  llm_usage_log: '90 days',
} as const;

/** The functions a role with only INSERT and SELECT on the tables calls to purge and compact. */
const DEFINER_FUNCTIONS = [
  'logging_purge_batch(regclass, timestamptz, integer)',
  'logging_purge_sealed(regclass, uuid, integer)',
  'logging_rollup_compact(integer)',
] as const;

/** Every function of the module that reads a table by name, this migration's included. */
const PINNED_FUNCTIONS = [
  ...DEFINER_FUNCTIONS,
  'audit_log_append_only()',
  'llm_usage_log_append_only()',
  'credit_transaction_append_only()',
  'log_seal_append_only()',
  'audit_log_rollup()',
  'llm_usage_log_rollup()',
  'logging_record_purge()',
  'logging_check_retention_floor(text, regclass, timestamptz)',
] as const;

/** `sql` with each `[from, to]` replaced once; throws when `from` is not there. */
function replaced(sql: string, edits: [from: string, to: string][]): string {
  return edits.reduce((text, [from, to]) => {
    if (!text.includes(from)) throw new Error(`not in the SQL: ${from}`);
    return text.replace(from, to);
  }, sql);
}

/**
 * An append-only trigger function of an earlier migration, replaced so that it refuses at once,
 * with its own message, unless the table's owner acts: the foreign-key actions (which PostgreSQL
 * runs as the owner of the referencing table) and the SECURITY DEFINER purges pass on to its old
 * rules; nothing a session can set lets another role through.
 */
function ownerFirst(sql: string, table: string, hint: string): string {
  return replaced(sql, [
    ['CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'],
    [
      '      BEGIN\n',
      `      BEGIN
        IF NOT logging_owner_acts(TG_RELID) THEN
          RAISE EXCEPTION '${table} is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege', HINT = '${hint}';
        END IF;
`,
    ],
  ]);
}

/**
 * `logging_purge_sealed()` as this migration makes it: with the owner's rights, under the sealers'
 * lock, refusing a seal younger than the retention floor.
 */
export const PURGE_SEALED_GUARDED_SQL = replaced(PURGE_SEALED_SQL, [
  ['CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'],
  ['LANGUAGE plpgsql AS', 'LANGUAGE plpgsql SECURITY DEFINER AS'],
  [
    `        PERFORM 1 FROM log_seal`,
    `        PERFORM pg_advisory_xact_lock(${SEAL_LOCK});
        PERFORM 1 FROM log_seal`,
  ],
  [
    `        SELECT s.prev_digest INTO first_prev`,
    `        PERFORM logging_check_retention_floor('logging_purge_sealed', target, last.to_created_at);
        SELECT s.prev_digest INTO first_prev`,
  ],
]);

/**
 * A statement that makes `functions` resolve names in pg_catalog and the schema being migrated
 * only, pg_temp last: a session's temporary table never stands in for one of the module's.
 */
export function pinSearchPath(functions: readonly string[]): string {
  return `DO $$
  DECLARE
    fn text;
  BEGIN
    FOREACH fn IN ARRAY ARRAY[${functions.map((fn) => `'${fn}'`).join(', ')}] LOOP
      EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp', fn, current_schema());
    END LOOP;
  END
  $$`;
}

/** The statements of `up`, in order. */
export const DATABASE_GUARANTEES_UP: readonly string[] = [
  // Who is acting: the role that owns `rel`, directly, inside a SECURITY DEFINER function it owns,
  // or running a foreign-key action (PostgreSQL runs those as the owner of the referencing table).
  // Never a setting: a session cannot change its current_user to a role it is not a member of.
  `CREATE FUNCTION "logging_owner_acts"(rel regclass) RETURNS boolean
    LANGUAGE sql STABLE AS $$
      SELECT pg_catalog.pg_get_userbyid(c.relowner) = current_user
        FROM pg_catalog.pg_class c WHERE c.oid = rel
    $$`,
  // How far a row's created_at may be from the database's clock when a role other than the
  // owner inserts it.
  `CREATE FUNCTION "logging_clock_bound"() RETURNS interval
    LANGUAGE sql IMMUTABLE AS $$ SELECT interval '5 seconds' $$`,
  // Whether this session holds the sealers' advisory lock, pg_advisory_lock(hashtext('logging.log_seal')).
  `CREATE FUNCTION "logging_holds_seal_lock"() RETURNS boolean
    LANGUAGE sql STABLE AS $$
      SELECT EXISTS (
        SELECT 1 FROM pg_catalog.pg_locks l
         WHERE l.locktype = 'advisory' AND l.pid = pg_catalog.pg_backend_pid() AND l.granted
           AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
           AND l.objsubid = 1
           AND l.classid::bigint = ((${SEAL_LOCK}::bigint >> 32) & 4294967295)
           AND l.objid::bigint = (${SEAL_LOCK}::bigint & 4294967295))
    $$`,

  // Append-only by who acts, not by what a session has set.
  ...GUARDS.map((guard) =>
    ownerFirst(appendOnlyFunction(guard), guard.table, LOG_HINT),
  ),
  ownerFirst(LEDGER_APPEND_ONLY_SQL, 'credit_transaction', LEDGER_HINT),
  ownerFirst(LOG_SEAL_APPEND_ONLY_SQL, 'log_seal', SEAL_HINT),
  // A seal is made only under the sealers' lock, which the purges take too: they never interleave.
  `CREATE FUNCTION "logging_require_seal_lock"() RETURNS trigger
    LANGUAGE plpgsql AS $$
  BEGIN
    IF NOT logging_holds_seal_lock() THEN
      RAISE EXCEPTION '%: % refused: the session does not hold the sealers'' lock', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'seals are made by AuditSealService under pg_advisory_lock(hashtext(''logging.log_seal''))';
    END IF;
    RETURN NULL;
  END
  $$`,
  `CREATE TRIGGER "trg_log_seal_requires_lock"
    BEFORE INSERT ON "log_seal"
    FOR EACH STATEMENT EXECUTE FUNCTION "logging_require_seal_lock"()`,

  // The retention floor: only the owner changes it.
  `CREATE TABLE "logging_retention_floor" (
    "log" text NOT NULL,
    "min_age" interval NOT NULL,
    CONSTRAINT "pk_logging_retention_floor" PRIMARY KEY ("log"),
    CONSTRAINT "chk_logging_retention_floor_log" CHECK (log IN ('audit_log', 'llm_usage_log')),
    CONSTRAINT "chk_logging_retention_floor_min_age" CHECK (min_age >= interval '0')
  )`,
  `INSERT INTO "logging_retention_floor" (log, min_age) VALUES
    ('audit_log', interval '${RETENTION_FLOOR_DEFAULTS.audit_log}'),
    ('llm_usage_log', interval '${RETENTION_FLOOR_DEFAULTS.llm_usage_log}')`,
  `CREATE FUNCTION "logging_owner_only"() RETURNS trigger
    LANGUAGE plpgsql AS $$
  BEGIN
    IF logging_owner_acts(TG_RELID) THEN
      IF TG_OP = 'DELETE' THEN
        RETURN OLD;
      END IF;
      RETURN NEW;
    END IF;
    RAISE EXCEPTION '%: % refused: only the owner of the table may change it', TG_TABLE_NAME, TG_OP
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'the schema owner sets the retention floor (docs/retention-and-append-only.md)';
  END
  $$`,
  `CREATE TRIGGER "trg_logging_retention_floor_owner_only"
    BEFORE INSERT OR UPDATE OR DELETE ON "logging_retention_floor"
    FOR EACH ROW EXECUTE FUNCTION "logging_owner_only"()`,
  `CREATE TRIGGER "trg_logging_retention_floor_no_truncate"
    BEFORE TRUNCATE ON "logging_retention_floor"
    FOR EACH STATEMENT EXECUTE FUNCTION "logging_refuse_truncate"('the schema owner sets the retention floor with UPDATE')`,
  // The newest cutoff a purge of `target` may use; raises when `cutoff` is newer.
  `CREATE FUNCTION "logging_check_retention_floor"(caller text, target regclass, cutoff timestamptz)
    RETURNS void LANGUAGE plpgsql STABLE AS $$
  DECLARE
    kept interval;
  BEGIN
    SELECT min_age INTO kept FROM logging_retention_floor WHERE log = target::text;
    IF kept IS NULL THEN
      RAISE EXCEPTION '%: % has no retention floor in logging_retention_floor', caller, target
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF cutoff > now() - kept THEN
      RAISE EXCEPTION '%: cutoff % is inside the retention floor of % (%): rows created after % are kept',
          caller, cutoff, target, kept, now() - kept
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'the schema owner moves the floor: UPDATE logging_retention_floor SET min_age = ... WHERE log = ''' || target::text || '''';
    END IF;
  END
  $$`,

  // The purges, with the owner's rights: the application role needs no DELETE.
  replaced(PURGE_BATCH_SQL, [
    ['CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'],
    ['LANGUAGE plpgsql AS', 'LANGUAGE plpgsql SECURITY DEFINER AS'],
    [
      `        PERFORM set_config('logging.purge_cutoff', cutoff::text, true);`,
      `        PERFORM logging_check_retention_floor('logging_purge_batch', target, cutoff);
        -- a sealer holds this lock for its whole run: a purge never deletes rows a seal is reading
        PERFORM pg_advisory_xact_lock(${SEAL_LOCK});
        IF EXISTS (SELECT 1 FROM log_seal
                    WHERE log = target::text AND kind = 'seal'
                      AND (from_created_at IS NULL OR from_created_at < cutoff)) THEN
          RAISE EXCEPTION 'logging_purge_batch: % holds sealed rows created before %', target, cutoff
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'sealed rows leave by whole seals: AuditSealService.purge, logging_purge_sealed()';
        END IF;
        PERFORM set_config('logging.purge_cutoff', cutoff::text, true);`,
    ],
  ]),
  PURGE_SEALED_GUARDED_SQL,
  ...DEFINER_FUNCTIONS.flatMap((fn) => [
    `ALTER FUNCTION ${fn} SECURITY DEFINER`,
    `REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC`,
  ]),
  // The module's functions resolve names in this schema only: a session's temporary table named
  // `firms` or `audit_log_daily` (pg_temp comes first in a default search_path) never stands in.
  pinSearchPath(PINNED_FUNCTIONS),

  // Time the database vouches for: a row inserted by any role but the owner is dated within
  // logging_clock_bound() of the database clock.
  `CREATE FUNCTION "logging_check_created_at"() RETURNS trigger
    LANGUAGE plpgsql AS $$
  DECLARE
    bad timestamptz;
    found boolean;
    lo timestamptz := clock_timestamp() - logging_clock_bound();
    hi timestamptz := clock_timestamp() + logging_clock_bound();
  BEGIN
    IF logging_owner_acts(TG_RELID) THEN
      RETURN NULL;
    END IF;
    SELECT true, created_at INTO found, bad FROM inserted
     WHERE created_at IS NULL OR created_at < lo OR created_at > hi LIMIT 1;
    IF found THEN
      RAISE EXCEPTION '%: created_at % is not within % of the database clock (%)',
          TG_TABLE_NAME, coalesce(bad::text, 'NULL'), logging_clock_bound(), clock_timestamp()
        USING ERRCODE = 'check_violation',
              HINT = 'rows are dated by the database clock at insert; only the table owner writes other dates';
    END IF;
    RETURN NULL;
  END
  $$`,
  ...['audit_log', 'llm_usage_log', 'credit_transaction'].map(
    (table) => `CREATE TRIGGER "trg_${table}_created_at"
    AFTER INSERT ON "${table}" REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION "logging_check_created_at"()`,
  ),
];

const DATABASE_GUARANTEES_DOWN: readonly string[] = [
  ...['credit_transaction', 'llm_usage_log', 'audit_log'].map(
    (table) => `DROP TRIGGER "trg_${table}_created_at" ON "${table}"`,
  ),
  `DROP FUNCTION "logging_check_created_at"()`,
  ...PINNED_FUNCTIONS.filter((fn) => !fn.startsWith('logging_check')).map(
    (fn) => `ALTER FUNCTION ${fn} RESET search_path`,
  ),
  ...DEFINER_FUNCTIONS.flatMap((fn) => [
    `ALTER FUNCTION ${fn} SECURITY INVOKER`,
    `GRANT EXECUTE ON FUNCTION ${fn} TO PUBLIC`,
  ]),
  PURGE_SEALED_SQL.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'),
  PURGE_BATCH_SQL.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'),
  `DROP FUNCTION "logging_check_retention_floor"(text, regclass, timestamptz)`,
  `DROP TABLE "logging_retention_floor"`,
  `DROP FUNCTION "logging_owner_only"()`,
  `DROP TRIGGER "trg_log_seal_requires_lock" ON "log_seal"`,
  `DROP FUNCTION "logging_require_seal_lock"()`,
  LOG_SEAL_APPEND_ONLY_SQL.replace(
    'CREATE FUNCTION',
    'CREATE OR REPLACE FUNCTION',
  ),
  LEDGER_APPEND_ONLY_SQL.replace(
    'CREATE FUNCTION',
    'CREATE OR REPLACE FUNCTION',
  ),
  ...GUARDS.map((guard) =>
    appendOnlyFunction(guard).replace(
      'CREATE FUNCTION',
      'CREATE OR REPLACE FUNCTION',
    ),
  ),
  `DROP FUNCTION "logging_holds_seal_lock"()`,
  `DROP FUNCTION "logging_clock_bound"()`,
  `DROP FUNCTION "logging_owner_acts"(regclass)`,
];

/**
 * The guarantees the database holds against the application's own role (docs/guarantees.md,
 * "Threat model"):
 *
 * - **Append-only by who acts.** The triggers of `audit_log`, `llm_usage_log`, `credit_transaction`
 *   and `log_seal` let a row be deleted or changed only when the table's owner acts: inside the
 *   foreign-key actions (run as the owner) or the purge functions (SECURITY DEFINER). No setting a
 *   session can change opens them.
 * - **A retention floor** per log in `logging_retention_floor` (defaults 365 days for `audit_log`,
 *   90 for `llm_usage_log`), which only the owner can change: `logging_purge_batch` and
 *   `logging_purge_sealed` refuse a cutoff inside it.
 * - **Purge and seal exclude each other**: both purge functions take the sealers' advisory lock, and
 *   `log_seal` accepts rows only from a session holding it.
 * - **The purges and the rollup compaction run with the owner's rights** (SECURITY DEFINER, a fixed
 *   search_path, EXECUTE revoked from PUBLIC): the application role needs INSERT, SELECT and EXECUTE.
 * - **Time the database vouches for**: a row of the logs or the ledger inserted by any role but the
 *   owner must be dated within `logging_clock_bound()` (5 seconds) of the database clock.
 */
export class DatabaseGuarantees1795305840000 implements MigrationInterface {
  name = 'DatabaseGuarantees1795305840000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of DATABASE_GUARANTEES_UP) {
      await queryRunner.query(statement);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of DATABASE_GUARANTEES_DOWN) {
      await queryRunner.query(statement);
    }
  }
}
