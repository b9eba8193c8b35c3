import { randomUUID } from 'node:crypto';
import { ArrayMaxSize, IsArray, IsInt, Matches, Max } from 'class-validator';
import { CreditLedgerService } from '../src/logging/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { httpApp } from './support/http-app.js';
import { maskUuids } from './support/leak-finder.js';
import { seedFirm } from './support/seed.js';

/**
 * Financial and identity data in metadata, under telling keys and under innocent ones, nested and
 * in arrays, through every path that writes metadata: `AuditLogService.record`, `@Audit`'s metadata
 * picker over HTTP, and the credit ledger. Afterwards the tables are read back as text: none of
 * the values is there.
 */

/** Values that must never be stored, as they would appear in the JSON text of a row. */
const SENSITIVE: [string, unknown, string][] = [
  ['an amount', 150_000.5, '150000.5'],
  ['an amount as text', '150000.50', '150000.50'],
  ['a balance with a currency', 'INR 12,50,000', '12,50,000'],
  ['a rupee amount', '₹1,25,000.00', '1,25,000'],
  ['a currency code amount', 'INR15000', 'INR15000'],
  ['a negative balance', -2_500, '-2500'],
  ['a PAN', 'ABCPE1234F', 'ABCPE1234F'],
  ['a lowercase PAN', 'abcpe1234f', 'abcpe1234f'],
  ['a GSTIN', '27ABCPE1234F1Z5', '27ABCPE1234F1Z5'],
  ['an Aadhaar number', '2345 6789 0123', '2345 6789 0123'],
  ['an Aadhaar number, joined', '234567890123', '234567890123'],
  ['an Aadhaar number as a number', 234_567_890_123, '234567890123'],
  ['a bank account', '50100123456789', '50100123456789'],
  ['a bank account as a number', 50_100_123_456_789, '50100123456789'],
  ['an IFSC', 'HDFC0001234', 'HDFC0001234'],
  ['a TAN', 'MUMA12345B', 'MUMA12345B'],
  ['an email', 'cfo@acme-industries.example', 'cfo@acme-industries.example'],
  ['a phone number', '+91 98765 43210', '98765 43210'],
  ['free text', 'Net profit fell to 4.2 crore', 'Net profit fell'],
  ['a card number', '4111 1111 1111 1111', '4111 1111 1111 1111'],
];

const REF = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

/**
 * A loose declaration: the innocent keys below as identifiers of any shape, so that only the
 * detectors stand between the values and the table.
 */
class LooseMetadata {
  @Matches(REF) ref: string;
  @Matches(REF) value: string;
  @Matches(REF) label: string;
  @Matches(REF) code: string;
  @Matches(REF) detail: string;
  @Matches(REF) x: string;
  @IsArray() @ArrayMaxSize(10) @Matches(REF, { each: true }) list: string[];
  @IsInt() @Max(100) pages: number;
  @IsInt() @Max(100) documents: number;
}

/** Keys a host might put them under; none of them tells what the value is. */
const INNOCENT_KEYS = ['ref', 'value', 'label', 'code', 'detail', 'x'];

/** Every way of carrying `value` under an innocent key: flat, nested, in an array. */
function carriers(value: unknown): Record<string, unknown>[] {
  return INNOCENT_KEYS.flatMap((key) => [
    { [key]: value, pages: 3 },
    { group: { [key]: value }, pages: 3 },
    { list: [value], pages: 3 },
  ]);
}

/** Keys that name the data; their values are refused whatever they look like. */
const TELLING = {
  amount: 150_000,
  balance: 99,
  revenue: 1,
  salary: 30_000,
  pan: 'X1',
  gstin: 'X2',
  aadhaar: 'X3',
  accountNumber: 'X4',
  ifsc: 'X5',
  email: 'X6',
  password: 'X7',
  apiToken: 'X8',
};

