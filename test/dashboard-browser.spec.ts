/// <reference lib="dom" />
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { jest } from '@jest/globals';
import {
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  Injectable,
  Logger,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module.js';
import { configureDemoApp } from '../src/demo/configure.js';
import { seedUsageHistory } from '../src/demo/usage-history.js';
import {
  type DashboardDescribe,
  type DashboardDescribeIds,
  LoggingDashboardModule,
} from '../src/logging/dashboard/index.js';
import { LlmUsageReportService } from '../src/logging/index.js';
import { launchChromium, SCREENSHOTS } from './support/browser.js';
import { dashboardApp, parseCsv } from './support/dashboard-app.js';
import { HeaderHost } from './support/dashboard-host.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { seedFirm } from './support/seed.js';

/**
 * The dashboard in headless Chromium (German locale, Indian time zone: nothing on the page may
 * follow either), over a month of seeded history for three firms, served by three hosts:
 *
 * - the demo host: an `'all'` viewer with a firm picker, no `describe` hook;
 * - a host authenticating by header only (a bearer token its app keeps in the browser; a global
 *   guard answering 401 without it), whose `authorize` makes the token a firm viewer, whose
 *   `describe` names firms and users, and whose `clientAuth` module gives the page the token;
 * - a host with a `guard` (a staff cookie) and `authorize: 'all-firms'`, no `describe`.
 *
 * Acme's month holds one outlier day, a second user, a user whose name is markup, and a
 * multi-line error message; Mallory's holds markup in every stored text.
 */

const FROM = '2026-03-01';
const TO = '2026-03-30';
const END = '2026-03-31';
const OUTLIER_DAY = '2026-03-12';
const XSS = {
  action: '<script>window.__xss = 1</script>',
  entityType: '"><img src=x onerror="window.__xss = 2">',
  key: '<img src=x onerror=window.__xss=3>',
  value: '"><script>window.__xss = 4</script>',
  error: '"><img src=x onerror="window.__xss = 5">',
  name: '<img src=x onerror="window.__xss = 6">Eve',
};
const ERROR_LINES = [
  'Error: 503 UNAVAILABLE: gemini-3.1-pro is overloaded',
  '    at callModel (src/llm/gemini.ts:88:11)',
  '    at retry (src/llm/retry.ts:31:7)',
  '    at extract (src/cma/extraction.ts:142:5)',
  'Caused by: <b>upstream</b> deadline exceeded after 30000 ms',
  'request id 7f3c9d2e',
];
const DOCS = resolve(import.meta.dirname, '..', 'docs');

/** `'1234.5'` as the page writes an exact figure: `'$1,234.500000'`. */
const exactUsd = (decimal: string) => {
  const [whole, fraction = ''] = decimal.split('.');
  return `$${BigInt(whole).toLocaleString('en-US')}.${fraction.padEnd(6, '0')}`;
};

/** The test's staff guard: a `staff=yes` cookie admits. */
@Injectable()
class StaffCookieGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{
      headers: Record<string, string | undefined>;
    }>();
    return /(^|;\s*)staff=yes(;|$)/.test(request.headers.cookie ?? '');
  }
}

