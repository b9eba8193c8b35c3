import { microsToIso, nextMicros } from './record-clock.js';

/**
 * How rows of one log table are written, described by the feature that owns the table and registered
 * with `LogWriterService.register()`: its columns with the PostgreSQL type of each, and the
 * function that turns a validated entry into the column values. One statement inserts a whole batch:
 * its rows packed as one JSON parameter ({@link packedInsertStatement}), or as one array per column
 * ({@link insertStatement}) when a value cannot go as JSON and for a row written through a caller's
 * transaction. Its text and parameter count do not depend on the batch size. Ids are made by the writer, so a
 * batch retried after a lost commit acknowledgement cannot insert a row twice; they are UUIDv7 from
 * the record clock (record-clock.ts) when the row is recorded, so ids sort in record order.
 * `created_at` is stamped from the same clock when the row's batch is formed, in queue order, and
 * again when a batch is retried more than `RESTAMP_AFTER_MS` later: the database refuses rows dated
 * more than 5 s from its clock (`logging_clock_bound()`), and a row is dated when it reaches it.
 */
export interface LogTable<Entry> {
  /** The table's name, as its migration creates it. */
  readonly name: string;
  /**
   * The class-validator class an entry from outside the module must satisfy before it is queued:
   * `TableWriter.record()` checks it; `TableWriter.write()` takes entries already checked.
   */
  readonly entryClass: new () => Entry;
  readonly columns: readonly (readonly [name: string, type: string])[];
  /**
   * Column values in `columns` order; `id` (a UUIDv7) and `created_at` (an ISO 8601 string to the
   * microsecond) come from the writer's record clock. The batched writer passes an empty
   * `createdAt` and stamps the `created_at` column itself when the batch is formed.
   */
  values(entry: Entry, id: string, createdAt: string): unknown[];
}

/**
 * `INSERT INTO` the table's columns of the rows `select` reads; a row whose id is there already is
 * skipped.
 */
function insertOf(table: LogTable<unknown>, select: string): string {
  const names = table.columns.map(([name]) => `"${name}"`).join(', ');
  return `INSERT INTO "${table.name}" (${names}) ${select} ON CONFLICT ("id") DO NOTHING`;
}

/**
 * The statement that inserts a batch as one array per column:
 *
 *   INSERT INTO t (a, b, ...) SELECT * FROM unnest($1::uuid[], $2::text[], ...)
 *   ON CONFLICT (id) DO NOTHING
 */
export function insertStatement(table: LogTable<unknown>): string {
  const arrays = table.columns
    .map(([, type], i) => `$${i + 1}::${type}[]`)
    .join(', ');
  return insertOf(table, `SELECT * FROM unnest(${arrays})`);
}

/**
 * The statement that inserts a batch of packed rows ({@link packRow}): `$1` a JSON array of the
 * rows, each a JSON array of its column values; `$2` the rows' created_at, stamped when the batch
 * is formed. A queued row is then one string, not an array of values, until its batch leaves.
 *
 *   INSERT INTO t (a, b, ..., created_at) SELECT (x.v->>0)::uuid, (x.v->>1)::text, ..., x.at
 *   FROM ROWS FROM (jsonb_array_elements($1::jsonb), unnest($2::timestamptz[])) AS x(v, at)
 *   ON CONFLICT (id) DO NOTHING
 */
export function packedInsertStatement(table: LogTable<unknown>): string {
  const values = table.columns
    .map(([name, type], i) =>
      name === 'created_at' ? 'x.at' : `(x.v->>${i})::${type}`,
    )
    .join(', ');
  return insertOf(
    table,
    `SELECT ${values} FROM ROWS FROM (jsonb_array_elements($1::jsonb), unnest($2::timestamptz[])) AS x(v, at)`,
  );
}

/**
 * A lone surrogate as `JSON.stringify` escapes it (`\ud800`), which PostgreSQL's JSON refuses; after
 * an even run of backslashes only, so an escaped backslash followed by `ud800` is left as it is.
 */
const LONE_SURROGATE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;

/**
 * `row` as the JSON array {@link packedInsertStatement} reads, or undefined when a value is not a
 * string, a finite number, a boolean or null (such rows go as column arrays). A lone surrogate is
 * written as U+FFFD, as node-postgres writes it in text.
 */
export function packRow(row: readonly unknown[]): string | undefined {
  for (const value of row) {
    if (
      value !== null &&
      typeof value !== 'string' &&
      typeof value !== 'boolean' &&
      !(typeof value === 'number' && Number.isFinite(value))
    ) {
      return undefined;
    }
  }
  const json = JSON.stringify(row);
  return json.includes('\\ud')
    ? json.replace(LONE_SURROGATE, '$1\\ufffd')
    : json;
}

/**
 * Dates `batch`'s rows now, in queue order, from the record clock: batches are formed in queue
 * order, so created_at keeps the order the rows were recorded in, as their ids do.
 */
export function stampCreatedAt(
  batch: readonly { createdAt: string; stamped: number }[],
): void {
  const now = Date.now();
  for (const pending of batch) {
    pending.createdAt = microsToIso(nextMicros());
    pending.stamped = now;
  }
}

/** Column-major parameters for {@link insertStatement}: one array per column. */
export function columnArrays(rows: readonly unknown[][], width: number) {
  const arrays: unknown[][] = Array.from(
    { length: width },
    () => new Array<unknown>(rows.length),
  );
  rows.forEach((row, r) => {
    for (let c = 0; c < width; c++) arrays[c][r] = row[c];
  });
  return arrays;
}

/**
 * The PostgreSQL array literal node-postgres would write for `values` (`{"a",NULL,"b"}`: every
 * value quoted, `\\` and `"` escaped), made in one pass and one `join`, where node-postgres grows a
 * string value by value and escapes each with two expressions; undefined when `values` holds
 * anything but strings, numbers, booleans and nulls, for node-postgres to write.
 */
export function arrayLiteral(values: readonly unknown[]): string | undefined {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) parts[i] = 'NULL';
    else if (typeof value === 'string') parts[i] = quoted(value);
    else if (typeof value === 'number' || typeof value === 'boolean') {
      parts[i] = `"${String(value)}"`;
    } else return undefined;
  }
  return `{${parts.join(',')}}`;
}

const ELEMENT_SPECIALS = /[\\"]/;
const ELEMENT_ESCAPES = /[\\"]/g;

/** A string as an element of an array literal: quoted, its `\` and `"` escaped with `\`. */
function quoted(value: string): string {
  return ELEMENT_SPECIALS.test(value)
    ? `"${value.replace(ELEMENT_ESCAPES, '\\$&')}"`
    : `"${value}"`;
}

/** How the batched writer follows one statement of its own. */
export interface StatementControl {
  /** Aborted at the shutdown deadline: the statement is given up, its connection closed. */
  signal: AbortSignal;
  /** Called once the statement has left for the database: from then on, it may commit. */
  sent(): void;
}

/** Runs one statement; the writer's only contact with the database. */
export type QueryExecutor = (
  sql: string,
  parameters: unknown[],
  control?: StatementControl,
) => Promise<unknown>;

/** Where the writer reports failures; Nest's `Logger` fits. */
export interface WriterLogger {
  warn(message: string): void;
  error(message: string): void;
}

/**
 * The database refuses a row dated more than `logging_clock_bound()` (5 s) from its clock, for any
 * role but the table's owner. A batch whose stamps are older than half that when it is (re)sent is
 * stamped again: a row is dated when it reaches the database, within the bound, whatever it waited.
 */
export const RESTAMP_AFTER_MS = 2500;
