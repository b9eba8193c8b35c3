import { to as copyTo } from 'pg-copy-streams';
import type { Readable } from 'node:stream';
import type { QueryRunner } from 'typeorm';

/**
 * One row of a binary COPY, as a view into the chunk that holds it: valid only during the call that
 * receives it, and reused for the next row. Field `i` is `lengths[i]` bytes of `buffer` from
 * `starts[i]`; a length of -1 is NULL. Text fields are in the client encoding, UTF-8.
 */
export class CopyRow {
  buffer: Buffer = Buffer.alloc(0);
  readonly starts: Int32Array;
  readonly lengths: Int32Array;

  constructor(readonly fields: number) {
    this.starts = new Int32Array(fields);
    this.lengths = new Int32Array(fields);
  }

  /** Field `i` as text; null for NULL. */
  text(i: number): string | null {
    const length = this.lengths[i];
    if (length < 0) return null;
    return this.buffer.toString(
      'utf8',
      this.starts[i],
      this.starts[i] + length,
    );
  }
}

/** The signature, flags and header extension length that open a binary COPY. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER = SIGNATURE.length + 8;

/**
 * Runs `COPY (<select>) TO STDOUT (FORMAT binary)` on the connection of `runner` and hands each row
 * to `visit`, in the query's order. COPY, unlike a cursor, may run the query with a parallel plan,
 * and the rows arrive as bytes that need no parsing into objects. `select` takes no bind
 * parameters: build it with {@link inlineParameters}. Every row of `select` must have `fields` columns.
 * `between` is awaited about every `every` rows (background sealing gives way there), with the
 * stream paused. When `visit` throws, the rest of the rows are read and dropped, so that the
 * connection is idle again, and the error is thrown.
 */
export async function copyRows(
  runner: QueryRunner,
  select: string,
  fields: number,
  visit: (row: CopyRow) => void,
  between: () => Promise<void> = () => Promise.resolve(),
  every = 10_000,
): Promise<number> {
  const client = (await runner.connect()) as {
    query(query: Readable): Readable;
  };
  const stream = client.query(
    copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`),
  );
  const row = new CopyRow(fields);
  let rest: Buffer | undefined;
  let header = false;
  let rows = 0;
  let due = every;
  let failure: { error: unknown } | undefined;
  for await (const data of stream as AsyncIterable<Buffer>) {
    if (failure) continue;
    try {
      const chunk = rest ? Buffer.concat([rest, data]) : data;
      rest = undefined;
      let at = 0;
      if (!header) {
        if (chunk.length < HEADER) {
          rest = chunk;
          continue;
        }
        if (!chunk.subarray(0, SIGNATURE.length).equals(SIGNATURE)) {
          throw new Error('COPY: not a binary COPY stream');
        }
        at = HEADER + chunk.readUInt32BE(HEADER - 4);
        header = true;
      }
      for (;;) {
        const end = parseRow(chunk, at, row);
        if (end < 0) break;
        at = end;
        visit(row);
        if (++rows === due) {
          due += every;
          await between();
        }
      }
      if (at < chunk.length) rest = chunk.subarray(at);
    } catch (error) {
      failure = { error };
    }
  }
  if (failure) throw failure.error;
  return rows;
}

/**
 * Reads the row that starts at `at` into `row`; returns where the next starts, or -1 when the
 * chunk holds only part of it or the trailer.
 */
function parseRow(chunk: Buffer, at: number, row: CopyRow): number {
  if (at + 2 > chunk.length) return -1;
  const count = chunk.readInt16BE(at);
  if (count === -1) return -1;
  if (count !== row.fields) {
    throw new Error(`COPY: a row of ${count} fields, ${row.fields} expected`);
  }
  let p = at + 2;
  for (let i = 0; i < count; i++) {
    if (p + 4 > chunk.length) return -1;
    const length = chunk.readInt32BE(p);
    p += 4;
    row.starts[i] = p;
    row.lengths[i] = length;
    if (length > 0) p += length;
    if (p > chunk.length) return -1;
  }
  row.buffer = chunk;
  return p;
}

/** A value of a bind parameter that {@link inlineParameters} can write as a literal. */
export type Inlinable =
  string | number | null | undefined | readonly (string | number | null)[];

/**
 * `sql` with its bind parameters `$1`, `$2`, … written in as literals, for statements that take
 * none (COPY). Strings go inside `E'...'` with quotes and backslashes doubled, so that they read
 * the same whatever `standard_conforming_strings` says; arrays as array literals (`'{...}'`), which
 * the placeholder's cast types; numbers in parentheses; null and undefined as NULL. The SQL must hold
 * `$` only in placeholders.
 */
export function inlineParameters(
  sql: string,
  parameters: readonly Inlinable[],
): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index < 0 || index >= parameters.length) {
      throw new Error(`inlineParameters: no value for $${n}`);
    }
    return literal(parameters[index]);
  });
}

function literal(value: Inlinable): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new Error(`inlineParameters: ${value} is not a finite number`);
    return `(${value})`;
  }
  if (typeof value === 'string') return quoted(value);
  const elements = value.map((element) =>
    element === null
      ? 'NULL'
      : `"${String(element).replace(/[\\"]/g, (c) => `\\${c}`)}"`,
  );
  return quoted(`{${elements.join(',')}}`);
}

function quoted(text: string): string {
  if (text.includes('\0'))
    throw new Error('inlineParameters: a NUL character in a value');
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
