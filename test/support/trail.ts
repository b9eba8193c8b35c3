import type {
  AuditTrailEntry,
  AuditTrailQuery,
  AuditTrailService,
} from '../../src/logging/index.js';

/**
 * Every entry of `query`'s trail, read page by page from the first, each page's `next` passed as
 * `after` to the following call, and how many pages that took.
 */
export async function everyTrailPage(
  trail: AuditTrailService,
  query: Omit<AuditTrailQuery, 'after'>,
): Promise<{ items: AuditTrailEntry[]; pages: number }> {
  const items: AuditTrailEntry[] = [];
  let pages = 0;
  for (let after: string | undefined; ;) {
    const page = await trail.trail({ ...query, after });
    pages++;
    items.push(...page.items);
    if (!page.next) return { items, pages };
    after = page.next;
  }
}

/**
 * Writes six audit rows of firm `$1`: three with no `created_at` (the table's owner alone may) and
 * three dated an hour apart after `$2`.
 */
export const UNDATED_AND_DATED_ROWS = `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
  SELECT $1, 'upload_file', 'cma_project',
         CASE WHEN i <= 3 THEN NULL ELSE $2::timestamptz + i * interval '1 hour' END
    FROM generate_series(1, 6) i`;

/** Which entries of {@link UNDATED_AND_DATED_ROWS}' firm, in the trail's order, have no date. */
export const UNDATED_FIRST = [true, true, true, false, false, false];
