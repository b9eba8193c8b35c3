import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { CmaProject, Firm, User } from '../src/demo/entities/index.js';
import {
  AuditSealService,
  LogRetentionService,
  LogRetentionError,
} from '../src/logging/index.js';
import { type LogTableName } from '../src/logging/retention/log-retention.service.js';
import { openTestDataSource, type TestDatabase } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { captureLogs } from './support/logs.js';
import { seedFirm } from './support/seed.js';
import { refusal } from './support/sql.js';

/**
 * The logs are append-only in the database: application statements cannot change or remove a row;
 * the spec's foreign-key actions and the retention path still work.
 */

describe('append-only logs', () => {
  let dataSource: DataSource;
  let database: TestDatabase;
  let close: () => Promise<void>;
  let client: Client;

  beforeAll(async () => {
    ({ dataSource, database, close } = await openTestDataSource());
    client = new Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await close();
  });

  /** One usage row and one audit row for the firm, created `daysAgo` days ago. */
  async function rows(
    firm: { firmId: string; userId: string; projectId: string },
    daysAgo = 0,
  ): Promise<{ usageId: string; auditId: string }> {
    const createdAt = new Date(Date.now() - daysAgo * 86_400_000);
    const usageId = randomUUID();
    const auditId = randomUUID();
    await client.query(
      `INSERT INTO llm_usage_log (id, firm_id, cma_project_id, model, task_type,
         input_tokens, output_tokens, cost_usd, created_at)
       VALUES ($1, $2, $3, 'gemini-3-flash', 'extraction', 100, 10, 0.000124, $4)`,
      [usageId, firm.firmId, firm.projectId, createdAt],
    );
    await client.query(
      `INSERT INTO audit_log (id, firm_id, user_id, action, entity_type, metadata, created_at)
       VALUES ($1, $2, $3, 'create_project', 'cma_project', '{"pages": 3}', $4)`,
      [auditId, firm.firmId, firm.userId, createdAt],
    );
    return { usageId, auditId };
  }

  const refused = (sql: string, parameters?: unknown[]) =>
    refusal(client, sql, parameters);

  async function count(table: LogTableName, id: string): Promise<number> {
    const { rows: found } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE id = $1`,
      [id],
    );
    return found[0].n;
  }

  it.each([
    ['llm_usage_log', 'cost_usd = 0', 'usageId'],
    ['llm_usage_log', 'success = false', 'usageId'],
    ['llm_usage_log', 'cma_project_id = NULL', 'usageId'],
    ['llm_usage_log', 'created_at = now()', 'usageId'],
    ['audit_log', `metadata = '{}'`, 'auditId'],
    ['audit_log', 'user_id = NULL', 'auditId'],
    ['audit_log', `action = 'download_cma'`, 'auditId'],
    ['audit_log', `ip_address = '10.0.0.1'`, 'auditId'],
  ] as const)(
    'refuses UPDATE %s SET %s, and the row stays as it was',
    async (table, assignment, key) => {
      const firm = await seedFirm(dataSource, `update-${randomUUID()}`);
      const ids = await rows(firm);
      const before = await client.query(
        `SELECT * FROM ${table} WHERE id = $1`,
        [ids[key]],
      );
      const error = await refused(
        `UPDATE ${table} SET ${assignment} WHERE id = $1`,
        [ids[key]],
      );
      expect(error.code).toBe('42501');
      expect(error.message).toBe(`${table} is append-only: UPDATE refused`);
      const after = await client.query(`SELECT * FROM ${table} WHERE id = $1`, [
        ids[key],
      ]);
      expect(after.rows).toEqual(before.rows);
    },
  );

  it.each(['llm_usage_log', 'audit_log'] as const)(
    'refuses DELETE and TRUNCATE of %s, by a row or all at once',
    async (table) => {
      const firm = await seedFirm(dataSource, `delete-${randomUUID()}`);
      const ids = await rows(firm, 800);
      const id = table === 'audit_log' ? ids.auditId : ids.usageId;
      for (const sql of [
        `DELETE FROM ${table} WHERE id = '${id}'`,
        `DELETE FROM ${table}`,
        `TRUNCATE ${table}`,
        'TRUNCATE firms CASCADE',
      ]) {
        const error = await refused(sql);
        expect(error.code).toBe('42501');
        // TRUNCATE firms CASCADE reaches every append-only table (partitions too, on the
        // partitioned layout): the first whose trigger fires names itself
        expect(error.message).toMatch(
          sql.startsWith('TRUNCATE firms')
            ? /^\w+ is append-only: TRUNCATE refused$/
            : /^(llm_usage_log|audit_log) is append-only: (DELETE|TRUNCATE) refused$/,
        );
      }
      expect(await count(table, id)).toBe(1);
    },
  );

  it("still lets the foreign keys null a deleted project or user, and remove a deleted firm's rows", async () => {
    const firm = await seedFirm(dataSource, `fk-${randomUUID()}`);
    const other = await seedFirm(dataSource, `fk-other-${randomUUID()}`);
    const ids = await rows(firm);
    const kept = await rows(other);

    await dataSource.getRepository(CmaProject).delete({ id: firm.projectId });
    await dataSource.getRepository(User).delete({ id: firm.userId });
    const usage = await client.query(
      'SELECT cma_project_id, cost_usd::text AS cost FROM llm_usage_log WHERE id = $1',
      [ids.usageId],
    );
    expect(usage.rows).toEqual([{ cma_project_id: null, cost: '0.000124' }]);
    const audit = await client.query(
      'SELECT user_id, metadata FROM audit_log WHERE id = $1',
      [ids.auditId],
    );
    expect(audit.rows).toEqual([{ user_id: null, metadata: { pages: 3 } }]);

    await dataSource.getRepository(Firm).delete({ id: firm.firmId });
    expect(await count('llm_usage_log', ids.usageId)).toBe(0);
    expect(await count('audit_log', ids.auditId)).toBe(0);
    expect(await count('llm_usage_log', kept.usageId)).toBe(1);
    expect(await count('audit_log', kept.auditId)).toBe(1);
  });

  it('purges rows older than the cutoff in batches through LogRetentionService, and nothing newer', async () => {
    const logs = captureLogs();
    const retention = new LogRetentionService(dataSource);
    const firm = await seedFirm(dataSource, `purge-${randomUUID()}`);
    // One statement at a time: a pg Client runs its queries in turn.
    const old: Awaited<ReturnType<typeof rows>>[] = [];
    for (let i = 0; i < 7; i++) old.push(await rows(firm, 400 + i));
    const recent = await rows(firm, 10);
    const cutoff = new Date(Date.now() - 365 * 86_400_000);
    // other tests of this file leave old rows too: all of them go
    const older = async (table: LogTableName) =>
      (
        await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table} WHERE created_at < $1`,
          [cutoff],
        )
      ).rows[0].n;
    const [oldAudit, oldUsage] = [
      await older('audit_log'),
      await older('llm_usage_log'),
    ];
    expect(oldAudit).toBeGreaterThanOrEqual(7);

    expect(await retention.purge('audit_log', cutoff, { batchSize: 3 })).toBe(
      oldAudit,
    );
    expect(await retention.purge('llm_usage_log', cutoff)).toBe(oldUsage);
    expect([await older('audit_log'), await older('llm_usage_log')]).toEqual([
      0, 0,
    ]);
    for (const { usageId, auditId } of old) {
      expect(await count('llm_usage_log', usageId)).toBe(0);
      expect(await count('audit_log', auditId)).toBe(0);
    }
    expect(await count('llm_usage_log', recent.usageId)).toBe(1);
    expect(await count('audit_log', recent.auditId)).toBe(1);
    expect(await retention.purge('audit_log', cutoff)).toBe(0);
    // each purge says what it removed
    expect(logs.log).toEqual([
      expect.stringMatching(`^audit_log: ${oldAudit} rows created before`),
      expect.stringMatching(`^llm_usage_log: ${oldUsage} rows created before`),
      expect.stringMatching('^audit_log: 0 rows created before'),
    ]);
  });

  it('leaves no opening behind a purge: the same transaction still cannot delete', async () => {
    const firm = await seedFirm(dataSource, `after-${randomUUID()}`);
    const ids = await rows(firm, 1);
    await client.query('BEGIN');
    try {
      await client.query(
        `SELECT logging_purge_batch('audit_log', now() - interval '400 days', 10)`,
      );
      const error = await refused('DELETE FROM audit_log WHERE id = $1', [
        ids.auditId,
      ]);
      expect(error.code).toBe('42501');
    } finally {
      await client.query('ROLLBACK');
    }
    expect(await count('audit_log', ids.auditId)).toBe(1);
  });

  it('refuses a purge of another table or with bad arguments, and deletes nothing', async () => {
    const retention = new LogRetentionService(dataSource);
    const firm = await seedFirm(dataSource, `bad-purge-${randomUUID()}`);
    const ids = await rows(firm, 900);
    const cutoff = new Date();
    await expect(
      retention.purge('firms' as LogTableName, cutoff),
    ).rejects.toThrow(
      new LogRetentionError(
        `purge: table must be 'llm_usage_log' or 'audit_log', got "firms"`,
      ),
    );
    await expect(
      retention.purge('audit_log', new Date('not a date')),
    ).rejects.toThrow('purge: olderThan must be a valid Date');
    await expect(
      retention.purge('audit_log', cutoff, { batchSize: 0 }),
    ).rejects.toThrow(
      'purge: batchSize must be an integer from 1 to 1000000, got 0',
    );
    const error = await refused(
      `SELECT logging_purge_batch('firms', now(), 10)`,
    );
    expect(error.message).toBe('logging_purge_batch: firms is not a log table');
    expect(await count('audit_log', ids.auditId)).toBe(1);
    expect(await count('llm_usage_log', ids.usageId)).toBe(1);
  });

  // Last in the file: it leaves sealed rows, which later plain purges of audit_log would refuse.
  it('refuses to purge sealed rows one by one and deletes nothing; the seals purge them whole', async () => {
    const app = await loggingApp(database.url, { seals: { settleMs: 0 } });
    try {
      const seals = app.moduleRef.get(AuditSealService);
      const retention = app.moduleRef.get(LogRetentionService);
      const firm = await seedFirm(dataSource, `sealed-${randomUUID()}`);
      const old: Awaited<ReturnType<typeof rows>>[] = [];
      for (let i = 0; i < 3; i++) old.push(await rows(firm, 500 + i));
      await seals.seal({ firmId: firm.firmId, log: 'audit_log' });
      const cutoff = new Date(Date.now() - 365 * 86_400_000);

      await expect(retention.purge('audit_log', cutoff)).rejects.toThrow(
        new LogRetentionError(
          `purge: audit_log holds sealed rows created before ${cutoff.toISOString()} (1 firm); ` +
            'purging them row by row would break the seal chains. Use AuditSealService.purge, which ' +
            'deletes whole seals with their rows and keeps a tombstone seal so the chains still verify',
        ),
      );
      for (const { auditId } of old) {
        expect(await count('audit_log', auditId)).toBe(1);
      }
      expect(await seals.verify({ firmId: firm.firmId })).toMatchObject({
        ok: true,
      });

      const purged = await seals.purge('audit_log', cutoff);
      expect(purged.rows).toBeGreaterThanOrEqual(3);
      for (const { auditId } of old) {
        expect(await count('audit_log', auditId)).toBe(0);
      }
      expect(await seals.verify({ firmId: firm.firmId })).toMatchObject({
        ok: true,
      });
    } finally {
      await app.close();
    }
  });
});
