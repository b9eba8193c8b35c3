import { IsInt, validateSync } from 'class-validator';
import { AuditLogEntryDto } from '../audit/audit-log-entry.dto.js';
import { LlmUsageEntryDto } from '../llm-usage/llm-usage-entry.dto.js';
import {
  LogEntryValidationError,
  compileRuleCheck,
  toEntryInstance,
  validateEntry,
} from './entry-validation.js';

/**
 * The compiled rule check must accept exactly what class-validator's `validateSync` accepts: it is
 * only a faster way to ask the same constraints. Checked over valid entries and every field of them
 * set to each of many bad values.
 */

const UUID = '6f1c2a8e-3b7d-4e2a-9c1f-0a1b2c3d4e5f';

const VALID_USAGE = [
  {
    firmId: UUID,
    model: 'gemini-3-flash',
    taskType: 'extraction',
    inputTokens: 0,
    outputTokens: 0,
    costUsd: '0',
  },
  {
    firmId: UUID,
    cmaProjectId: null,
    model: 'models/gemini-3.1-pro-preview',
    taskType: 'fallback',
    inputTokens: 2_147_483_647,
    outputTokens: 12,
    costUsd: 9999.999999,
    latencyMs: 0,
    success: false,
    errorMessage: 'deadline exceeded',
  },
];

const VALID_AUDIT = [
  { firmId: UUID, action: 'download_cma', entityType: 'generated_file' },
  {
    firmId: UUID,
    userId: UUID,
    action: 'create_project',
    entityType: 'cma_project',
    entityId: null,
    metadata: { files: 2, ids: [UUID] },
    ipAddress: '::ffff:203.0.113.7',
  },
];

const BAD_VALUES: unknown[] = [
  undefined,
  null,
  '',
  ' ',
  'x',
  'A',
  'not-a-uuid',
  `${UUID} `,
  UUID.toUpperCase(),
  0,
  -1,
  -0.5,
  1.5,
  2 ** 31,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '12',
  '0.000124',
  '10000',
  '1e-7',
  0.1 + 0.2,
  true,
  'true',
  [],
  [1],
  {},
  { amount: 1 },
  "'; DROP TABLE audit_log; --",
  'x'.repeat(200),
  '999.1.1.1',
  '203.0.113.7',
  'summarization',
  'Create_Project',
  new Date(0),
  Symbol('s'),
  () => undefined,
];

function corpus(valid: Record<string, unknown>[]): unknown[] {
  const fields = [...new Set(valid.flatMap((v) => Object.keys(v)))];
  const entries: unknown[] = [...valid];
  for (const base of valid) {
    for (const field of [...fields, 'extra', '__proto__', 'constructor']) {
      for (const bad of BAD_VALUES) {
        const entry: Record<string, unknown> = { ...base };
        Object.defineProperty(entry, field, {
          value: bad,
          enumerable: true,
          configurable: true,
          writable: true,
        });
        entries.push(entry);
      }
      const { [field]: _dropped, ...without } = base;
      entries.push(without);
    }
  }
  return entries;
}

const OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
} as const;

describe.each([
  ['llm_usage_log', LlmUsageEntryDto, VALID_USAGE],
  ['audit_log', AuditLogEntryDto, VALID_AUDIT],
] as const)('the compiled rule check of %s entries', (_, EntryClass, valid) => {
  const Entry: new () => object = EntryClass;
  const check = compileRuleCheck(Entry);
  const entries = corpus(valid);

  it('exists: every rule of the entry is of a kind it reproduces', () => {
    expect(check).toBeInstanceOf(Function);
  });

  it(`agrees with validateSync on ${entries.length} generated entries`, () => {
    let accepted = 0;
    const disagreements = entries.filter((input) => {
      const { instance } = toEntryInstance(Entry, input as object);
      const expected = validateSync(instance, OPTIONS).length === 0;
      if (expected) accepted++;
      return check!(instance) !== expected;
    });
    expect(disagreements).toEqual([]);
    // The corpus holds both sides: the valid entries and the ones that differ harmlessly.
    expect(accepted).toBeGreaterThanOrEqual(valid.length);
    expect(entries.length - accepted).toBeGreaterThan(200);
  });

  it('gives validateEntry the same verdict, with the errors of validateSync', () => {
    for (const input of entries) {
      const { instance, reserved } = toEntryInstance(Entry, input as object);
      const fields = [
        ...reserved,
        ...validateSync(instance, OPTIONS).map((e) => e.property),
      ];
      let thrown: unknown;
      try {
        validateEntry(Entry, 'entry', input);
      } catch (error) {
        thrown = error;
      }
      if (fields.length === 0) {
        expect(thrown).toBeUndefined();
      } else {
        expect(thrown).toBeInstanceOf(LogEntryValidationError);
        expect(
          new Set(
            (thrown as LogEntryValidationError).violations.map((v) => v.field),
          ),
        ).toEqual(new Set(fields));
      }
    }
  });
});

it('names __proto__, constructor and prototype keys as unknown fields, beside the other bad fields', () => {
  const input = JSON.parse(
    `{"firmId": "${UUID}", "action": "upload_file", "entityType": "uploaded_file",` +
      ' "__proto__": {"polluted": true}, "constructor": {"prototype": {}}, "prototype": 1, "ipAddress": "x"}',
  ) as object;
  const error = (() => {
    try {
      validateEntry(AuditLogEntryDto, 'audit_log', input);
    } catch (e) {
      return e as LogEntryValidationError;
    }
  })();
  expect(error).toBeInstanceOf(LogEntryValidationError);
  expect(error!.violations.map((v) => [v.field, v.rule])).toEqual([
    ['__proto__', 'whitelistValidation'],
    ['constructor', 'whitelistValidation'],
    ['prototype', 'whitelistValidation'],
    ['ipAddress', 'isIp'],
  ]);
  expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
});

it('declines rules it does not reproduce, so such entries go through validateSync', () => {
  class Counts {
    @IsInt({ each: true })
    values: number[];
  }
  expect(compileRuleCheck(Counts)).toBeUndefined();
  expect(() => validateEntry(Counts, 'counts', { values: [1, 2.5] })).toThrow(
    LogEntryValidationError,
  );
  expect(validateEntry(Counts, 'counts', { values: [1, 2] }).values).toEqual([
    1, 2,
  ]);
});
