import type { MigrationInterface, QueryRunner } from 'typeorm';
import { LOGGING_MIGRATIONS, loggingMigrations } from './index.js';
import type { MigrationClass } from './logging-migrations.js';

/**
 * `loggingMigrations({ after })`: the module's migrations named so that TypeORM, which orders
 * migrations by the 13-digit timestamp ending their names (`MigrationExecutor.getMigrations`),
 * runs them right after the host migration `after`, whenever it was made.
 */

const nameOf = (migration: MigrationClass) =>
  new migration().name ?? migration.name;

/** TypeORM's order: by the number in the last 13 characters of the name, stable. */
const typeormOrder = (migrations: MigrationClass[]) =>
  migrations
    .map(nameOf)
    .sort((a, b) => Number(a.slice(-13)) - Number(b.slice(-13)));

/** A host migration as `typeorm migration:create src/migrations/CreateHostTables` writes it. */
function hostMigration(timestamp: number): MigrationClass {
  const migration = class implements MigrationInterface {
    async up(_queryRunner: QueryRunner): Promise<void> {}
    async down(_queryRunner: QueryRunner): Promise<void> {}
  };
  Object.defineProperty(migration, 'name', {
    value: `CreateHostTables${timestamp}`,
  });
  return migration;
}

const MODULE_NAMES = LOGGING_MIGRATIONS.map(nameOf);

describe('loggingMigrations', () => {
  it('keeps the module names when the host migration is older than the first of them', () => {
    const host = hostMigration(1_700_000_000_000);
    const placed = loggingMigrations({ after: host });
    expect(placed).toEqual(LOGGING_MIGRATIONS);
    expect(placed).not.toBe(LOGGING_MIGRATIONS);
    expect(typeormOrder([...placed, host])).toEqual([
      'CreateHostTables1700000000000',
      ...MODULE_NAMES,
    ]);
  });

  it('places them right after a host migration made today, which TypeORM would otherwise run after them', () => {
    const now = Date.now();
    const host = hostMigration(now);
    expect(typeormOrder([host, ...LOGGING_MIGRATIONS])[0]).not.toBe(
      `CreateHostTables${now}`,
    );

    const placed = loggingMigrations({ after: host });
    const names = placed.map(nameOf);
    expect(names).toEqual(
      MODULE_NAMES.map(
        (name, i) => `${name.slice(0, -13)}${String(now + i + 1)}`,
      ),
    );
    expect(names[0]).toBe(`CreateLoggingTables${now + 1}`);
    // The order TypeORM runs them in, whatever the order of the DataSource's list.
    const later = hostMigration(now + 86_400_000);
    expect(typeormOrder([...placed, later, host])).toEqual([
      `CreateHostTables${now}`,
      ...names,
      `CreateHostTables${now + 86_400_000}`,
    ]);
    // Each is the module's migration under another name: same statements, same class.
    placed.forEach((migration, i) => {
      const instance = new migration();
      expect(instance).toBeInstanceOf(LOGGING_MIGRATIONS[i]);
      expect(migration.name).toBe(names[i]);
      // up and down are the base class's own: nothing is redefined
      expect(Object.getPrototypeOf(migration)).toBe(LOGGING_MIGRATIONS[i]);
      expect(Object.getOwnPropertyNames(migration.prototype)).toEqual([
        'constructor',
      ]);
    });
  });

  it('names them the same on every call, from the class or from its name', () => {
    const host = hostMigration(1_796_186_709_510);
    const byClass = loggingMigrations({ after: host }).map(nameOf);
    expect(loggingMigrations({ after: host }).map(nameOf)).toEqual(byClass);
    expect(
      loggingMigrations({ after: 'CreateHostTables1796186709510' }).map(nameOf),
    ).toEqual(byClass);
    // the last of the module's migrations, named with the host's timestamp plus its position
    const last = LOGGING_MIGRATIONS[LOGGING_MIGRATIONS.length - 1].name.replace(
      /\d{13}$/,
      '',
    );
    expect(byClass[byClass.length - 1]).toBe(
      `${last}${1_796_186_709_510 + LOGGING_MIGRATIONS.length}`,
    );
  });

  it('reads a class the way TypeORM does: its `name` property first, then its class name', () => {
    class Renamed1700000000000 implements MigrationInterface {
      name = 'CreateHostTables1796186709510';
      async up(): Promise<void> {}
      async down(): Promise<void> {}
    }
    expect(loggingMigrations({ after: Renamed1700000000000 })[0].name).toBe(
      'CreateLoggingTables1796186709511',
    );
  });

  it('places them after a host migration whose timestamp falls among theirs', () => {
    const placed = loggingMigrations({ after: 'Between1795305700000' });
    expect(placed.map(nameOf)[0]).toBe('CreateLoggingTables1795305700001');
  });

  it.each([
    [undefined, 'undefined'],
    ['CreateHostTables', '"CreateHostTables"'],
    ['CreateHostTables179618670951', '"CreateHostTables179618670951"'],
    [1796186709510, 'number'],
  ])(
    'refuses %p as `after`, naming the option and the rule',
    (after, shown) => {
      expect(() =>
        loggingMigrations({ after: after as unknown as string }),
      ).toThrow(
        `loggingMigrations: 'after' must be the host migration that creates firms, users and cma_projects, as its class or its name ending in a 13-digit timestamp (as \`typeorm migration:create\` names it); got ${shown}.`,
      );
    },
  );

  it('refuses a class whose name ends in no timestamp, and no options at all', () => {
    class CreateHostTables implements MigrationInterface {
      async up(): Promise<void> {}
      async down(): Promise<void> {}
    }
    expect(() => loggingMigrations({ after: CreateHostTables })).toThrow(
      /got "CreateHostTables"\.$/,
    );
    expect(() =>
      loggingMigrations(undefined as unknown as { after: string }),
    ).toThrow(/'after' must be/);
  });

  it('refuses a host migration with no 13-digit timestamps left after it', () => {
    const after = `Last${9_999_999_999_999 - LOGGING_MIGRATIONS.length + 1}`;
    expect(() => loggingMigrations({ after })).toThrow(
      `loggingMigrations: 'after' (${after}) leaves no 13-digit timestamps after it for the module's ${LOGGING_MIGRATIONS.length} migrations.`,
    );
    // one timestamp more leaves room for them all
    expect(
      loggingMigrations({
        after: `Last${9_999_999_999_999 - LOGGING_MIGRATIONS.length}`,
      }),
    ).toHaveLength(LOGGING_MIGRATIONS.length);
  });
});
