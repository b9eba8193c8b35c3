/**
 * The column arrays of a batch statement the writer sent, whichever form it took: column arrays
 * (`INSERT ... SELECT * FROM unnest(...)`), or the rows packed as one JSON parameter and their
 * created_at beside it (`packedInsertStatement`), read back into columns with created_at at
 * `createdAtColumn`. For unit specs whose executors look at what was sent.
 */
export function sentColumns(
  sql: string,
  parameters: unknown[],
  createdAtColumn: number,
): unknown[][] {
  if (!sql.includes('jsonb_array_elements')) return parameters as unknown[][];
  const rows = JSON.parse(parameters[0] as string) as unknown[][];
  const stamps = parameters[1] as string[];
  const width = rows[0]?.length ?? createdAtColumn + 1;
  return Array.from({ length: width }, (_, c) =>
    rows.map((row, r) => (c === createdAtColumn ? stamps[r] : row[c])),
  );
}
