import type { DataSource } from 'typeorm';

/**
 * Everything the migrations define in the current schema, read from pg_catalog: tables with their
 * columns, constraints, indexes and triggers, the enum types and the functions. TypeORM's own
 * `migrations` table is left out.
 */
export async function schemaSnapshot(dataSource: DataSource) {
  const tables: { table: string }[] = await dataSource.query(
    `SELECT c.relname AS table FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
        AND c.relname <> 'migrations'
      ORDER BY 1`,
  );
  const columns: unknown[] = await dataSource.query(
    `SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
        AND c.relname <> 'migrations' AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY 1, a.attnum`,
  );
  const constraints: unknown[] = await dataSource.query(
    `SELECT c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS definition
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relname <> 'migrations'
      ORDER BY 1, 2`,
  );
  const indexes: unknown[] = await dataSource.query(
    `SELECT tablename AS table, indexname AS name, indexdef AS definition
       FROM pg_indexes
      WHERE schemaname = current_schema() AND tablename <> 'migrations'
      ORDER BY 1, 2`,
  );
  const types: unknown[] = await dataSource.query(
    `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE t.typnamespace = current_schema()::regnamespace
      GROUP BY 1 ORDER BY 1`,
  );
  const triggers: unknown[] = await dataSource.query(
    `SELECT c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS definition
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
      ORDER BY 1, 2`,
  );
  const functions: unknown[] = await dataSource.query(
    `SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS arguments,
            md5(pg_get_functiondef(p.oid)) AS definition
       FROM pg_proc p
      WHERE p.pronamespace = current_schema()::regnamespace
      ORDER BY 1, 2`,
  );
  return {
    tables: tables.map((t) => t.table),
    columns,
    constraints,
    indexes,
    types,
    triggers,
    functions,
  };
}

/** The snapshot of a schema holding nothing the migrations made. */
export const EMPTY_SCHEMA = {
  tables: [],
  columns: [],
  constraints: [],
  indexes: [],
  types: [],
  triggers: [],
  functions: [],
};
