import { jest } from '@jest/globals';
import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  Logger,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import {
  DASHBOARD_DENIED_ACTION,
  DASHBOARD_DESCRIBE_TIMEOUT_MS,
  DASHBOARD_NAME_MAX,
  DashboardConfigurationError,
  type DashboardDescribeIds,
  type DashboardNames,
  type DashboardViewer,
  LoggingDashboardModule,
} from '../src/logging/dashboard/index.js';
import { LoggingModule, type UsageSummaryRow } from '../src/logging/index.js';
import { dashboardApp } from './support/dashboard-app.js';
import { HeaderHost } from './support/dashboard-host.js';
import { PLATFORMS } from './support/http-app.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';

type Firm = Awaited<ReturnType<typeof seedFirm>>;

/** A guard that lets nobody through. */
@Injectable()
class ClosedGuard implements CanActivate {
  canActivate(_context: ExecutionContext): boolean {
    return false;
  }
}

/** A guard that lets everyone through. */
@Injectable()
class OpenGuard implements CanActivate {
  canActivate(_context: ExecutionContext): boolean {
    return true;
  }
}

/** Collects what `Logger.prototype.warn` is given while `work` runs. */
async function warningsOf(work: () => Promise<unknown>): Promise<string[]> {
  const warnings: string[] = [];
  const warn = jest
    .spyOn(Logger.prototype, 'warn')
    .mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
  try {
    await work();
  } finally {
    warn.mockRestore();
  }
  return warnings;
}

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

  it('refuses a guard without authorize at startup: it names no firm, so every request would be refused', async () => {
    expect(() =>
      LoggingDashboardModule.forRoot({ path: 'admin', guard: OpenGuard }),
    ).toThrow(
      /option authorize must be given with guard: a guard names no firm, so every request would be refused.*authorize: 'all-firms'/,
    );
    await expect(async () =>
      Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot(demoDataSourceOptions(db.url)),
          LoggingModule.forRoot({}),
          LoggingDashboardModule.forRoot({ path: 'admin', guard: OpenGuard }),
        ],
      }).compile(),
    ).rejects.toThrow(DashboardConfigurationError);
    // 'all-firms' needs the guard that decides who is let in.
    expect(() =>
      LoggingDashboardModule.forRoot({ path: 'admin', authorize: 'all-firms' }),
    ).toThrow(
      /option authorize must be given as 'all-firms' with a guard only/,
    );
    expect(() =>
      LoggingDashboardModule.forRoot({
        path: 'admin',
        guard: OpenGuard,
        authorize: 'everyone' as 'all-firms',
      }),
    ).toThrow(/option authorize must be a function .* or 'all-firms'/);
  });

  it("lets everyone a guard admits see every firm with authorize: 'all-firms', and no one the guard refuses", async () => {
    const open = db.own(
      await dashboardApp(db.url, {
        path: 'staff',
        guard: OpenGuard,
        authorize: 'all-firms',
      }),
    );
    expect(await (await open.get('/staff/api/viewer')).json()).toMatchObject({
      scope: 'all',
    });
    const closed = db.own(
      await dashboardApp(db.url, {
        path: 'closed',
        guard: ClosedGuard,
        authorize: 'all-firms',
      }),
    );
    for (const path of ['/closed/', '/closed/api/viewer']) {
      expect((await closed.get(path)).status).toBe(403);
    }
  });

  it('refuses a describe that is no function and a clientAuth module off the origin or unsafe in markup', () => {
    const refused = (options: object, rule: RegExp) =>
      expect(() =>
        LoggingDashboardModule.forRoot({
          path: 'admin',
          authorize: () => null,
          ...options,
        }),
      ).toThrow(rule);
    refused({ describe: 'names' }, /option describe must be a function/);
    for (const module of [
      'https://cdn.test/auth.js',
      '//cdn.test/auth.js',
      'auth.js',
      '/a"><script>.js',
      '/a b.js',
    ]) {
      refused(
        { clientAuth: { module } },
        /option clientAuth.module must be a URL path on the dashboard's origin/,
      );
    }
    refused({ clientAuth: {} }, /option clientAuth.module/);
  });

  it('with clientAuth, serves the page and its files without guard or authorize, naming the module; its data still behind both', async () => {
    const calls: string[] = [];
    const app = db.own(
      await dashboardApp(db.url, {
        path: 'spa',
        guard: ClosedGuard,
        authorize: (request) => {
          calls.push((request as { url: string }).url);
          return { scope: 'all' };
        },
        clientAuth: { module: '/static/dashboard-auth.js' },
      }),
    );
    const page = await app.get('/spa/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(
      '<meta name="logging-dashboard-auth" content="/static/dashboard-auth.js" />',
    );
    expect((await app.get('/spa/assets/dashboard.js')).status).toBe(200);
    expect((await app.get('/spa/api/viewer')).status).toBe(403);
    expect((await app.get(`/spa/api/usage?from=${FROM}&to=${TO}`)).status).toBe(
      403,
    );
    expect(calls).toEqual([]);
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

  describe.each(PLATFORMS)('security headers on %s', (platform) => {
    const host = new HeaderHost('secure');
    let app: Awaited<ReturnType<typeof dashboardApp>>;
    let firm: Firm;

    beforeAll(async () => {
      app = await dashboardApp(
        db.url,
        {
          path: host.dashboardPath,
          authorize: host.authorize,
          listFirms: () => Promise.reject(new Error('firms table is gone')),
        },
        platform,
        host.extras(),
      );
      firm = await seedFirm(app.dataSource, `headers-${platform}`);
      host.tokens.set('all', { scope: 'all' });
      host.tokens.set('firm', { scope: 'firm', firmId: firm.firmId });
      host.tokens.set('revoked', null);
    });
    afterAll(() => app.close());

    it('are on every response: 200, 308, 400, 401 (the host guard), 403, 404 and 500 alike', async () => {
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
      const cases: [string, Record<string, string>, number][] = [
        ['/secure/', bearer('all'), 200],
        ['/secure/assets/dashboard.js', bearer('all'), 200],
        ['/secure/api/trail.csv', bearer('firm'), 200],
        ['/secure', bearer('all'), 308],
        ['/secure/api/usage?from=yesterday&to=2026-04-01', bearer('firm'), 400],
        ['/secure/api/usage?from=2026-03-01&to=2026-04-01', {}, 401],
        ['/secure/', {}, 403],
        ['/secure/api/viewer', bearer('revoked'), 403],
        ['/secure/assets/nope.js', bearer('all'), 404],
        ['/secure/api/viewer', bearer('all'), 500],
      ];
      for (const [path, headers, status] of cases) {
        const response = await app.get(path, headers);
        const seen = {
          path,
          status: response.status,
          csp: response.headers.get('content-security-policy'),
          nosniff: response.headers.get('x-content-type-options'),
          referrer: response.headers.get('referrer-policy'),
          frames: response.headers.get('x-frame-options'),
          cache: response.headers.get('cache-control'),
        };
        expect(seen).toEqual({
          path,
          status,
          csp: expect.stringMatching(/^default-src 'none'; script-src 'self';/),
          nosniff: 'nosniff',
          referrer: 'no-referrer',
          frames: 'DENY',
          cache: 'no-store',
        });
        await response.arrayBuffer();
      }
    });
  });

  describe('names through describe()', () => {
    let firm: Firm;
    let other: Firm;
    let extra: string;
    const calls: DashboardDescribeIds[] = [];
    let answer: (ids: DashboardDescribeIds) => unknown = () => ({});
    let app: Awaited<ReturnType<typeof dashboardApp>>;

    beforeAll(async () => {
      app = await dashboardApp(db.url, {
        path: 'named',
        authorize: () => ({
          scope: 'firm',
          firmId: firm.firmId,
          userId: firm.userId,
        }),
        describe: (ids) => {
          calls.push(ids);
          return answer(ids) as DashboardNames;
        },
      });
      firm = await seedFirm(app.dataSource, 'named');
      other = await seedFirm(app.dataSource, 'other');
      [{ id: extra }] = await app.dataSource.query<{ id: string }[]>(
        `INSERT INTO users (firm_id, email) VALUES ($1, 'extra@named.test') RETURNING id::text AS id`,
        [firm.firmId],
      );
      await app.dataSource.query(
        `INSERT INTO audit_log (firm_id, user_id, action, entity_type, created_at)
         VALUES ($1, $2, 'upload_file', 'uploaded_file', '2026-03-02T10:00Z'),
                ($1, $3, 'upload_file', 'uploaded_file', '2026-03-02T11:00Z'),
                ($1, $3, 'upload_file', 'uploaded_file', '2026-03-02T12:00Z'),
                ($1, null, 'upload_file', 'uploaded_file', '2026-03-02T13:00Z'),
                ($4, $5, 'upload_file', 'uploaded_file', '2026-03-02T14:00Z')`,
        [firm.firmId, firm.userId, extra, other.firmId, other.userId],
      );
    });
    afterAll(() => app.close());
    beforeEach(() => {
      calls.length = 0;
    });

    const viewer = async () =>
      (await (await app.get('/named/api/viewer')).json()) as {
        firms: { id: string; name: string | null }[];
      };
    const trail = async () =>
      (await (
        await app.get(`/named/api/trail?from=${FROM}&to=${TO}`)
      ).json()) as {
        items: { userId: string | null }[];
        names: { users: Record<string, string> };
      };

    it("names the viewer's firm and the users of each trail page, asked only for those ids", async () => {
      answer = ({ firmIds, userIds }) => ({
        firms: Object.fromEntries(firmIds.map((id) => [id, 'Named & Co'])),
        users: {
          ...Object.fromEntries(userIds.map((id) => [id, `user ${id}`])),
          [other.userId]: 'not asked for',
        },
      });
      expect((await viewer()).firms).toEqual([
        { id: firm.firmId, name: 'Named & Co' },
      ]);
      const page = await trail();
      expect(page.items).toHaveLength(4);
      expect(page.names.users).toEqual({
        [firm.userId]: `user ${firm.userId}`,
        [extra]: `user ${extra}`,
      });
      expect(calls).toEqual([
        { firmIds: [firm.firmId], userIds: [] },
        { firmIds: [], userIds: [extra, firm.userId] },
      ]);
    });

    it('shows names as one line of text at most DASHBOARD_NAME_MAX characters, matching ids in any case, and drops what is not text', async () => {
      const long = 'x'.repeat(DASHBOARD_NAME_MAX + 20);
      answer = () => ({
        users: {
          [firm.userId.toUpperCase()]:
            '  Dana\n\tWhitfield\u0000 <b>lead</b>  ',
          [extra]: long,
        },
      });
      const warnings = await warningsOf(async () => {
        expect((await trail()).names.users).toEqual({
          [firm.userId]: 'Dana Whitfield <b>lead</b>',
          [extra]: `${'x'.repeat(DASHBOARD_NAME_MAX - 1)}…`,
        });
      });
      expect(warnings).toEqual([]);

      answer = () => ({ users: { [firm.userId]: 42, [extra]: '   ' } });
      const dropped = await warningsOf(async () => {
        expect((await trail()).names.users).toEqual({});
      });
      expect(dropped.join('\n')).toMatch(
        /describe\(\) named 2 id\(s\) with something else than non-blank text/,
      );
    });

    it('shows ids, answering in full, when describe throws, rejects or answers something else, logging each', async () => {
      const answers: [() => unknown, RegExp][] = [
        [
          () => {
            throw new Error('directory down');
          },
          /describe\(\) failed \(directory down\); the page shows ids/,
        ],
        [
          () => Promise.reject(new Error('timeout talking to LDAP')),
          /failed \(timeout talking to LDAP\)/,
        ],
        [() => ['Dana'], /failed \(its answer is not \{ firms\?, users\? \}\)/],
        [
          () => ({ users: ['Dana'] }),
          /failed \(its users is not a record of names by id\)/,
        ],
      ];
      for (const [given, logged] of answers) {
        answer = given;
        const warnings = await warningsOf(async () => {
          const page = await trail();
          expect(page.items).toHaveLength(4);
          expect(page.names.users).toEqual({});
          expect((await viewer()).firms).toEqual([
            { id: firm.firmId, name: null },
          ]);
        });
        expect(warnings).toHaveLength(2);
        expect(warnings[0]).toMatch(logged);
      }
    });

    it(`waits at most DASHBOARD_DESCRIBE_TIMEOUT_MS (${DASHBOARD_DESCRIBE_TIMEOUT_MS} ms) for names`, async () => {
      answer = () => new Promise(() => {});
      const started = Date.now();
      const warnings = await warningsOf(async () => {
        expect((await trail()).names.users).toEqual({});
      });
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(DASHBOARD_DESCRIBE_TIMEOUT_MS - 50);
      expect(took).toBeLessThan(DASHBOARD_DESCRIBE_TIMEOUT_MS + 1500);
      expect(warnings.join('\n')).toMatch(
        new RegExp(
          `failed \\(no answer within ${DASHBOARD_DESCRIBE_TIMEOUT_MS} ms\\)`,
        ),
      );
    });
  });
});
