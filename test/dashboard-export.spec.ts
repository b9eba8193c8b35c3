import { AuditLogService } from '../src/logging/index.js';
import { dashboardApp, parseCsv } from './support/dashboard-app.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';

/** Keyset paging of the trail endpoint under writes, and the CSV exports, for a firm viewer. */
describe('dashboard trail paging and CSV exports', () => {
  const db = databaseSuite();
  let app: Awaited<ReturnType<typeof dashboardApp>>;
  let firm: Awaited<ReturnType<typeof seedFirm>>;

  beforeAll(async () => {
    app = await dashboardApp(db.url, {
      path: 'logs',
      authorize: () => ({ scope: 'firm', firmId: firm.firmId }),
    });
    firm = await seedFirm(app.dataSource, 'paging');
  });
  afterAll(() => app.close());

  /** `count` audit rows, one a second from `start`, several sharing each second's microsecond. */
  const backfill = (count: number, start: string, action = 'upload_file') =>
    app.dataSource.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       SELECT $1, $4, 'uploaded_file', $3::timestamptz + (i / 3) * interval '1 second'
         FROM generate_series(1, $2::int) i`,
      [firm.firmId, count, start, action],
    );

  it('pages every row exactly once, newest first, while new rows are written', async () => {
    await backfill(300, '2026-03-01T00:00Z');
    const before = await db.reader.query<{ id: string }>(
      `SELECT id FROM audit_log WHERE firm_id = $1 ORDER BY created_at DESC, id DESC`,
      [firm.firmId],
    );
    const audit = app.app.get(AuditLogService);
    let writing = true;
    const writer = (async () => {
      let written = 0;
      while (writing) {
        await audit.record({
          firmId: firm.firmId,
          action: 'download_cma',
          entityType: 'generated_file',
        });
        written++;
      }
      return written;
    })();
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const query: string = after ? `&after=${after}` : '';
      const response = await app.get(`/logs/api/trail?limit=40${query}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as {
        items: { id: string }[];
        next: string | null;
      };
      seen.push(...page.items.map((item) => item.id));
      after = page.next;
    } while (after);
    writing = false;
    expect(await writer).toBeGreaterThan(0);

    expect(new Set(seen).size).toBe(seen.length);
    // Rows written during the walk are newer than its first page: only some reach it, at the head.
    const old = seen.filter((id) => before.rows.some((row) => row.id === id));
    expect(old).toEqual(before.rows.map((row) => row.id));
    expect(seen.slice(seen.length - old.length)).toEqual(old);
  });

  it('streams the whole trail as well-formed CSV, guarding formulas and quoting', async () => {
    await backfill(2100, '2025-06-01T00:00Z', 'run_extraction');
    await app.dataSource.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, ip_address, metadata, created_at)
       VALUES ($1, '=HYPERLINK("http://evil.test","click")', '+cmd|calc', '-2+3',
               '{"note": "@SUM(A1)", "a,b": "line\\nbreak \\"q\\""}', '2024-01-01T00:00Z')`,
      [firm.firmId],
    );
    const response = await app.get('/logs/api/trail.csv');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toBe(
      'attachment; filename="audit-trail.csv"',
    );
    const records = parseCsv(await response.text());
    const { rows } = await db.reader.query<{ count: string }>(
      'SELECT count(*) FROM audit_log WHERE firm_id = $1',
      [firm.firmId],
    );
    expect(records).toHaveLength(Number(rows[0].count) + 1);
    expect(records[0]).toEqual([
      'created_at',
      'id',
      'firm_id',
      'user_id',
      'action',
      'entity_type',
      'entity_id',
      'ip_address',
      'metadata',
    ]);
    expect(records.every((record) => record.length === 9)).toBe(true);
    const planted = records.at(-1)!;
    expect(planted[4]).toBe(`'=HYPERLINK("http://evil.test","click")`);
    expect(planted[5]).toBe(`'+cmd|calc`);
    expect(planted[7]).toBe(`'-2+3`);
    expect(JSON.parse(planted[8])).toEqual({
      note: '@SUM(A1)',
      'a,b': 'line\nbreak "q"',
    });
    for (const record of records.slice(1)) {
      for (const field of record) expect(field).not.toMatch(/^[=+\-@]/);
    }
  });

  it('exports the cost summary by day and model, the total last, exact as the reports give it', async () => {
    await app.dataSource.query(
      `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens,
              cost_usd, created_at)
       VALUES ($1, '@evil,"model"', 'extraction', 10, 5, 0.000001, '2026-03-02T10:00Z'),
              ($1, '-cmd', 'extraction', 20, 5, 1.5, '2026-03-02T11:00Z'),
              ($1, 'gemini-3-flash', 'validation', 30, 5, 0.25, '2026-03-03T11:00Z')`,
      [firm.firmId],
    );
    const response = await app.get(
      '/logs/api/usage.csv?from=2026-03-01&to=2026-04-01',
    );
    expect(response.status).toBe(200);
    const records = parseCsv(await response.text());
    const [totals] = await app.reports.summary({
      firmId: firm.firmId,
      from: '2026-03-01',
      to: '2026-04-01',
    });
    expect(records).toEqual([
      [
        'day',
        'model',
        'calls',
        'failures',
        'input_tokens',
        'output_tokens',
        'cost_usd',
      ],
      ['2026-03-02', `'-cmd`, '1', '0', '20', '5', '1.500000'],
      ['2026-03-02', `'@evil,"model"`, '1', '0', '10', '5', '0.000001'],
      ['2026-03-03', 'gemini-3-flash', '1', '0', '30', '5', '0.250000'],
      ['total', '', '3', '0', '60', '15', totals.costUsd],
    ]);
    expect(totals.costUsd).toBe('1.750001');
  });
});
