import { randomUUID } from 'node:crypto';
import {
  AuditTrailService,
  CreditLedgerService,
} from '../src/logging/index.js';
import { everyTrailPage } from './support/trail.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';

/**
 * Record order is trail order: rows one caller records one after the other come back from the
 * trail and the ledger history in that order, however many fall in one millisecond.
 */

const UUID_V7 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('record order', () => {
  const suite = databaseSuite();

  /** Every entry of the firm's trail, oldest first, read page by page. */
  async function wholeTrail(trail: AuditTrailService, firmId: string) {
    return (
      await everyTrailPage(trail, { firmId, limit: 1000 })
    ).items.reverse();
  }

  it('reads 1,000 audit rows recorded back to back in record order, 20 times in a row', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const trail = app.moduleRef.get(AuditTrailService);
    for (let round = 1; round <= 20; round++) {
      const { firmId, userId } = await seedFirm(
        app.dataSource,
        `order-${round}`,
      );
      // One caller, as fast as it can: each row queued before the next, none awaited.
      const entities = Array.from({ length: 1000 }, () => randomUUID());
      const written: Promise<string>[] = [];
      for (const entityId of entities) {
        const pending = app.audit.record(
          {
            firmId,
            userId,
            action: 'upload_file',
            entityType: 'cma_file',
            entityId,
          },
          { durability: 'buffered' },
        );
        written.push(pending);
      }
      const ids = await Promise.all(written);
      await app.writer.flush();

      const items = await wholeTrail(trail, firmId);
      expect(items.map((item) => item.entityId)).toEqual(entities);
      expect(items.map((item) => item.id)).toEqual(ids);
      expect(ids.every((id) => UUID_V7.test(id))).toBe(true);
    }
  });

  it('stores created_at to the microsecond, in the order of the ids', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const { firmId, userId } = await seedFirm(app.dataSource, 'micros');
    for (let i = 0; i < 200; i++) {
      await app.audit.record(
        { firmId, userId, action: 'download_cma', entityType: 'cma_project' },
        { durability: 'buffered' },
      );
    }
    await app.writer.flush();
    const { rows } = await suite.reader.query<{
      id: string;
      us: number;
      by_time: number;
    }>(
      `SELECT id::text, extract(microseconds FROM created_at)::int % 1000 AS us,
              row_number() OVER (ORDER BY created_at)::int AS by_time
         FROM audit_log WHERE firm_id = $1 ORDER BY id`,
      [firmId],
    );
    expect(rows).toHaveLength(200);
    // Sorted by id, the rows are sorted by created_at too, with no two sharing an instant.
    expect(rows.map((row) => row.by_time)).toEqual(rows.map((_, i) => i + 1));
    // Sub-millisecond digits are kept, not rounded away.
    expect(rows.filter((row) => row.us !== 0).length).toBeGreaterThan(100);
  });

  it('lists one user ledger rows, written back to back, in write order', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const ledger = app.moduleRef.get(CreditLedgerService);
    const { userId } = await seedFirm(app.dataSource, 'ledger-order');
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const { id } = await ledger.grant({
        userId,
        amount: 1,
        idempotencyKey: `order-${i}`,
      });
      ids.push(id);
    }
    const { items } = await ledger.history(userId, { limit: 1000 });
    expect(items.map((item) => item.id).reverse()).toEqual(ids);
    expect(ids.every((id) => UUID_V7.test(id))).toBe(true);
  });
});
