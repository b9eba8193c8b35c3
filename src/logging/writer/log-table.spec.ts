import { arrayLiteral } from './log-table.js';

describe('arrayLiteral: a column of a batch as a PostgreSQL array literal', () => {
  it('quotes every value, escapes backslashes and double quotes, and writes NULL bare', () => {
    expect(
      arrayLiteral([
        'plain',
        '{"requestId":"abc","note":"a \\\\ b \\" c"}',
        'NULL',
        '',
        'é, {x}',
        '\\',
        null,
        undefined,
      ]),
    ).toBe(
      '{"plain","{\\"requestId\\":\\"abc\\",\\"note\\":\\"a \\\\\\\\ b \\\\\\" c\\"}","NULL","","é, {x}","\\\\",NULL,NULL}',
    );
  });

  it('writes numbers and booleans as their text, quoted', () => {
    expect(arrayLiteral([12, -0.5, Number.NaN, true, false])).toBe(
      '{"12","-0.5","NaN","true","false"}',
    );
  });

  it('leaves other values to node-postgres', () => {
    expect(arrayLiteral([new Date('2026-12-02T12:00:00Z'), null])).toBe(
      undefined,
    );
    expect(arrayLiteral([{ a: 1 }])).toBe(undefined);
    expect(arrayLiteral([])).toBe('{}');
  });
});
