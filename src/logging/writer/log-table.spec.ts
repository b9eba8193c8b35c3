import { createRequire } from 'node:module';
import { arrayLiteral } from './log-table.js';

/** node-postgres' own conversion of a parameter, which the literals must match. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (value: unknown) => unknown;
};

describe('arrayLiteral: the array literals node-postgres would write', () => {
  it('for strings with quotes and backslashes, numbers, booleans and nulls', () => {
    const rows = [
      ['0198a7c2-7d2e-7a1b-9f00-3c4d5e6f7a8b', 'plain', 12, true, null],
      [
        '0198a7c2-7d2e-7a1b-9f00-3c4d5e6f7a8c',
        '{"requestId":"abc","note":"a \\\\ b \\" c"}',
        -0.5,
        false,
        undefined,
      ],
      ['0198a7c2-7d2e-7a1b-9f00-3c4d5e6f7a8d', 'NULL', 0, true, 'é, {x}'],
      ['0198a7c2-7d2e-7a1b-9f00-3c4d5e6f7a8e', '', Number.NaN, false, '\\'],
    ];
    for (let c = 0; c < 5; c++) {
      const column = rows.map((row) => row[c]);
      expect(arrayLiteral(column)).toBe(prepareValue(column));
    }
  });

  it('leaves other values to node-postgres', () => {
    expect(arrayLiteral([new Date('2026-12-02T12:00:00Z'), null])).toBe(
      undefined,
    );
    expect(arrayLiteral([{ a: 1 }])).toBe(undefined);
    expect(arrayLiteral([])).toBe('{}');
  });
});
