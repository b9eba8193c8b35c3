/// <reference lib="dom" />
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { BrowserContext, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module.js';
import { configureDemoApp } from '../src/demo/configure.js';
import { seedUsageHistory } from '../src/demo/usage-history.js';
import { LlmUsageReportService } from '../src/logging/index.js';
import { launchChromium, SCREENSHOTS } from './support/browser.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { seedFirm } from './support/seed.js';

/**
 * The dashboard in headless Chromium, served by the demo host with a month of seeded history for
 * two firms and stored markup in the first firm's trail and failed calls.
 */

const FROM = '2026-03-01';
const TO = '2026-03-30';
const XSS = {
  action: '<script>window.__xss = 1</script>',
  entityType: '"><img src=x onerror="window.__xss = 2">',
  key: '<img src=x onerror=window.__xss=3>',
  value: '"><script>window.__xss = 4</script>',
  error: '"><img src=x onerror="window.__xss = 5">',
};

describe('dashboard in a browser', () => {
  let database: TestDatabase;
  let app: INestApplication;
  let dataSource: DataSource;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;
  let base: string;
  let acme: Awaited<ReturnType<typeof seedFirm>>;
  let birch: Awaited<ReturnType<typeof seedFirm>>;
  let page: Page;
  const consoleErrors: string[] = [];

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
    acme = await seedFirm(dataSource, 'Acme Advisors');
    birch = await seedFirm(dataSource, 'Birch & Co');
    await seedUsageHistory(dataSource, [acme, birch], new Date('2026-03-31'));
    await dataSource.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, metadata, created_at)
       VALUES ($1, $2, $3, $4, jsonb_build_object($5::text, $6::text), '2026-03-29T23:00Z')`,
      [
        acme.firmId,
        acme.userId,
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
      [acme.firmId, XSS.error],
    );
    browser = await launchChromium();
    context = browser.context;
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await database?.drop();
  });

  beforeEach(async () => {
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
  });
  afterEach(async () => {
    const name = expect.getState().currentTestName ?? 'test';
    await page.screenshot({
      path: join(SCREENSHOTS, `${name.replace(/\W+/g, '-').slice(0, 90)}.png`),
    });
    await page.close();
  });

  const open = async (query: Record<string, string> = {}) => {
    const params = new URLSearchParams({
      firmId: acme.firmId,
      from: FROM,
      to: TO,
      ...query,
    });
    await page.goto(`${base}?${params.toString()}`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[aria-busy]')].every(
        (node) => node.getAttribute('aria-busy') === 'false',
      ),
    );
  };
  const trailIds = () =>
    page.$$eval('#trail tbody tr', (rows) =>
      rows.map((row) => (row as HTMLElement).dataset.id),
    );

  it('draws one stacked series per model with a bar slot for every day of the range', async () => {
    await open();
    const { rows } = await dataSource
      .query<{ model: string }[]>(
        `SELECT DISTINCT model FROM llm_usage_log WHERE firm_id = $1 AND created_at >= $2 AND created_at < '2026-03-31'`,
        [acme.firmId, FROM],
      )
      .then((r) => ({ rows: r }));
    const chart = await page.$eval('#chart', (node) => ({
      series: (node as HTMLElement).dataset.series,
      days: (node as HTMLElement).dataset.days,
      canvas: node.querySelectorAll('canvas').length,
      legend: [...node.querySelectorAll('.u-legend .u-series .u-label')].map(
        (l) => l.textContent,
      ),
    }));
    expect(rows).toHaveLength(3);
    expect(chart.series).toBe('3');
    expect(chart.days).toBe('30');
    expect(chart.canvas).toBe(1);
    expect(chart.legend.slice(1).sort()).toEqual(
      rows.map((r) => r.model).sort(),
    );
  });

  it('shows totals equal to the reports API, the exact cost on hover', async () => {
    await open();
    const [totals] = await app.get(LlmUsageReportService).summary({
      firmId: acme.firmId,
      from: FROM,
      to: '2026-03-31',
    });
    const card = (name: string) =>
      page.$eval(`[data-total="${name}"] > span`, (node) => ({
        text: node.textContent,
        title: (node as HTMLElement).title,
      }));
    const cost = await card('costUsd');
    expect(cost.title.replace(/[$,]/g, '')).toBe(`${totals.costUsd} (exact)`);
    expect(cost.text).toBe(
      `$${Number(totals.costUsd).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`,
    );

    const top = await app.get(LlmUsageReportService).mostExpensive({
      firmId: acme.firmId,
      from: FROM,
      to: '2026-03-31',
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
      top.map((call) => ({
        model: call.model,
        cost: `$${call.costUsd.split('.')[0]}.${(call.costUsd.split('.')[1] ?? '').padEnd(6, '0')}`,
      })),
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
      `SELECT id FROM audit_log WHERE firm_id = $1 AND created_at >= $2 AND created_at < '2026-03-31'
        ORDER BY created_at DESC, id DESC`,
      [acme.firmId, FROM],
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
          AND created_at >= $2 AND created_at < '2026-03-31' ORDER BY created_at DESC, id DESC LIMIT 50`,
      [acme.firmId, FROM],
    );
    expect(downloads.length).toBeGreaterThan(0);
    expect(await trailIds()).toEqual(downloads.map((r) => r.id));

    await page.fill('#f-action', '');
    await page.fill('#f-user', birch.userId);
    await page.click('#trail-filters button[type="submit"]');
    await page.waitForSelector('#trail-state:text("No audit entries match.")');
    expect(await trailIds()).toEqual([]);
    expect(await page.getAttribute('#trail-csv', 'href')).toContain(
      `userId=${birch.userId}`,
    );
  });

  it('renders markup stored in an action, entity type, metadata and error message as inert text', async () => {
    await open();
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
    expect(options).toEqual(['Acme Advisors', 'Birch & Co']);
    await page.selectOption('#firm', birch.firmId);
    await page.waitForURL(
      (url) => url.searchParams.get('firmId') === birch.firmId,
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[aria-busy]')].every(
        (n) => n.getAttribute('aria-busy') === 'false',
      ),
    );
    const [totals] = await app.get(LlmUsageReportService).summary({
      firmId: birch.firmId,
      from: FROM,
      to: '2026-03-31',
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
    expect(
      await page.$eval('#chart', (n) => (n as HTMLElement).dataset.series),
    ).toBe('0');
  });

  it('is readable on a phone: nothing wider than the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await open();
    const width = await page.evaluate(
      () => document.documentElement.scrollWidth,
    );
    expect(width).toBeLessThanOrEqual(390);
    expect(
      await page.$eval('#chart', (n) => (n as HTMLElement).dataset.series),
    ).toBe('3');
    expect(consoleErrors).toEqual([]);
  });
});
