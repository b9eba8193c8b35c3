import {
  arrayLiteral,
  packedInsertStatement,
  packRow,
  type LogTable,
} from './log-table.js';

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

describe('packRow: a queued row as one JSON array', () => {
  it('writes strings, finite numbers, booleans and nulls as JSON', () => {
    const row = ['id-1', 12, -0.5, true, null, 'a "q" \\ {b}', '', 'é 漢字 😀'];
    expect(JSON.parse(packRow(row)!)).toEqual(row);
  });

  it('writes a lone surrogate as U+FFFD, and leaves an escaped backslash before "ud800" as it is', () => {
    expect(JSON.parse(packRow(['a\ud800b', '\udfff'])!)).toEqual([
      'a\ufffdb',
      '\ufffd',
    ]);
    // the six characters \ud800, then a backslash and a lone surrogate
    expect(JSON.parse(packRow(['\\ud800', '\\\ud800', '\\\\ud800'])!)).toEqual([
      '\\ud800',
      '\\\ufffd',
      '\\\\ud800',
    ]);
  });

  it('leaves a row with any other value to the column arrays', () => {
    expect(packRow(['x', new Date(0)])).toBeUndefined();
    expect(packRow([{ a: 1 }])).toBeUndefined();
    expect(packRow([Number.NaN])).toBeUndefined();
    expect(packRow([Number.POSITIVE_INFINITY])).toBeUndefined();
    expect(packRow([undefined])).toBeUndefined();
    expect(packRow([1n])).toBeUndefined();
  });
});

describe('packedInsertStatement', () => {
  it('reads each column from the row by position, cast to its type, and created_at from its own array', () => {
    const table: LogTable<unknown> = {
      name: 't',
      entryClass: class {},
      columns: [
        ['id', 'uuid'],
        ['metadata', 'jsonb'],
        ['created_at', 'timestamptz'],
      ],
      values: () => [],
    };
    expect(packedInsertStatement(table)).toBe(
      'INSERT INTO "t" ("id", "metadata", "created_at") SELECT (x.v->>0)::uuid, (x.v->>1)::jsonb, x.at' +
        ' FROM ROWS FROM (jsonb_array_elements($1::jsonb), unnest($2::timestamptz[])) AS x(v, at)' +
        ' ON CONFLICT ("id") DO NOTHING',
    );
  });
});
