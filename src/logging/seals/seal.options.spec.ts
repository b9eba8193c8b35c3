import {
  MAX_ROWS_PER_SEAL,
  SEAL_DEFAULTS,
  resolveSealOptions,
} from './seal.options.js';

/** The seal options `LoggingModule.forRoot({ seals })` resolves: defaults, and refusals naming the field. */

describe('seal options', () => {
  it('defaults maxDeferMs to a minute and keeps 0 (never wait)', () => {
    expect(resolveSealOptions({}).maxDeferMs).toBe(60_000);
    expect(SEAL_DEFAULTS.maxDeferMs).toBe(60_000);
    expect(resolveSealOptions({ maxDeferMs: 0 }).maxDeferMs).toBe(0);
  });

  it('refuses a maxDeferMs that is not a whole number of ms, naming the field and the rule', () => {
    expect(() => resolveSealOptions({ maxDeferMs: -1 })).toThrow(
      'LoggingModule: seals.maxDeferMs must be an integer of at least 0, got -1',
    );
    expect(() => resolveSealOptions({ maxDeferMs: 1.5 })).toThrow(
      'LoggingModule: seals.maxDeferMs must be an integer of at least 0, got 1.5',
    );
    expect(() =>
      resolveSealOptions({ maxDeferMs: '100' as unknown as number }),
    ).toThrow(
      'LoggingModule: seals.maxDeferMs must be an integer of at least 0, got "100"',
    );
  });

  it('caps maxRowsPerSeal at 1,000,000: a seal must fit one PostgreSQL value', () => {
    expect(
      resolveSealOptions({ maxRowsPerSeal: MAX_ROWS_PER_SEAL }),
    ).toMatchObject({ maxRowsPerSeal: 1_000_000 });
    expect(() => resolveSealOptions({ maxRowsPerSeal: 1_000_001 })).toThrow(
      'LoggingModule: seals.maxRowsPerSeal must be an integer from 1 to 1000000, got 1000001',
    );
    expect(() => resolveSealOptions({ maxRowsPerSeal: 0 })).toThrow(
      'LoggingModule: seals.maxRowsPerSeal must be an integer from 1 to 1000000, got 0',
    );
  });
});
