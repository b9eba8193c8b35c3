import type { MigrationInterface } from 'typeorm';

/** A migration class, as a DataSource's `migrations` lists it. */
export type MigrationClass = new () => MigrationInterface;

/** The options of {@link loggingMigrations}. */
export interface LoggingMigrationsOptions {
  /**
   * The host's migration that creates `firms`, `users` and `cma_projects`: its class, or its name
   * as TypeORM records it (the class name `migration:create` writes, ending in a 13-digit
   * timestamp). The module's migrations are placed right after it. Required; no default.
   * @example loggingMigrations({ after: 'CreateHostTables1796186709510' })
   */
  after: MigrationClass | string;
}

const TIMESTAMP = /(\d{13})$/;

/** What TypeORM calls a migration: its `name` property, else its class name. */
function nameOf(after: unknown): unknown {
  if (typeof after !== 'function') return after;
  const migration = after as MigrationClass;
  return new migration().name ?? migration.name;
}

function renamed(base: MigrationClass, name: string): MigrationClass {
  const recorded = name;
  const migration = class extends base {
    override name = recorded;
  };
  Object.defineProperty(migration, 'name', { value: recorded });
  return migration;
}

/**
 * `migrations` (the module's, oldest first) placed right after the host migration `options.after`:
 * kept as they are when it is older than the first of them, otherwise renamed with its timestamp
 * plus their position. See `loggingMigrations`.
 */
export function placeMigrationsAfter(
  migrations: readonly MigrationClass[],
  options: LoggingMigrationsOptions,
): MigrationClass[] {
  const after = nameOf((options as Partial<LoggingMigrationsOptions>)?.after);
  const match = typeof after === 'string' ? TIMESTAMP.exec(after) : null;
  if (!match) {
    throw new Error(
      `loggingMigrations: 'after' must be the host migration that creates firms, users and ` +
        `cma_projects, as its class or its name ending in a 13-digit timestamp (as ` +
        `\`typeorm migration:create\` names it); got ${describe(after)}.`,
    );
  }
  const anchor = Number(match[1]);
  const names = migrations.map((migration) => new migration().name!);
  const first = Number(TIMESTAMP.exec(names[0])![1]);
  if (anchor < first) return [...migrations];
  if (anchor + migrations.length > 9_999_999_999_999) {
    throw new Error(
      `loggingMigrations: 'after' (${String(after)}) leaves no 13-digit timestamps after it for ` +
        `the module's ${migrations.length} migrations.`,
    );
  }
  return migrations.map((migration, i) =>
    renamed(migration, `${names[i].replace(TIMESTAMP, '')}${anchor + i + 1}`),
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return String(value);
  return typeof value;
}
