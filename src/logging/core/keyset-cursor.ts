/**
 * Opaque cursors for keyset pagination on `(created_at, id)`, newest first: the position of the
 * last row of a page, `created_at` to the microsecond as PostgreSQL keeps it (a JavaScript Date
 * would cut it to the millisecond and skip or repeat rows). A log row may have no `created_at`
 * (only the table's owner can write one): `ORDER BY created_at DESC` puts those rows first, and a
 * page that ends on one has a cursor with no time.
 */

/** The SQL expression of a row's cursor time; select it beside the row. */
export const CURSOR_TIME_SQL = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor after the row of `time` (from {@link CURSOR_TIME_SQL}; null: no date) and `id`. */
export function encodeCursor(time: string | null, id: string): string {
  return Buffer.from(JSON.stringify([time, id]), 'utf8').toString('base64url');
}

/** A page's position: the last row's cursor time (null: the row has no date) and id. */
export interface CursorPosition {
  t: string | null;
  id: string;
}

/** The position a cursor of {@link encodeCursor} holds, or undefined for anything else. */
export function decodeCursor(cursor: string): CursorPosition | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) &&
    parsed.length === 2 &&
    (parsed[0] === null ||
      (typeof parsed[0] === 'string' && CURSOR_TIME.test(parsed[0]))) &&
    typeof parsed[1] === 'string' &&
    UUID.test(parsed[1])
    ? { t: parsed[0] as string | null, id: parsed[1] }
    : undefined;
}

/**
 * A page of `limit` rows out of the `limit + 1` fetched newest first, each row with its
 * `cursor_at` ({@link CURSOR_TIME_SQL}) and `id`, and the cursor of the next page if there is one.
 */
export function keysetPage<
  Row extends { id: string; cursor_at: string | null },
  Item,
>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
): { items: Item[]; next: string | null } {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    items: page.map(toItem),
    next: more ? encodeCursor(last.cursor_at, last.id) : null,
  };
}

/** What a row's place in the keyset order is read from: its cursor time and its id. */
interface Keyed {
  cursor_at: string | null;
  id: string;
}

/**
 * `ORDER BY created_at DESC, id DESC` (rows with no date first), on the rows' cursor times
 * ({@link CURSOR_TIME_SQL}) and ids: both compare as text in the order PostgreSQL compares the
 * values (times of one width to the microsecond, UUIDs in lowercase hex).
 */
export function keysetOrder(a: Keyed, b: Keyed): number {
  if (a.cursor_at !== b.cursor_at) {
    if (a.cursor_at === null) return -1;
    if (b.cursor_at === null) return 1;
    return a.cursor_at > b.cursor_at ? -1 : 1;
  }
  return a.id === b.id ? 0 : a.id > b.id ? -1 : 1;
}

/** Whether `rows` are in {@link keysetOrder}. */
export function inKeysetOrder(rows: readonly Keyed[]): boolean {
  for (let i = 1; i < rows.length; i++) {
    if (keysetOrder(rows[i - 1], rows[i]) > 0) return false;
  }
  return true;
}
