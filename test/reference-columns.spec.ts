import { randomUUID } from 'node:crypto';
import {
  Audit,
  CreditLedgerService,
  LogEntryValidationError,
} from '../src/logging/index.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';

/**
 * The reference columns, `audit_log.action`, `audit_log.entity_type` and
 * `credit_transaction.idempotency_key`, are stored as given and indexed: a value that holds
 * identity data is refused with an error naming the field and what it reads as, never the value,
 * and nothing is written. References that only look like numbers (ids, dates, order numbers) pass.
 */

/** References that hold identity data, with what the error says each reads as. */
const IDENTITY = [
  ['kyc_abcpe1234f', 'a PAN'],
  // a GSTIN whose check character holds (one whose check fails reads as the PAN inside it)
  ['gst_27aapfu0939f1zv', 'a GSTIN'],
  ['aadhaar_496858245152', 'an Aadhaar number'],
  ['call_9876543210', 'a phone number'],
  ['card_4111111111111111', 'a card number'],
  ['acct_50100123456789012', 'an identity number'],
  ['tds_muma12345b', 'a TAN'],
] as const;

/** Idempotency keys a host writes that hold none. */
const INNOCENT_KEYS = [
  `signup:${randomUUID()}`,
  `doc:${randomUUID()}`,
  `doc-failed:${randomUUID()}`,
  'order:1234567',
  'invoice-2026-000123',
  'batch_20260415',
  'retry:3:2026-12-02T10.00.00Z',
  '01ARZ3NDEKTSV4RRFFQ69G5FAV',
  'chatcmpl-9xYzAbCdEf0123',
  'sha:3f786850e387550fdab836ed7e6dc881de23001b',
];

describe('reference columns hold no identity data', () => {
  const suite = databaseSuite();

  it('record() refuses an action or entity type that holds identity data, naming the field, and writes nothing', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const { firmId } = await seedFirm(app.dataSource, `refs-${randomUUID()}`);
    for (const [value, reads] of IDENTITY) {
      for (const field of ['action', 'entityType'] as const) {
        const entry = {
          firmId,
          action: 'upload_file',
          entityType: 'cma_project',
          [field]: value,
        };
        const error = await app.audit.record(entry).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(LogEntryValidationError);
        const { violations, message } = error as LogEntryValidationError;
        expect(violations).toEqual([
          expect.objectContaining({ field, rule: 'holdsNoIdentity' }),
        ]);
        expect(message).toContain(`${field} must hold no identity data`);
        expect(message).toContain(`it reads as ${reads}`);
        expect(message).not.toContain(value);
      }
    }
    const { rows } = await suite.reader.query(
      'SELECT count(*)::int AS n FROM audit_log WHERE firm_id = $1',
      [firmId],
    );
    expect(rows).toEqual([{ n: 0 }]);
    // the references a host uses pass
    for (const action of [
      'upload_file',
      'run_extraction_v2',
      'batch_20260415',
    ]) {
      await app.audit.record({ firmId, action, entityType: 'cma_project' });
    }
    const written = await suite.reader.query(
      'SELECT count(*)::int AS n FROM audit_log WHERE firm_id = $1',
      [firmId],
    );
    expect(written.rows).toEqual([{ n: 3 }]);
  });

  it('@Audit refuses such an action or entity type when the class is decorated, without echoing it', () => {
    for (const [value] of IDENTITY) {
      expect(() => Audit(value, 'cma_project')).toThrow(
        /@Audit\(\): action must hold no identity data \(it reads as /,
      );
      expect(() => Audit('upload_file', value)).toThrow(
        /@Audit\(\): entityType must hold no identity data/,
      );
      let message = '';
      try {
        Audit(value, 'cma_project');
      } catch (error) {
        message = String(error);
      }
      expect(message).not.toContain(value);
    }
    expect(() => Audit('batch_20260415', 'cma_project')).not.toThrow();
  });

  it('the ledger refuses an idempotency key that holds identity data, and takes the keys hosts write', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const ledger = app.moduleRef.get(CreditLedgerService);
    const { userId } = await seedFirm(app.dataSource, `refs-${randomUUID()}`);
    for (const key of [
      'kyc:ABCPE1234F',
      'kyc:ABCPE-1234-F',
      'phone:919876543210',
      'aadhaar:4968-5824-5152',
      'card:4111-1111-1111-1111',
    ]) {
      const error = await ledger
        .grant({ userId, amount: 1, idempotencyKey: key })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(LogEntryValidationError);
      expect((error as LogEntryValidationError).violations).toEqual([
        expect.objectContaining({
          field: 'idempotencyKey',
          rule: 'holdsNoIdentity',
        }),
      ]);
      expect(String(error)).not.toContain(key);
    }
    const refused = await suite.reader.query(
      'SELECT count(*)::int AS n FROM credit_transaction WHERE user_id = $1',
      [userId],
    );
    expect(refused.rows).toEqual([{ n: 0 }]);
    for (const idempotencyKey of INNOCENT_KEYS) {
      await ledger.grant({ userId, amount: 1, idempotencyKey });
    }
    const { rows } = await suite.reader.query<{ key: string }>(
      'SELECT idempotency_key AS key FROM credit_transaction WHERE user_id = $1',
      [userId],
    );
    expect(rows.map((row) => row.key).sort()).toEqual(
      [...INNOCENT_KEYS].sort(),
    );
  });
});
