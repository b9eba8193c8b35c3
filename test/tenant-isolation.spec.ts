import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  AuditTrailService,
  CreditLedgerService,
  LlmUsageReportService,
  LogWriterService,
} from '../src/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { demoHttpApp } from './support/http-app.js';

/**
 * Two firms use the demo host side by side; every read API is asked for each and answers with
 * that firm's rows only, and no route lets one firm act on the other's project.
 */

interface Tenant {
  firmId: string;
  userId: string;
  projectId: string;
  headers: Record<string, string>;
}

describe('tenant isolation', () => {
  let database: TestDatabase;
  let app: INestApplication;
  let base: string;
  let acme: Tenant;
  let birch: Tenant;
  const started = new Date(Date.now() - 1_000);

  async function send(
    tenant: Tenant,
    method: string,
    path: string,
    body?: unknown,
  ) {
    const response = await fetch(base + path, {
      method,
      headers: {
        ...tenant.headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
    };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    ({ app, base } = await demoHttpApp(database.url));
    const dataSource = app.get(DataSource);
    const tenant = async (name: string): Promise<Tenant> => {
      const [{ id: firmId }] = await dataSource.query<{ id: string }[]>(
        'INSERT INTO firms (name) VALUES ($1) RETURNING id',
        [name],
      );
      const [{ id: userId }] = await dataSource.query<{ id: string }[]>(
        'INSERT INTO users (firm_id, email) VALUES ($1, $2) RETURNING id',
        [firmId, `${name}@tenants.test`],
      );
      const headers = { 'x-firm-id': firmId, 'x-user-id': userId };
      const partial = { firmId, userId, projectId: '', headers };
      const created = await send(partial, 'POST', '/projects', { name });
      return { ...partial, projectId: created.body.id as string };
    };
    acme = await tenant('acme');
    birch = await tenant('birch');
    for (const t of [acme, birch]) {
      await send(t, 'POST', `/projects/${t.projectId}/files`, {
        fileName: 'a.pdf',
        pages: 3,
      });
      await send(t, 'POST', `/projects/${t.projectId}/extractions`);
    }
    const ledger = app.get(CreditLedgerService);
    await ledger.grant({
      userId: acme.userId,
      amount: 50,
      idempotencyKey: 'g',
    });
    await ledger.grant({
      userId: birch.userId,
      amount: 7,
      idempotencyKey: 'g',
    });
    await app.get(LogWriterService).flush();
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  it("AuditTrailService.trail answers with the firm's own rows only", async () => {
    const trail = app.get(AuditTrailService);
    for (const [tenant, stranger] of [
      [acme, birch],
      [birch, acme],
    ]) {
      const { items } = await trail.trail({ firmId: tenant.firmId });
      expect(items.length).toBeGreaterThanOrEqual(3);
      for (const item of items) {
        expect(item.firmId).toBe(tenant.firmId);
        expect(item.userId).not.toBe(stranger.userId);
      }
      // asking for the stranger's project under the tenant's firm finds nothing
      const { items: none } = await trail.trail({
        firmId: tenant.firmId,
        entityId: stranger.projectId,
      });
      expect(none).toEqual([]);
    }
  });

  it("LlmUsageReportService count the firm's own calls only", async () => {
    const reports = app.get(LlmUsageReportService);
    const until = new Date(Date.now() + 60_000);
    for (const tenant of [acme, birch]) {
      const [total] = await reports.summary({
        firmId: tenant.firmId,
        from: started,
        to: until,
      });
      expect(total).toMatchObject({
        calls: 4,
        failures: 1,
        costUsd: '0.367060',
      });
      const byProject = await reports.summary({
        firmId: tenant.firmId,
        from: started,
        to: until,
        groupBy: ['project'],
      });
      expect(byProject.map((row) => row.cmaProjectId)).toEqual([
        tenant.projectId,
      ]);
      const calls = await reports.mostExpensive({
        firmId: tenant.firmId,
        limit: 1000,
      });
      expect(calls).toHaveLength(4);
      expect(new Set(calls.map((call) => call.cmaProjectId))).toEqual(
        new Set([tenant.projectId]),
      );
    }
  });

  it("the credit ledger answers with the user's own balance and history only", async () => {
    const ledger = app.get(CreditLedgerService);
    expect(await ledger.balance(acme.userId)).toBe(50);
    expect(await ledger.balance(birch.userId)).toBe(7);
    const { items } = await ledger.history(birch.userId);
    expect(items.map((item) => [item.userId, item.amount])).toEqual([
      [birch.userId, 7],
    ]);
  });

  it("no route lets one firm read or act on the other's project, and each attempt is on the actor's record", async () => {
    const before = await app
      .get(AuditTrailService)
      .trail({ firmId: acme.firmId, limit: 1000 });
    for (const [method, path, body] of [
      [
        'POST',
        `/projects/${acme.projectId}/files`,
        { fileName: 'x.pdf', pages: 1 },
      ],
      ['POST', `/projects/${acme.projectId}/extractions`, undefined],
      [
        'POST',
        `/projects/${acme.projectId}/reviews/${acme.projectId}/resolve`,
        { decision: 'accept' },
      ],
      ['GET', `/projects/${acme.projectId}/cma`, undefined],
    ] as const) {
      const response = await send(birch, method, path, body);
      expect(response.status).toBe(404);
    }
    // nothing was added to Acme's trail or costs; Birch's trail holds the four refusals
    const after = await app
      .get(AuditTrailService)
      .trail({ firmId: acme.firmId, limit: 1000 });
    expect(after.items.length).toBe(before.items.length);
    const refusals = await app.get(AuditTrailService).trail({
      firmId: birch.firmId,
      userId: birch.userId,
    });
    const failures = refusals.items.filter(
      (item) => item.metadata?.outcome === 'failure',
    );
    expect(failures.map((item) => item.metadata?.status)).toEqual([
      404, 404, 404, 404,
    ]);
  });
});
