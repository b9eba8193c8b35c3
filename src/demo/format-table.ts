export type Row = Record<string, string | number | boolean | null>;

/** Formats rows as an aligned table under a title; numbers and amounts align right. */
export function formatTable(title: string, rows: Row[]): string {
  if (rows.length === 0) return `${title}\n  (none)\n`;
  const columns = Object.keys(rows[0]);
  const cells = rows.map((row) =>
    columns.map((column) => (row[column] === null ? '' : String(row[column]))),
  );
  const right = columns.map((column) =>
    rows.every(
      (row) =>
        row[column] === null ||
        typeof row[column] === 'number' ||
        /^-?\d+(\.\d+)?$/.test(String(row[column])),
    ),
  );
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...cells.map((line) => line[i].length)),
  );
  const line = (values: string[]) =>
    '  ' +
    values
      .map((value, i) =>
        right[i] ? value.padStart(widths[i]) : value.padEnd(widths[i]),
      )
      .join('  ')
      .trimEnd();
  return [
    title,
    line(columns),
    line(widths.map((width) => '-'.repeat(width))),
    ...cells.map(line),
    '',
  ].join('\n');
}
