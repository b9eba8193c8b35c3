import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import {
  AuditTrailService,
  LoggingModule,
  auditContext,
} from '../src/logging/index.js';
import { LogDigests } from '../src/logging/core/log-digests.js';
import { AuditTrailQueryError } from '../src/logging/audit/audit-trail.service.js';
import { type AuditTrailEntry } from '../src/logging/audit/audit-trail.service.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';
import {
  everyTrailPage,
  UNDATED_AND_DATED_ROWS,
  UNDATED_FIRST,
} from './support/trail.js';

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
    const { items, pages } = await everyTrailPage(trail, {
      firmId: firm.firmId,
      limit: 4,
    });
    expect(pages).toBe(9);
    expect(items.map((item) => item.id)).toEqual(newestFirst());
  });

  it('pages past rows with no date (only the owner writes them): first, by id, then the dated ones', async () => {
    const undated = await seedFirm(app.dataSource, 'trail-undated');
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(UNDATED_AND_DATED_ROWS, [
        undated.firmId,
        new Date(Date.UTC(2026, 2, 1)),
      ]);
      const sorted = (
        await client.query<{ id: string }>(
          `SELECT id FROM audit_log WHERE firm_id = $1 ORDER BY created_at DESC, id DESC`,
          [undated.firmId],
        )
      ).rows.map((row) => row.id);
      for (const limit of [1, 2, 4]) {
        const { items } = await everyTrailPage(trail, {
          firmId: undated.firmId,
          limit,
        });
        expect(items.map((item) => item.id)).toEqual(sorted);
        expect(items.map((item) => item.createdAt === null)).toEqual(
          UNDATED_FIRST,
        );
      }
    } finally {
      await client.end();
    }
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

  describe('request ids, stored as keyed digests', () => {
    it("trail({ requestId }) finds a request's rows by the id as sent; the rows hold its digest", async () => {
      const requestId = `job-${randomUUID()}`;
      const ids: string[] = [];
      await auditContext.run(
        { firmId: firm.firmId, userId: null, ipAddress: null, requestId },
        async () => {
          for (const action of ['upload_file', 'run_extraction']) {
            ids.push(
              await app.audit.record({
                action,
                entityType: 'cma_project',
                entityId: firm.projectId,
              }),
            );
          }
        },
      );
      await app.audit.record({
        firmId: firm.firmId,
        action: 'upload_file',
        entityType: 'cma_project',
      });
      const { items } = await trail.trail({ firmId: firm.firmId, requestId });
      expect(items.map((item) => item.id).sort()).toEqual([...ids].sort());
      const { rows } = await app.dataSource
        .query<{ text: string }[]>(
          'SELECT metadata::text AS text FROM audit_log WHERE id = ANY($1::uuid[])',
          [ids],
        )
        .then((found) => ({ rows: found }));
      for (const row of rows) {
        expect(row.text).not.toContain(requestId);
        expect(JSON.parse(row.text)).toEqual({
          requestId: trail.requestIdDigest(requestId),
        });
      }
      // another firm's trail never shows them
      expect(
        (await trail.trail({ firmId: other.firmId, requestId })).items,
      ).toEqual([]);
      await expect(
        trail.trail({ firmId: firm.firmId, requestId: 'two words' }),
      ).rejects.toThrow('requestId must be 1 to 200 visible ASCII characters');
    });

    it('without the key, trying 1,000,000 candidate ids finds nothing; with it, the same search finds the id', async () => {
      const key = randomBytes(32);
      const keyed = await loggingApp(database.url, { digestKey: key });
      try {
        const requestId = 'req-0150000';
        const id = await auditContext.run(
          { firmId: firm.firmId, userId: null, ipAddress: null, requestId },
          () =>
            keyed.audit.record({
              action: 'upload_file',
              entityType: 'cma_project',
            }),
        );
        const [{ metadata }] = await keyed.dataSource.query<
          { metadata: { requestId: string } }[]
        >('SELECT metadata FROM audit_log WHERE id = $1', [id]);
        const candidate = (n: number) => `req-${String(n).padStart(7, '0')}`;
        const search = (digest: (value: string) => string) => {
          for (let n = 0; n < 1_000_000; n++) {
            if (digest(candidate(n)) === metadata.requestId) return n;
          }
          return null;
        };
        const letters = (bytes: Buffer) =>
          [...bytes]
            .map((b) => String.fromCharCode(97 + (b >> 4), 97 + (b & 15)))
            .join('');
        // a plain hash, and HMAC under another key (this process's own, or a random one)
        expect(
          search((v) =>
            letters(createHash('sha256').update(v).digest().subarray(0, 16)),
          ),
        ).toBe(null);
        expect(search((v) => trail.requestIdDigest(v))).toBe(null);
        const wrong = new LogDigests(randomBytes(32));
        expect(search((v) => wrong.requestId(v))).toBe(null);
        const right = keyed.moduleRef.get(AuditTrailService);
        expect(search((v) => right.requestIdDigest(v))).toBe(150000);
        // a configured key is the same in every process: a second app finds the rows
        const again = await loggingApp(database.url, { digestKey: key });
        try {
          const { items } = await again.moduleRef
            .get(AuditTrailService)
            .trail({ firmId: firm.firmId, requestId });
          expect(items.map((item) => item.id)).toEqual([id]);
        } finally {
          await again.close();
        }
      } finally {
        await keyed.close();
      }
      // four million HMACs: seconds alone, a minute or more on two cores shared with other runs
    }, 180_000);

    it('refuses a digestKey shorter than 32 bytes at forRoot, naming the option', () => {
      for (const digestKey of ['short', Buffer.alloc(31), 42]) {
        expect(() =>
          LoggingModule.forRoot({ digestKey: digestKey as never }),
        ).toThrow(
          'LoggingModule option digestKey must be a string or Buffer of at least 32 bytes',
        );
      }
      expect(() =>
        LoggingModule.forRoot({ digestKey: Buffer.alloc(32) }),
      ).not.toThrow();
    });
  });
});