describe('dashboard in a browser', () => {
  let database: TestDatabase;
  let app: INestApplication;
  let dataSource: DataSource;
  let reports: LlmUsageReportService;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;
  let base: string;
  let acme: Awaited<ReturnType<typeof seedFirm>>;
  let birch: Awaited<ReturnType<typeof seedFirm>>;
  let mallory: Awaited<ReturnType<typeof seedFirm>>;
  let ravi: string;
  let eve: string;
  let page: Page;
  const consoleErrors: string[] = [];

  const host = new HeaderHost('firm-dash');
  let hostApp: Awaited<ReturnType<typeof dashboardApp>>;
  let hostBase: string;
  const described: DashboardDescribeIds[] = [];
  let describeFails = false;
  const describe$: DashboardDescribe = async (
    { firmIds, userIds },
    { dataSource },
  ) => {
    described.push({ firmIds, userIds });
    if (describeFails) throw new Error('directory service unavailable');
    const firms = await dataSource.query<{ id: string; name: string }[]>(
      'SELECT id::text AS id, name FROM firms WHERE id = ANY($1::uuid[])',
      [firmIds],
    );
    const users = await dataSource.query<{ id: string; email: string }[]>(
      'SELECT id::text AS id, email FROM users WHERE id = ANY($1::uuid[])',
      [userIds],
    );
    return {
      firms: Object.fromEntries(firms.map((f) => [f.id, f.name])),
      users: Object.fromEntries(users.map((u) => [u.id, u.email])),
    };
  };

  let staffApp: Awaited<ReturnType<typeof dashboardApp>>;
  let staffBase: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forDatabase(database.url)],
    }).compile();
    app = configureDemoApp(moduleRef.createNestApplication({ logger: false }));
    await app.listen(0, '127.0.0.1');
    const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
    base = `http://127.0.0.1:${port}/dashboard/`;
    dataSource = app.get(DataSource);
    reports = app.get(LlmUsageReportService);
    acme = await seedFirm(dataSource, 'Acme Advisors');
    birch = await seedFirm(dataSource, 'Birch & Co');
    mallory = await seedFirm(dataSource, 'Mallory Ltd');
    await dataSource.query(
      `UPDATE users SET email = 'dana.whitfield@acme-advisors.test' WHERE id = $1`,
      [acme.userId],
    );
    await seedUsageHistory(dataSource, [acme, birch], new Date(END));
    [ravi, eve] = (
      await dataSource.query<{ id: string }[]>(
        `INSERT INTO users (firm_id, email)
         VALUES ($1, 'ravi.menon@acme-advisors.test'), ($1, $2) RETURNING id::text AS id`,
        [acme.firmId, XSS.name],
      )
    ).map((row) => row.id);
    // A second user's work, every other day, and one entry by the user named with markup.
    await dataSource.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, entity_id, metadata,
              ip_address, created_at)
       SELECT $1, $2, 'resolve_review', 'review_item', gen_random_uuid(),
              jsonb_build_object('outcome', 'success'), '10.0.0.7',
              timestamptz '2026-03-01T16:30Z' + (i * 2) * interval '1 day'
         FROM generate_series(0, 14) i`,
      [acme.firmId, ravi],
    );
    await dataSource.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, created_at)
       VALUES ($1, $2, 'upload_file', 'uploaded_file', '2026-03-02T09:00Z')`,
      [acme.firmId, eve],
    );
    // One expensive day, and a failure whose message holds lines and markup.
    await dataSource.query(
      `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens,
              cost_usd, success, error_message, created_at)
       VALUES ($1, 'gemini-3.1-pro', 'extraction', 1900000, 310000, 24.437500, true, null,
               '${OUTLIER_DAY}T11:00Z'),
              ($1, 'gemini-3.1-pro', 'validation', 0, 0, 0, false, $2, '2026-03-30T18:00Z')`,
      [acme.firmId, ERROR_LINES.join('\n')],
    );
    // Mallory's: markup in every stored text.
    await dataSource.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, metadata, created_at)
       VALUES ($1, $2, $3, $4, jsonb_build_object($5::text, $6::text), '2026-03-29T23:00Z')`,
      [
        mallory.firmId,
        mallory.userId,
        XSS.action,
        XSS.entityType,
        XSS.key,
        XSS.value,
      ],
    );
    await dataSource.query(
      `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens,
              cost_usd, success, error_message, created_at)
       VALUES ($1, 'gemini-3-flash', 'fallback', 0, 0, 0, false, $2, '2026-03-29T23:00Z')`,
      [mallory.firmId, XSS.error],
    );

    host.tokens.set('acme-token', {
      scope: 'firm',
      firmId: acme.firmId,
      userId: acme.userId,
    });
    host.tokens.set('revoked-token', null);
    hostApp = await dashboardApp(
      database.url,
      {
        path: host.dashboardPath,
        authorize: host.authorize,
        clientAuth: host.clientAuth,
        describe: describe$,
      },
      'express',
      host.extras(),
    );
    hostBase = hostApp.url(`/${host.dashboardPath}/`);
    staffApp = await dashboardApp(database.url, {
      path: 'staff-dash',
      guard: StaffCookieGuard,
      authorize: 'all-firms',
    });
    staffBase = staffApp.url('/staff-dash/');

    browser = await launchChromium({
      locale: 'de-DE',
      timezoneId: 'Asia/Kolkata',
    });
    context = browser.context;
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await staffApp?.close();
    await hostApp?.close();
    await app?.close();
    await database?.drop();
  });

  beforeEach(async () => {
    consoleErrors.length = 0;
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
  });
  afterEach(async () => {
    await page.screenshot({ path: shot() });
    await page.close();
    await context.clearCookies();
  });

  /** The screenshot path of the current test, `suffix` added. */
  const shot = (suffix = '') => {
    const name = expect.getState().currentTestName ?? 'test';
    return join(
      SCREENSHOTS,
      `${name.replace(/\W+/g, '-').slice(0, 90)}${suffix}.png`,
    );
  };

  const settled = () =>
    page.waitForFunction(() =>
      [...document.querySelectorAll('[aria-busy]')].every(
        (node) => node.getAttribute('aria-busy') === 'false',
      ),
    );

  /** Opens `at` (a dashboard's page) for the range, as the host's app signed in with `token`. */
  const open = async (
    query: Record<string, string> = {},
    at = base,
    token?: string,
  ) => {
    if (token) {
      await page.addInitScript((value) => {
        sessionStorage.setItem('token', value);
      }, token);
    }
    const params = new URLSearchParams({
      ...(at === base ? { firmId: acme.firmId } : {}),
      from: FROM,
      to: TO,
      ...query,
    });
    const response = await page.goto(`${at}?${params.toString()}`);
    await page.waitForSelector('body[data-ready="true"]');
    await settled();
    return response;
  };
  const openAsAcme = (query: Record<string, string> = {}) =>
    open(query, hostBase, 'acme-token');

  const trailIds = () =>
    page.$$eval('#trail tbody tr', (rows) =>
      rows.map((row) => (row as HTMLElement).dataset.id),
    );
  const chartData = () =>
    page.$eval('#chart', (node) => ({ ...(node as HTMLElement).dataset }));
  const headersOf = (response: Response | null) => {
    const headers = response!.headers();
    return {
      csp: headers['content-security-policy'],
      nosniff: headers['x-content-type-options'],
      cache: headers['cache-control'],
    };
  };
  const SECURE = {
    csp: expect.stringContaining("default-src 'none'"),
    nosniff: 'nosniff',
    cache: 'no-store',
  };

  it('draws one stacked series per model with a bar slot for every day of the range', async () => {
    await open();
    const rows = await dataSource.query<{ model: string }[]>(
      `SELECT DISTINCT model FROM llm_usage_log WHERE firm_id = $1 AND created_at >= $2 AND created_at < $3`,
      [acme.firmId, FROM, END],
    );
    const chart = await page.$eval('#chart', (node) => ({
      series: (node as HTMLElement).dataset.series,
      days: (node as HTMLElement).dataset.days,
      canvas: node.querySelectorAll('canvas').length,
    }));
    const legend = await page.$$eval('#legend li[data-model]', (items) =>
      items.map((item) => (item as HTMLElement).dataset.model),
    );
    expect(rows).toHaveLength(3);
    expect(chart.series).toBe('3');
    expect(chart.days).toBe('30');
    expect(chart.canvas).toBe(1);
    expect(legend.sort()).toEqual(rows.map((r) => r.model).sort());
  });

  it('shows totals equal to the reports API, the exact cost on hover', async () => {
    await open();
    const [totals] = await reports.summary({
      firmId: acme.firmId,
      from: FROM,
      to: END,
    });
    const card = (name: string) =>
      page.$eval(`[data-total="${name}"] > span`, (node) => ({
        text: node.textContent,
        title: (node as HTMLElement).title,
      }));
    const cost = await card('costUsd');
    expect(cost.title).toBe(`${exactUsd(totals.costUsd)} (exact)`);
    expect(cost.text).toBe(
      `$${Number(totals.costUsd).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`,
    );

    const top = await reports.mostExpensive({
      firmId: acme.firmId,
      from: FROM,
      to: END,
      limit: 10,
    });
    expect(top).toHaveLength(10);
    const shown = await page.$$eval('#expensive tbody tr', (rows) =>
      (rows as HTMLTableRowElement[]).map((row) => ({
        model: row.cells[1].textContent,
        cost: row.cells[4].textContent,
      })),
    );
    expect(shown).toEqual(
      top.map((call) => ({ model: call.model, cost: exactUsd(call.costUsd) })),
    );
    expect((await card('calls')).title).toBe(String(totals.calls));
    expect((await card('failures')).title).toBe(String(totals.failures));
    expect((await card('inputTokens')).title.replace(/,/g, '')).toBe(
      totals.inputTokens,
    );
    expect((await card('outputTokens')).title.replace(/,/g, '')).toBe(
      totals.outputTokens,
    );
  });

  it('pages the trail newest first, and filters it by action and user', async () => {
    await open();
    const expected = await dataSource.query<{ id: string }[]>(
      `SELECT id FROM audit_log WHERE firm_id = $1 AND created_at >= $2 AND created_at < $3
        ORDER BY created_at DESC, id DESC`,
      [acme.firmId, FROM, END],
    );
    expect(expected.length).toBeGreaterThan(100);
    expect(await trailIds()).toEqual(expected.slice(0, 50).map((r) => r.id));
    await page.click('#trail-more');
    await page.waitForFunction(
      () => document.querySelectorAll('#trail tbody tr').length === 100,
    );
    expect(await trailIds()).toEqual(expected.slice(0, 100).map((r) => r.id));

    await page.fill('#f-action', 'download_cma');
    await page.click('#trail-filters button[type="submit"]');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#trail tbody tr td:nth-child(2)')].every(
        (cell) => cell.textContent === 'download_cma',
      ),
    );
    const downloads = await dataSource.query<{ id: string }[]>(
      `SELECT id FROM audit_log WHERE firm_id = $1 AND action = 'download_cma'
          AND created_at >= $2 AND created_at < $3 ORDER BY created_at DESC, id DESC LIMIT 50`,
      [acme.firmId, FROM, END],
    );
    expect(downloads.length).toBeGreaterThan(0);
    expect(await trailIds()).toEqual(downloads.map((r) => r.id));

    await page.fill('#f-action', '');
    await page.fill('#f-user', birch.userId);
    await page.click('#trail-filters button[type="submit"]');
    await page.waitForSelector('#trail-state:text("No audit entries match.")');
    expect(await trailIds()).toEqual([]);
  });

  it('renders markup stored in an action, entity type, metadata and error message as inert text', async () => {
    await open({ firmId: mallory.firmId });
    expect(
      await page.evaluate(() => (window as { __xss?: number }).__xss),
    ).toBeUndefined();
    const trail = await page.$eval('#trail tbody', (node) => ({
      text: node.textContent,
      injected: node.querySelectorAll('script, img').length,
    }));
    for (const text of [XSS.action, XSS.entityType, XSS.key, XSS.value]) {
      expect(trail.text).toContain(text);
    }
    expect(trail.injected).toBe(0);
    const failures = await page.$eval('#failures tbody', (node) => ({
      text: node.textContent,
      injected: node.querySelectorAll('script, img').length,
    }));
    expect(failures.text).toContain(XSS.error);
    expect(failures.injected).toBe(0);
    expect(
      consoleErrors.filter((e) => /Content Security Policy/i.test(e)),
    ).toEqual([]);
  });

  it("offers every firm to an 'all' viewer and switches to the one picked", async () => {
    await open();
    const options = await page.$$eval('#firm option', (nodes) =>
      nodes.map((node) => node.textContent),
    );
    expect(options).toEqual(['Acme Advisors', 'Birch & Co', 'Mallory Ltd']);
    await page.selectOption('#firm', birch.firmId);
    await page.waitForURL(
      (url) => url.searchParams.get('firmId') === birch.firmId,
    );
    await settled();
    const [totals] = await reports.summary({
      firmId: birch.firmId,
      from: FROM,
      to: END,
    });
    expect(
      await page.getAttribute('[data-total="calls"] > span', 'title'),
    ).toBe(String(totals.calls));
  });

  it('shows empty states for a range without data', async () => {
    await open({ from: '2025-01-01', to: '2025-01-31' });
    expect(await page.textContent('#chart-state')).toBe(
      'No LLM calls in this range.',
    );
    expect(await page.textContent('#trail-state')).toBe(
      'No audit entries match.',
    );
    expect((await chartData()).series).toBe('0');
    expect(await page.$$('#legend li')).toHaveLength(0);
  });

  it('is readable on a phone: nothing wider than the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await open();
    const width = await page.evaluate(
      () => document.documentElement.scrollWidth,
    );
    expect(width).toBeLessThanOrEqual(390);
    expect((await chartData()).series).toBe('3');
    expect(consoleErrors).toEqual([]);
  });

  describe('names', () => {
    it("names the firm and the trail's users through describe(), as text, the full id on hover", async () => {
      described.length = 0;
      await openAsAcme();
      const firm = await page.$eval('#firm-name > span', (node) => ({
        text: node.textContent,
        title: (node as HTMLElement).title,
      }));
      expect(firm).toEqual({ text: 'Acme Advisors', title: acme.firmId });
      expect(await page.isHidden('#firm-field')).toBe(true);

      const users = async () =>
        page.$$eval('#trail tbody td.user > span', (cells) =>
          cells.map(
            (cell) =>
              [cell.textContent ?? '', (cell as HTMLElement).title] as const,
          ),
        );
      const shown = new Map(await users());
      expect(shown.get('dana.whitfield@acme-advisors.test')).toBe(acme.userId);
      expect(shown.get('ravi.menon@acme-advisors.test')).toBe(ravi);

      // The user named with markup: the name shows as its characters, nothing runs.
      await page.fill('#f-user', eve);
      await page.click('#trail-filters button[type="submit"]');
      await page.waitForFunction(
        () => document.querySelectorAll('#trail tbody tr').length === 1,
      );
      expect(await users()).toEqual([[XSS.name, eve]]);
      expect(await page.$$('#trail tbody img')).toHaveLength(0);
      await page.$eval('#trail-panel', (node) => node.scrollIntoView());
      expect(
        await page.evaluate(() => (window as { __xss?: number }).__xss),
      ).toBeUndefined();

      // Asked only for ids the viewer sees: the firm, then the users of each trail page.
      expect(described[0]).toEqual({ firmIds: [acme.firmId], userIds: [] });
      const asked = new Set(described.flatMap((d) => d.userIds));
      expect([...asked].sort()).toEqual([acme.userId, ravi, eve].sort());
    });

    it('shows short ids with the full id on hover without describe(), and when it fails', async () => {
      // The demo host has no describe(): its trail shows each user's first 8 characters.
      await open();
      const demoUsers = await page.$$eval('#trail tbody td.user > span', (c) =>
        c.map((cell) => [cell.textContent, (cell as HTMLElement).title]),
      );
      expect(demoUsers.length).toBeGreaterThan(0);
      for (const [text, title] of demoUsers) {
        expect(title).toMatch(/^[0-9a-f-]{36}$/);
        expect(text).toBe(title.slice(0, 8));
      }

      // The header host's describe() throws: the page renders with ids, the failure is logged.
      const warnings: string[] = [];
      const warn = jest
        .spyOn(Logger.prototype, 'warn')
        .mockImplementation((message: unknown) => {
          warnings.push(String(message));
        });
      describeFails = true;
      try {
        await openAsAcme();
      } finally {
        describeFails = false;
        warn.mockRestore();
      }
      const firm = await page.$eval('#firm-name > span', (node) => ({
        text: node.textContent,
        title: (node as HTMLElement).title,
      }));
      expect(firm).toEqual({
        text: acme.firmId.slice(0, 8),
        title: acme.firmId,
      });
      const users = await page.$$eval('#trail tbody td.user > span', (c) =>
        c.map((cell) => [cell.textContent, (cell as HTMLElement).title]),
      );
      expect(users).toContainEqual([acme.userId.slice(0, 8), acme.userId]);
      expect(await page.isHidden('#error')).toBe(true);
      expect(warnings.join('\n')).toMatch(
        /describe\(\) failed \(directory service unavailable\); the page shows ids/,
      );
    });
  });

  describe('the chart', () => {
    it("shows each model's total for the range in the legend, a hovered day's figures, compact on a phone", async () => {
      await openAsAcme();
      const byModel = await reports.summary({
        firmId: acme.firmId,
        from: FROM,
        to: END,
        groupBy: ['model'],
      });
      const [totals] = await reports.summary({
        firmId: acme.firmId,
        from: FROM,
        to: END,
      });
      const legend = () =>
        page.$$eval('#legend li', (items) =>
          items.map((item) => ({
            model: (item as HTMLElement).dataset.model ?? null,
            name: item.querySelector('.legend-name')!.textContent,
            value: item.querySelector('.legend-value')!.textContent,
            exact: (item.querySelector('.legend-value') as HTMLElement).title,
          })),
        );
      const atRest = await legend();
      expect(atRest[0]).toMatchObject({
        model: null,
        name: 'Range total',
        exact: `${exactUsd(totals.costUsd)} (exact)`,
      });
      // Each model with its exact total, the most expensive first; no dash anywhere.
      expect(
        atRest.slice(1).map(({ model, exact }) => ({ model, exact })),
      ).toEqual(
        [...byModel]
          .sort((a, b) => Number(b.costUsd) - Number(a.costUsd))
          .map((row) => ({
            model: row.model,
            exact: `${exactUsd(row.costUsd)} (exact)`,
          })),
      );
      expect(atRest.every((item) => /^\$[\d,]+\.\d{2}$/.test(item.value))).toBe(
        true,
      );
      expect(await page.textContent('#legend')).not.toContain('—');

      // Hovering a day shows that day's figures, its ISO date; leaving shows the range again.
      const over = (await page.$('#chart .u-over'))!;
      const box = (await over.boundingBox())!;
      const day = 11; // 2026-03-12, the outlier
      await page.mouse.move(
        box.x + ((day + 0.5) * box.width) / 30,
        box.y + box.height - 5,
      );
      await page.waitForFunction(
        (iso) => document.getElementById('legend')!.dataset.day === iso,
        OUTLIER_DAY,
      );
      const [dayTotals] = await reports.summary({
        firmId: acme.firmId,
        from: OUTLIER_DAY,
        to: '2026-03-13',
      });
      const hovered = await legend();
      expect(hovered[0]).toMatchObject({
        name: OUTLIER_DAY,
        exact: `${exactUsd(dayTotals.costUsd)} (exact)`,
      });
      await page.screenshot({ path: shot('-hover') });
      await page.mouse.move(box.x + box.width / 2, box.y - 120);
      await page.waitForFunction(
        () => document.getElementById('legend')!.dataset.day === '',
      );
      expect((await legend())[0].name).toBe('Range total');

      // On a phone: every entry whole, on two lines at most.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForFunction(
        () =>
          document.querySelector('#chart .uplot')!.getBoundingClientRect()
            .width < 390,
      );
      const rows = await page.$$eval('#legend li', (items) =>
        items.map((item) => {
          const box = item.getBoundingClientRect();
          return { top: Math.round(box.top), right: box.right };
        }),
      );
      expect(new Set(rows.map((r) => r.top)).size).toBeLessThanOrEqual(2);
      expect(Math.max(...rows.map((r) => r.right))).toBeLessThanOrEqual(390);
      await page.$eval('#chart-panel', (node) => node.scrollIntoView());
      await page.screenshot({ path: shot('-phone') });
    });

    it('clips an outlier day by default, writing its total above it, and shows the full axis on demand', async () => {
      await openAsAcme();
      const days = await reports.summary({
        firmId: acme.firmId,
        from: FROM,
        to: END,
        groupBy: ['day'],
      });
      const outlier = Number(days.find((d) => d.day === OUTLIER_DAY)!.costUsd);
      const others = Math.max(
        ...days.filter((d) => d.day !== OUTLIER_DAY).map((d) => +d.costUsd),
      );
      expect(outlier).toBeGreaterThan(20 * others);

      const clipped = await chartData();
      expect(clipped.scale).toBe('clip');
      expect(clipped.clipped).toBe(OUTLIER_DAY);
      expect(Number(clipped.yMax)).toBeGreaterThanOrEqual(others);
      expect(Number(clipped.yMax)).toBeLessThan(2 * others);
      expect(
        await page.getAttribute('[data-scale="clip"]', 'aria-pressed'),
      ).toBe('true');
      await page.$eval('#chart-panel', (node) => node.scrollIntoView());
      await page.screenshot({ path: shot('-clipped') });

      await page.click('[data-scale="full"]');
      await page.waitForFunction(
        () => document.getElementById('chart')!.dataset.scale === 'full',
      );
      const full = await chartData();
      expect(full.clipped).toBe('');
      expect(Number(full.yMax)).toBeGreaterThanOrEqual(outlier);
      expect(new URL(page.url()).searchParams.get('scale')).toBe('full');

      // The choice is in the URL: a reload keeps it.
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      await settled();
      expect((await chartData()).scale).toBe('full');
      expect(
        await page.getAttribute('[data-scale="full"]', 'aria-pressed'),
      ).toBe('true');
    });
  });

  it('writes dates as ISO in the pickers, the URL and on the axis, whatever the locale', async () => {
    await openAsAcme();
    expect(await page.evaluate(() => navigator.language)).toBe('de-DE');
    const fields = await page.$$eval('#from, #to', (inputs) =>
      (inputs as HTMLInputElement[]).map((input) => [input.type, input.value]),
    );
    expect(fields).toEqual([
      ['text', FROM],
      ['text', TO],
    ]);
    // The browser's date inputs only open the calendar; they never show.
    expect(
      await page.$$eval('input[type="date"]', (inputs) =>
        inputs.map((input) => getComputedStyle(input).opacity),
      ),
    ).toEqual(['0', '0']);
    const ticks = (await chartData()).xTicks!.split(',');
    expect(ticks.length).toBeGreaterThan(3);
    for (const tick of ticks) expect(tick).toMatch(/^2026-03-\d{2}$/);
    const times = await page.$$eval('#trail tbody td:first-child', (cells) =>
      cells.map((cell) => cell.textContent),
    );
    for (const time of times) {
      expect(time).toMatch(/^2026-03-\d{2} \d{2}:\d{2}:\d{2}$/);
    }

    // A day in the browser's locale is refused, naming the form wanted; the page stays.
    await page.fill('#from', '05.03.2026');
    await page.click('#scope button[type="submit"]');
    expect(
      await page.$eval(
        '#from',
        (input) => (input as HTMLInputElement).validationMessage,
      ),
    ).toMatch(/YYYY-MM-DD/);
    expect(new URL(page.url()).searchParams.get('from')).toBe(FROM);

    // The calendar's answer is written back as ISO.
    await page.$eval('input.picker[data-for="from"]', (input) => {
      (input as HTMLInputElement).value = '2026-03-05';
      input.dispatchEvent(new Event('change'));
    });
    expect(await page.inputValue('#from')).toBe('2026-03-05');
    await page.click('#scope button[type="submit"]');
    await page.waitForURL(
      (url) => url.searchParams.get('from') === '2026-03-05',
    );
    await settled();
    expect((await chartData()).days).toBe('26');
  });

  it('keeps the line breaks of error messages, as text, four lines at first', async () => {
    await openAsAcme();
    const first = '#failures tbody tr:first-child .message';
    const message = await page.$eval(first, (node) => ({
      text: node.textContent,
      whiteSpace: getComputedStyle(node).whiteSpace,
      height: node.getBoundingClientRect().height,
      markup: node.querySelectorAll('b').length,
    }));
    expect(message.text).toBe(ERROR_LINES.join('\n'));
    expect(message.whiteSpace).toBe('pre-wrap');
    expect(message.markup).toBe(0);
    const lineHeight = await page.$eval(first, (node) =>
      parseFloat(getComputedStyle(node).lineHeight),
    );
    expect(message.height).toBeGreaterThanOrEqual(3.9 * lineHeight);
    expect(message.height).toBeLessThanOrEqual(4.1 * lineHeight);

    await page.click('#failures tbody tr:first-child .more-text');
    const open = await page.$eval(first, (node) => ({
      lines: (node as HTMLElement).innerText.split('\n'),
      height: node.getBoundingClientRect().height,
    }));
    expect(open.lines).toEqual(ERROR_LINES);
    expect(open.height).toBeGreaterThanOrEqual(5.9 * lineHeight);
    await page.$eval('#failures-panel', (node) => node.scrollIntoView());
  });

  it('sends the security headers with every response, the 401 and 403 the browser gets included', async () => {
    // The host's own 401 (no token on a data URL), answered before the dashboard's hook.
    const unauthorized = await page.goto(
      `${hostBase}api/usage?from=${FROM}&to=${END}`,
    );
    expect(unauthorized!.status()).toBe(401);
    expect(headersOf(unauthorized)).toEqual(SECURE);

    // A token the host admits but the dashboard's hook denies: the page loads, its data is 403.
    await page.addInitScript(() => {
      sessionStorage.setItem('token', 'revoked-token');
    });
    const viewer = page.waitForResponse((r) => r.url().endsWith('/api/viewer'));
    const shell = await page.goto(hostBase);
    expect(shell!.status()).toBe(200);
    expect(headersOf(shell)).toEqual(SECURE);
    const forbidden = await viewer;
    expect(forbidden.status()).toBe(403);
    expect(headersOf(forbidden)).toEqual(SECURE);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toBe(
      '403: Not allowed to view the dashboard',
    );
    // Only the reason shows: no empty picker, no sections loading for ever.
    expect(await page.isHidden('#scope')).toBe(true);
    expect(await page.isHidden('#chart-panel')).toBe(true);
  });

  it('exports both CSVs for a host that authenticates by header only', async () => {
    await openAsAcme();
    host.seen.length = 0;
    const [trailFile] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#trail-csv'),
    ]);
    expect(trailFile.suggestedFilename()).toBe(`audit-trail_${FROM}_${TO}.csv`);
    const trail = parseCsv(await readFile(await trailFile.path(), 'utf8'));
    const ids = await dataSource.query<{ id: string }[]>(
      `SELECT id FROM audit_log WHERE firm_id = $1 AND created_at >= $2 AND created_at < $3
        ORDER BY created_at DESC, id DESC`,
      [acme.firmId, FROM, END],
    );
    expect(trail[0].slice(0, 2)).toEqual(['created_at', 'id']);
    expect(trail.slice(1).map((record) => record[1])).toEqual(
      ids.map((r) => r.id),
    );

    const [usageFile] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#usage-csv'),
    ]);
    expect(usageFile.suggestedFilename()).toBe(
      `llm-cost-summary_${FROM}_${TO}.csv`,
    );
    const usage = parseCsv(await readFile(await usageFile.path(), 'utf8'));
    const daily = await reports.summary({
      firmId: acme.firmId,
      from: FROM,
      to: END,
      groupBy: ['day', 'model'],
    });
    expect(usage.slice(1, -1).map((r) => [r[0], r[1], r[6]])).toEqual(
      daily.map((row) => [row.day, row.model, row.costUsd]),
    );
    // Both went with the token; without it the same URL is refused.
    expect(
      host.seen
        .filter((s) => s.path.endsWith('.csv'))
        .map((s) => [s.path, s.token]),
    ).toEqual([
      [`/${host.dashboardPath}/api/trail.csv`, 'acme-token'],
      [`/${host.dashboardPath}/api/usage.csv`, 'acme-token'],
    ]);
    const bare = await page.goto(`${hostBase}api/trail.csv`);
    expect(bare!.status()).toBe(401);
  });

  it("refuses a guard without authorize at startup; with authorize: 'all-firms' the guard decides, and every firm shows by its short id", async () => {
    expect(() =>
      LoggingDashboardModule.forRoot({
        path: 'staff-dash',
        guard: StaffCookieGuard,
      }),
    ).toThrow(/option authorize must be given with guard/);

    const refused = await page.goto(staffBase);
    expect(refused!.status()).toBe(403);
    expect(headersOf(refused)).toEqual(SECURE);
    expect(await page.content()).not.toContain('LLM usage');

    await context.addCookies([{ name: 'staff', value: 'yes', url: staffBase }]);
    await open({ firmId: birch.firmId }, staffBase);
    const options = await page.$$eval('#firm option', (nodes) =>
      nodes.map((node) => [
        (node as HTMLOptionElement).value,
        node.textContent,
        (node as HTMLElement).title,
      ]),
    );
    expect(options.map(([id]) => id).sort()).toEqual(
      [acme.firmId, birch.firmId, mallory.firmId].sort(),
    );
    for (const [id, text, title] of options) {
      expect([text, title]).toEqual([id.slice(0, 8), id]);
    }
    expect(await page.inputValue('#firm')).toBe(birch.firmId);
  });

  it('shows a firm viewer their month at a glance, on a desktop and on a phone (the docs screenshots)', async () => {
    await openAsAcme();
    const docs = process.env.UPDATE_DOCS_SCREENSHOTS === '1';
    // Down to the trail's first entries.
    const trailTop = await page.$eval(
      '#trail-panel',
      (node) => node.getBoundingClientRect().top + window.scrollY,
    );
    const desktop = { x: 0, y: 0, width: 1366, height: trailTop + 430 };
    await page.screenshot({
      path: shot('-desktop'),
      fullPage: true,
      clip: desktop,
    });
    if (docs) {
      await page.screenshot({
        path: join(DOCS, 'dashboard.png'),
        fullPage: true,
        clip: desktop,
      });
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(
      () =>
        document.querySelector('#chart .uplot')!.getBoundingClientRect().width <
        390,
    );
    const phone = { x: 0, y: 0, width: 390, height: 1240 };
    await page.screenshot({
      path: shot('-phone'),
      fullPage: true,
      clip: phone,
    });
    if (docs) {
      await page.screenshot({
        path: join(DOCS, 'dashboard-phone.png'),
        fullPage: true,
        clip: phone,
      });
    }
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth),
    ).toBe(390);
    expect(consoleErrors).toEqual([]);
  });
});
