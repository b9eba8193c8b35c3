import { DataSource, type QueryRunner } from 'typeorm';
import { copyRows, inlineParameters } from '../src/logging/seals/seal-copy.js';
import { databaseSuite } from './support/suite.js';

/**
 * The binary COPY reader the sealer and the verifier read rows with, and the literals that stand
 * for bind parameters in COPY, which takes none: values come back from PostgreSQL as they went in.
 */

const AWKWARD = [
  '',
  "it's",
  'back\\slash and \\N and \\\\',
  'tab\tnew\nline\rcarriage',
  '"double" {braces,} NULL',
  'é ü ₹ 漢字 😀',
  `$1 and $2`,
  '-- not a comment',
];

describe('COPY rows and inlined parameters', () => {
  const suite = databaseSuite();

  /** Calls `fn` with a query runner of a DataSource of its own on the suite's database. */
  async function withRunner(fn: (runner: QueryRunner) => Promise<void>) {
    const dataSource = await new DataSource({
      type: 'postgres',
      url: suite.url,
    }).initialize();
    const runner = dataSource.createQueryRunner();
    try {
      await fn(runner);
    } finally {
      await runner.release();
      await dataSource.destroy();
    }
  }

  it.each(['on', 'off'])(
    'strings and arrays written as literals read back unchanged (standard_conforming_strings %s)',
    async (conforming) => {
      await suite.reader.query(
        `SET standard_conforming_strings = ${conforming}`,
      );
      try {
        for (const value of AWKWARD) {
          const { rows } = await suite.reader.query<{ t: string; a: string[] }>(
            inlineParameters('SELECT $1::text AS t, $2::text[] AS a', [
              value,
              [value, null, value],
            ]),
          );
          expect(rows[0]).toEqual({ t: value, a: [value, null, value] });
        }
        const { rows } = await suite.reader.query<{
          n: number;
          m: number;
          none: null;
          empty: string[];
        }>(
          inlineParameters(
            'SELECT 10 -$1::int AS n, $2::int AS m, $3::uuid AS none, $4::uuid[] AS empty',
            [-5, 7, null, []],
          ),
        );
        expect(rows[0]).toEqual({ n: 15, m: 7, none: null, empty: [] });
      } finally {
        await suite.reader.query('RESET standard_conforming_strings');
      }
    },
  );

  it('refuses a placeholder without a value, and NUL characters', () => {
    expect(() => inlineParameters('SELECT $2', ['a'])).toThrow(
      /no value for \$2/,
    );
    expect(() => inlineParameters('SELECT $1', ['a\0b'])).toThrow(/NUL/);
    expect(() => inlineParameters('SELECT $1', [Number.NaN])).toThrow(
      /not a finite number/,
    );
  });

  it('reads every row of a binary COPY, across chunks, with NULLs and long fields', async () => {
    await withRunner(async (runner) => {
      const seen: [number, string | null, string | null][] = [];
      const paused: number[] = [];
      const rows = await copyRows(
        runner,
        `SELECT i::text AS n, CASE WHEN i % 3 <> 0 THEN repeat(t, i % 50) END,
                CASE WHEN i % 1000 = 0 THEN repeat('z', 100000) ELSE t END
           FROM generate_series(1, 20000) AS i,
                (VALUES ('é\t\\ "x"')) AS v(t)
          ORDER BY i`,
        3,
        (row) => seen.push([Number(row.text(0)), row.text(1), row.text(2)]),
        () => {
          paused.push(seen.length);
          return Promise.resolve();
        },
        5000,
      );
      expect(rows).toBe(20000);
      expect(seen).toHaveLength(20000);
      for (const [i, repeated, last] of seen) {
        expect(repeated).toBe(i % 3 === 0 ? null : 'é\t\\ "x"'.repeat(i % 50));
        expect(last).toBe(i % 1000 === 0 ? 'z'.repeat(100000) : 'é\t\\ "x"');
      }
      expect(seen.map(([i]) => i)).toEqual(
        Array.from({ length: 20000 }, (_, i) => i + 1),
      );
      expect(paused).toEqual([5000, 10000, 15000, 20000]);
      // the connection is idle again
      expect(await runner.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    });
  });

  it('an error thrown by the visitor is thrown once the rows are read, and the connection is usable', async () => {
    await withRunner(async (runner) => {
      let visited = 0;
      await expect(
        copyRows(
          runner,
          `SELECT i::text FROM generate_series(1, 50000) AS i`,
          1,
          () => {
            if (++visited === 10) throw new Error('visitor failed');
          },
        ),
      ).rejects.toThrow('visitor failed');
      expect(visited).toBe(10);
      expect(await runner.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
      // a failing query is the database's error
      await expect(
        copyRows(runner, `SELECT (1 / 0)::text`, 1, () => undefined),
      ).rejects.toThrow(/division by zero/);
      expect(await runner.query('SELECT 3 AS three')).toEqual([{ three: 3 }]);
    });
  });
});
