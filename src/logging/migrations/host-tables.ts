import type { QueryRunner } from 'typeorm';

/** The host's tables the module's tables reference by name, in the order a message lists them. */
export const HOST_TABLES = ['firms', 'users', 'cma_projects'] as const;

/**
 * Refuses to go on when any of `firms`, `users` and `cma_projects` is missing (resolved as the
 * module's foreign keys resolve them, through the `search_path`), with a message naming the
 * missing tables and the fix. Run first by the module's first migration, before it creates
 * anything, so a host whose own migration sorts later gets this message rather than
 * `relation "firms" does not exist` half-way through.
 */
export async function refuseWithoutHostTables(
  queryRunner: QueryRunner,
  migration: string,
): Promise<void> {
  const rows = (await queryRunner.query(
    `SELECT t AS name FROM unnest($1::text[]) WITH ORDINALITY AS u (t, n)
      WHERE to_regclass(quote_ident(t)) IS NULL ORDER BY n`,
    [HOST_TABLES],
  )) as { name: string }[];
  if (rows.length === 0) return;
  const missing = rows.map((row) => row.name).join(', ');
  throw new Error(
    `${migration}: the host's tables ${missing} do not exist yet, and the module's tables ` +
      `reference firms, users and cma_projects. Create them in a host migration that runs before ` +
      `the module's. TypeORM runs migrations in the order of the 13-digit timestamps ending their ` +
      `names, so list the module's migrations in the DataSource as ` +
      `loggingMigrations({ after: '<the name of that host migration>' }) (from '@cma/logging'), ` +
      `which places them right after it, then run migration:run again. Nothing was created.`,
  );
}
