import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import {
  DASHBOARD_DENIED_ACTION,
  DashboardConfigurationError,
  type DashboardViewer,
  LoggingDashboardModule,
} from '../src/logging/dashboard/index.js';
import { LoggingModule, type UsageSummaryRow } from '../src/logging/index.js';
import { dashboardApp } from './support/dashboard-app.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';

type Firm = Awaited<ReturnType<typeof seedFirm>>;

const FROM = '2026-03-01';
const TO = '2026-04-01';

describe('LoggingDashboardModule: mounting and authorisation', () => {
  const db = databaseSuite();

  it('refuses to start without an authorisation hook, naming the options', async () => {
    expect(() => LoggingDashboardModule.forRoot({ path: 'admin' })).toThrow(
      DashboardConfigurationError,
    );
    expect(() => LoggingDashboardModule.forRoot({ path: 'admin' })).toThrow(
      /needs an authorisation hook: give authorize.*or guard.*allowUnauthenticated: true/,
    );
    // Through a host module too: the host's app never compiles.
    await expect(async () =>
      Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot(demoDataSourceOptions(db.url)),
          LoggingModule.forRoot({}),
          LoggingDashboardModule.forRoot({
            path: 'admin',
            allowUnauthenticated: false,
          }),
        ],
      }).compile(),
    ).rejects.toThrow(DashboardConfigurationError);
    expect(() =>
      LoggingDashboardModule.forRoot({
        path: 'a b',
        allowUnauthenticated: true,
      }),
    ).toThrow(/option path must be URL path segments/);
  });

  it('starts with allowUnauthenticated: true, logging a warning', async () => {
    const warnings: string[] = [];
    const warn = jest
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((message: unknown) => {
        warnings.push(String(message));
      });
    expect(warnings).toEqual([]);
    try {
      const app = db.own(
        await dashboardApp(db.url, {
          path: 'open',
          allowUnauthenticated: true,
        }),
      );
      expect(warnings.join('\n')).toMatch(
        /dashboard at \/open is served to anyone.*allowUnauthenticated: true/,
      );
      const viewer = await (await app.get('/open/api/viewer')).json();
      expect(viewer).toMatchObject({ scope: 'all' });
    } finally {
      warn.mockRestore();
    }
  });

  describe('behind authorize', () => {
    let acme: Firm;
    let birch: Firm;
    const calls: { path: string; viewer: string | undefined }[] = [];
    /** The test host's hook: `x-viewer: all` or `x-viewer: firm:<firmId>`; anything else denied. */
    const authorize = (request: unknown): DashboardViewer | null => {
      const { headers, url } = request as {
        headers: Record<string, string | undefined>;
        url: string;
      };
      const viewer = headers['x-viewer'];
      calls.push({ path: url, viewer });
      if (viewer === 'all') return { scope: 'all' };
      const [, firmId] = /^firm:(.+)$/.exec(viewer ?? '') ?? [];
      return firmId ? { scope: 'firm', firmId, userId: acme.userId } : null;
    };
    let app: Awaited<ReturnType<typeof dashboardApp>>;

    beforeAll(async () => {
      app = await dashboardApp(db.url, { path: '/admin/logging/', authorize });
      acme = await seedFirm(app.dataSource, 'acme');
      birch = await seedFirm(app.dataSource, 'birch');
      for (const [firm, cost] of [
        [acme, '0.125000'],
        [birch, '7.000001'],
      ] as const) {
        await app.dataSource.query(
          `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens,
                  cost_usd, success, error_message, created_at)
           VALUES ($1, 'gemini-3-flash', 'extraction', 1000, 100, $2, true, null, '2026-03-02T10:00Z'),
                  ($1, 'gemini-3.1-pro', 'validation', 0, 0, 0, false, 'boom [REDACTED]', '2026-03-03T10:00Z')`,
          [firm.firmId, cost],
        );
      }
    });
    afterAll(() => app.close());

    const as = (viewer: string) => ({ 'x-viewer': viewer });

    it('calls the hook on the page, its files and every endpoint, with the request', async () => {
      calls.length = 0;
      const viewer = as(`firm:${acme.firmId}`);
      for (const path of [
        '/admin/logging/',
        '/admin/logging/assets/dashboard.js',
        '/admin/logging/api/viewer',
        `/admin/logging/api/usage?from=${FROM}&to=${TO}`,
        `/admin/logging/api/trail?from=${FROM}`,
        `/admin/logging/api/trail.csv`,
      ]) {
        expect((await app.get(path, viewer)).status).toBe(200);
      }
      expect(calls.map((c) => c.path)).toEqual([
        '/admin/logging/',
        '/admin/logging/assets/dashboard.js',
        '/admin/logging/api/viewer',
        `/admin/logging/api/usage?from=${FROM}&to=${TO}`,
        `/admin/logging/api/trail?from=${FROM}`,
        `/admin/logging/api/trail.csv`,
      ]);
      expect(new Set(calls.map((c) => c.viewer))).toEqual(
        new Set([`firm:${acme.firmId}`]),
      );
    });

    it('denies with 403 when the hook answers none, serving nothing', async () => {
      for (const path of ['/admin/logging/', '/admin/logging/api/viewer']) {
        const response = await app.get(path, as('nobody'));
        expect(response.status).toBe(403);
        expect(await response.text()).not.toContain('<html');
      }
    });

    it("gives a firm viewer their own firm's totals, exact as the reports give them", async () => {
      const response = await app.get(
        `/admin/logging/api/usage?from=${FROM}&to=${TO}`,
        as(`firm:${acme.firmId}`),
      );
      const body = (await response.json()) as {
        totals: UsageSummaryRow;
        daily: UsageSummaryRow[];
      };
      const [totals] = await app.reports.summary({
        firmId: acme.firmId,
        from: FROM,
        to: TO,
      });
      expect(body.totals).toEqual(totals);
      expect(body.totals).toMatchObject({
        calls: 2,
        failures: 1,
        costUsd: '0.125000',
      });
      expect(body.daily).toEqual(
        await app.reports.summary({
          firmId: acme.firmId,
          from: FROM,
          to: TO,
          groupBy: ['day', 'model'],
        }),
      );
    });

    it('refuses a firm viewer asking for another firm with 403, and audits the attempt', async () => {
      for (const path of [
        `/admin/logging/api/usage?firmId=${birch.firmId}&from=${FROM}&to=${TO}`,
        `/admin/logging/api/trail.csv?firmId=${birch.firmId}`,
        `/admin/logging/api/failures?firmId=${birch.firmId.toUpperCase()}&from=${FROM}&to=${TO}`,
      ]) {
        const response = await app.get(path, as(`firm:${acme.firmId}`));
        expect(response.status).toBe(403);
        expect(await response.text()).not.toContain('7.000001');
      }
      const { rows } = await db.reader.query<{
        firm_id: string;
        user_id: string;
        entity_type: string;
        entity_id: string;
      }>(
        `SELECT firm_id, user_id, entity_type, entity_id FROM audit_log WHERE action = $1`,
        [DASHBOARD_DENIED_ACTION],
      );
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        expect(row).toEqual({
          firm_id: acme.firmId,
          user_id: acme.userId,
          entity_type: 'firm',
          entity_id: birch.firmId,
        });
      }
    });

    it("lets an 'all' viewer pick any firm, and requires the pick", async () => {
      const viewer = (await (
        await app.get('/admin/logging/api/viewer', as('all'))
      ).json()) as { scope: string; firms: { id: string }[] };
      expect(viewer.scope).toBe('all');
      expect(viewer.firms.map((f: { id: string }) => f.id).sort()).toEqual(
        [acme.firmId, birch.firmId].sort(),
      );
      const usage = (await (
        await app.get(
          `/admin/logging/api/usage?firmId=${birch.firmId}&from=${FROM}&to=${TO}`,
          as('all'),
        )
      ).json()) as { totals: UsageSummaryRow };
      expect(usage.totals.costUsd).toBe('7.000001');
      const missing = await app.get(
        `/admin/logging/api/usage?from=${FROM}&to=${TO}`,
        as('all'),
      );
      expect(missing.status).toBe(400);
    });

    it('lists failed calls with their stored messages, and the most expensive calls', async () => {
      const viewer = as(`firm:${acme.firmId}`);
      const failures = await (
        await app.get(
          `/admin/logging/api/failures?from=${FROM}&to=${TO}`,
          viewer,
        )
      ).json();
      expect(failures).toEqual([
        expect.objectContaining({
          model: 'gemini-3.1-pro',
          errorMessage: 'boom [REDACTED]',
        }),
      ]);
      const expensive = (await (
        await app.get(
          `/admin/logging/api/expensive?from=${FROM}&to=${TO}`,
          viewer,
        )
      ).json()) as { costUsd: string }[];
      expect(expensive.map((c: { costUsd: string }) => c.costUsd)).toEqual([
        '0.125000',
        '0.000000',
      ]);
    });

    it('answers a bad query with 400 naming the field, and reads nothing', async () => {
      const response = await app.get(
        `/admin/logging/api/usage?from=yesterday&to=${TO}`,
        as(`firm:${acme.firmId}`),
      );
      expect(response.status).toBe(400);
      expect(JSON.stringify(await response.json())).toMatch(/from/);
      const trail = await app.get(
        '/admin/logging/api/trail?after=not-a-cursor!',
        as(`firm:${acme.firmId}`),
      );
      expect(trail.status).toBe(400);
    });

    it('serves the page under a strict CSP, redirects to the trailing slash, and 404s unknown files', async () => {
      const viewer = as('all');
      const page = await app.get('/admin/logging/', viewer);
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      // No inline script or style: every script has a src, no style element or attribute.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/<style|\sstyle=/);

      const bare = await app.get('/admin/logging?x=1', viewer);
      expect(bare.status).toBe(308);
      expect(bare.headers.get('location')).toBe('/admin/logging/?x=1');

      const chart = await app.get(
        '/admin/logging/assets/uPlot.iife.min.js',
        viewer,
      );
      expect(chart.status).toBe(200);
      expect(chart.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(
        (await app.get('/admin/logging/assets/nope.js', viewer)).status,
      ).toBe(404);
      expect(
        (await app.get('/admin/logging/assets/..%2Fpackage.json', viewer))
          .status,
      ).toBe(404);
    });
  });
});