describe('sensitive data never reaches the tables', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof httpApp>>;
  let firm: { firmId: string; userId: string; projectId: string };
  let headers: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await httpApp('express', database.url, {
      audit: { actions: { attach_file: LooseMetadata } },
      ledger: { metadata: { grant: LooseMetadata, deduct: LooseMetadata } },
    });
    firm = await seedFirm(app.dataSource, `sensitive-${randomUUID()}`);
    headers = { 'x-test-firm': firm.firmId, 'x-test-user': firm.userId };
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  async function storedText(): Promise<string> {
    const rows = await app.dataSource.query<{ text: string }[]>(
      `SELECT coalesce(metadata::text, '') AS text FROM audit_log WHERE firm_id = $1
       UNION ALL
       SELECT coalesce(metadata::text, '') FROM credit_transaction WHERE user_id = $2`,
      [firm.firmId, firm.userId],
    );
    return rows.map((row) => row.text).join('\n');
  }

  /** The sensitive values found in stored text, its UUIDs (ids stored by design) masked first. */
  function leaks(stored: string): string[] {
    const text = maskUuids(stored);
    return [
      ...SENSITIVE.filter(([, , shown]) => text.includes(shown)).map(
        ([label]) => label,
      ),
      ...Object.entries(TELLING)
        .filter(([key]) => text.includes(`"${key}"`))
        .map(([key]) => `key ${key}`),
    ];
  }

  it('AuditLogService.record: none of it, under any key, is stored; the references and counts are', async () => {
    let rows = 0;
    for (const [, value] of SENSITIVE) {
      for (const metadata of carriers(value)) {
        await app.audit.record({
          firmId: firm.firmId,
          action: 'attach_file',
          entityType: 'uploaded_file',
          metadata,
        });
        rows++;
      }
    }
    await app.audit.record({
      firmId: firm.firmId,
      action: 'attach_file',
      entityType: 'uploaded_file',
      metadata: { ...TELLING, pages: 3 },
    });
    const text = await storedText();
    expect(leaks(text)).toEqual([]);
    // every row kept its count: the policy took out the values, not the rows
    const [{ n }] = await app.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM audit_log
        WHERE firm_id = $1 AND action = 'attach_file' AND (metadata->>'pages')::int = 3`,
      [firm.firmId],
    );
    expect(n).toBe(rows + 1);
  });

  const uploadRows = async () =>
    (
      await app.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM audit_log
          WHERE firm_id = $1 AND action = 'upload_file' AND entity_id = $2`,
        [firm.firmId, firm.projectId],
      )
    )[0].n;

  it('@Audit over HTTP: each request writes its row, stored without any of it', async () => {
    const metas = [
      ...SENSITIVE.flatMap(([, value]) => carriers(value).slice(0, 6)),
      TELLING,
    ];
    for (const meta of metas) {
      const before = await uploadRows();
      const response = await app.send(
        'POST',
        `/projects/${firm.projectId}/files`,
        { body: { pages: 2, meta }, headers },
      );
      expect(response.status).toBe(201);
      // the row is there first: a request that wrote nothing would leak nothing
      expect(await uploadRows()).toBe(before + 1);
      expect(leaks(await storedText())).toEqual([]);
    }
  });

  it('the credit ledger: metadata of grants and deducts is stored without any of it', async () => {
    const ledger = app.app.get(CreditLedgerService);
    let n = 0;
    for (const [, value] of SENSITIVE) {
      await ledger.grant({
        userId: firm.userId,
        amount: 1,
        idempotencyKey: `grant-${n++}`,
        metadata: { ref: value, documents: 1 },
      });
    }
    await ledger.deduct({
      userId: firm.userId,
      amount: 1,
      feature: 'document_generation',
      idempotencyKey: 'deduct-telling',
      metadata: { ...TELLING, documents: 1 },
    });
    expect(leaks(await storedText())).toEqual([]);
    const [{ kept }] = await app.dataSource.query<{ kept: number }[]>(
      `SELECT count(*)::int AS kept FROM credit_transaction
        WHERE user_id = $1 AND (metadata->>'documents')::int = 1`,
      [firm.userId],
    );
    expect(kept).toBe(SENSITIVE.length + 1);
  });
});
