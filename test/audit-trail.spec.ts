import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { AuditTrailService } from '../src/logging/index.js';
import { AuditTrailQueryError } from '../src/logging/audit/audit-trail.service.js';
import { type AuditTrailEntry } from '../src/logging/audit/audit-trail.service.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';

/** AuditTrailService.trail: one firm's trail, newest first, filtered, paged, validated. */

describe('AuditTrailService', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof loggingApp>>;
  let trail: AuditTrailService;
  let firm: { firmId: string; userId: string; projectId: string };
  let other: { firmId: string; userId: string; projectId: string };
  /** The rows of `firm`, oldest first. */
  const written: { id: string; action: string; at: Date }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await loggingApp(database.url);
    trail = app.moduleRef.get(AuditTrailService);
    firm = await seedFirm(app.dataSource, 'trail');
    other = await seedFirm(app.dataSource, 'trail-other');
    const client = new Client({ connectionString: database.url });
    await client.connect();
    // 30 rows an hour apart from 2026-03-01T00:00Z, and 5 sharing one instant (ties)
    const start = Date.UTC(2026, 2, 1);
    for (let i = 0; i < 35; i++) {
      const id = randomUUID();
      const at = new Date(start + Math.min(i, 30) * 3_600_000);
      const action = i % 3 === 0 ? 'download_cma' : 'upload_file';
      await client.query(
        `INSERT INTO audit_log (id, firm_id, user_id, action, entity_type, entity_id, metadata, created_at)
         VALUES ($1, $2, $3, $4, 'cma_project', $5, '{"n": 1}', $6)`,
        [id, firm.firmId, firm.userId, action, firm.projectId, at],
      );
      written.push({ id, action, at });
      await client.query(
        `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
         VALUES ($1, $2, 'cma_project', $3)`,
        [other.firmId, action, at],
      );
    }
    await client.end();
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  const newestFirst = () =>
    [...written]
      .sort((a, b) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : -1))
      .map((row) => row.id);

  it("returns one firm's rows, newest first, whole", async () => {
    const { items, next } = await trail.trail({ firmId: firm.firmId });
    expect(next).toBeNull();
    expect(items.map((item) => item.id)).toEqual(newestFirst());
    expect(items[items.length - 1]).toEqual<AuditTrailEntry>({
      id: written[0].id,
      firmId: firm.firmId,
      userId: firm.userId,
      action: 'download_cma',
      entityType: 'cma_project',
      entityId: firm.projectId,
      metadata: { n: 1 },
      ipAddress: null,
      createdAt: written[0].at,
    });
  });

  it('pages with the next cursor across ties, every row once', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await trail.trail({ firmId: firm.firmId, limit: 4, after });
      seen.push(...page.items.map((item) => item.id));
      after = page.next ?? undefined;
      pages++;
    } while (after);
    expect(pages).toBe(9);
    expect(seen).toEqual(newestFirst());
  });

  it('filters by action, user, entity and a half-open range', async () => {
    const downloads = await trail.trail({
      firmId: firm.firmId,
      action: 'download_cma',
      userId: firm.userId,
      entityType: 'cma_project',
      entityId: firm.projectId,
    });
    expect(downloads.items.map((item) => item.id).sort()).toEqual(
      written
        .filter((row) => row.action === 'download_cma')
        .map((row) => row.id)
        .sort(),
    );
    const hours = await trail.trail({
      firmId: firm.firmId,
      from: '2026-03-01T01:00:00Z',
      to: new Date(Date.UTC(2026, 2, 1, 3)),
    });
    expect(hours.items.map((item) => item.id)).toEqual([
      written[2].id,
      written[1].id,
    ]);
  });

  it('refuses bad queries naming every bad field, and queries nothing', async () => {
    const error: unknown = await trail
      .trail({
        firmId: 'acme',
        from: '2026-02-30',
        action: 'Download CMA',
        entityId: "' OR 1=1",
        limit: 0,
        after: 'not-a-cursor',
        amount: 1,
      } as never)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(AuditTrailQueryError);
    expect(
      [
        ...new Set(
          (error as AuditTrailQueryError).violations.map((v) => v.field),
        ),
      ].sort(),
    ).toEqual([
      'action',
      'after',
      'amount',
      'entityId',
      'firmId',
      'from',
      'limit',
    ]);
    await expect(trail.trail(null as never)).rejects.toThrow(
      'query must be an object',
    );
    await expect(
      trail.trail({
        firmId: firm.firmId,
        from: '2026-03-02',
        to: '2026-03-01',
      }),
    ).rejects.toThrow(AuditTrailQueryError);
  });
});
