import type { MigrationInterface, QueryRunner } from 'typeorm';

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
           AND l.classid::bigint = ((pg_catalog.hashtext('logging.log_seal')::bigint >> 32) & 4294967295)
           AND l.objid::bigint = (pg_catalog.hashtext('logging.log_seal')::bigint & 4294967295))
    $$`,
];

const DATABASE_GUARANTEES_DOWN: readonly string[] = [
  `DROP FUNCTION "logging_holds_seal_lock"()`,
  `DROP FUNCTION "logging_clock_bound"()`,
  `DROP FUNCTION "logging_owner_acts"(regclass)`,
];

/**
 * The guarantees the database holds against the application's own role (docs/guarantees.md,
 * "Threat model"): whether a row may be deleted or changed depends on who runs the statement,
 * never on a setting a session can change.
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
