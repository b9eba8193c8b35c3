import type { QueryRunner } from 'typeorm';
import {
  compactStatement,
  insertFromRaw,
  ROLLUP_LOCK_SQL,
  ROLLUP_TABLES,
} from '../core/rollup-tables.js';
import { USAGE_ROLLUP_CHECK } from '../entities/llm-usage-daily.entity.js';
import {
  CREATE_DAILY_ROLLUPS_UP,
  CreateDailyRollups1795305800000,
} from './1795305800000-create-daily-rollups.js';

/**
 * The rollup migration is fixed text; compaction, rebuild and reconcile build the same SQL at run
 * time from `core/rollup-tables.ts`. These hold the two together: a change to the rollup tables'
 * description fails here until a new migration carries it.
 */

const flat = (sql: string) => sql.replace(/\s+/g, ' ').trim();

async function statementsOf(direction: 'up' | 'down'): Promise<string[]> {
  const statements: string[] = [];
  const runner = {
    query: (sql: string) => {
      statements.push(sql);
      return Promise.resolve();
    },
  } as unknown as QueryRunner;
  await new CreateDailyRollups1795305800000()[direction](runner);
  return statements;
}

describe('CreateDailyRollups1795305800000', () => {
  it('runs its fixed statements in order', async () => {
    expect(await statementsOf('up')).toEqual(CREATE_DAILY_ROLLUPS_UP);
  });

  it('creates the triggers, compaction and backfill that core/rollup-tables.ts describes', () => {
    const migration = flat(CREATE_DAILY_ROLLUPS_UP.join('\n'));
    expect(migration).toContain(flat(ROLLUP_LOCK_SQL));
    expect(migration).toContain(flat(`CHECK (${USAGE_ROLLUP_CHECK})`));
    for (const rollup of ROLLUP_TABLES) {
      expect(migration).toContain(
        flat(insertFromRaw(rollup, 'inserted', [], false)),
      );
      expect(migration).toContain(
        flat(insertFromRaw(rollup, `"${rollup.source}"`, [], true)),
      );
      expect(migration).toContain(flat(compactStatement(rollup)));
    }
  });

  it('creates each rollup table with its key and summed columns, and drops every object it made', async () => {
    const down = (await statementsOf('down')).join('\n');
    for (const rollup of ROLLUP_TABLES) {
      const create = CREATE_DAILY_ROLLUPS_UP.find((sql) =>
        sql.startsWith(`CREATE TABLE "${rollup.table}"`),
      );
      const columns = [...(create ?? '').matchAll(/^\s+"(\w+)" /gm)].map(
        (m) => m[1],
      );
      expect(columns).toEqual([
        'id',
        ...rollup.keys,
        ...rollup.sums.map((s) => s.column),
        'compacted',
      ]);
      expect(down).toContain(`DROP TABLE "${rollup.table}"`);
    }
    const made = CREATE_DAILY_ROLLUPS_UP.flatMap((sql) =>
      [...sql.matchAll(/^CREATE (?:TABLE|FUNCTION|TRIGGER) "(\w+)"/g)].map(
        (m) => m[1],
      ),
    );
    for (const name of made) expect(down).toContain(`"${name}"`);
  });
});
