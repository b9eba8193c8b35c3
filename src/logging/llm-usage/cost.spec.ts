import {
  LlmCostError,
  computeCostUsd,
  costMicros,
  formatMicros,
  parsePrice,
} from './cost.js';
import { MODEL_PRICES, type ModelPrice } from './price-table.constants.js';
import { ModelPricingService } from './model-pricing.service.js';

/**
 * The cost arithmetic, against hand-computed values. Prices are USD per 1M tokens, so a cost is
 * Σ tokens × price / 1,000,000; "µ$" below is a micro-dollar (10^-6 USD), the unit of NUMERIC(10,6).
 */

const pricing = new ModelPricingService();
const cost = (
  model: string,
  inputTokens: number,
  outputTokens: number,
  cachedInputTokens?: number,
) => pricing.cost(model, { inputTokens, outputTokens, cachedInputTokens });

describe('cost of a call, exact to the micro-dollar', () => {
  it('gemini-2.0-flash (0.10 / 0.025 / 0.40)', () => {
    // 1000 × 0.10 = 100 µ$ input + 500 × 0.40 = 200 µ$ output = 300 µ$
    expect(cost('gemini-2.0-flash', 1000, 500)).toBe('0.000300');
    // (10000 - 4000) × 0.10 = 600 µ$ + 4000 × 0.025 = 100 µ$ + 1000 × 0.40 = 400 µ$ = 1100 µ$
    expect(cost('gemini-2.0-flash', 10_000, 1000, 4000)).toBe('0.001100');
    // 1,000,000 × 0.10 + 1,000,000 × 0.40 = 0.50 USD
    expect(cost('gemini-2.0-flash', 1_000_000, 1_000_000)).toBe('0.500000');
  });

  it('gemini-3-flash (0.50 / 0.05 / 3.00)', () => {
    // 1200 × 0.50 = 600 µ$ + 300 × 3.00 = 900 µ$ = 1500 µ$
    expect(cost('gemini-3-flash', 1200, 300)).toBe('0.001500');
    // (1200 - 1000) × 0.50 = 100 µ$ + 1000 × 0.05 = 50 µ$ + 300 × 3.00 = 900 µ$ = 1050 µ$
    expect(cost('gemini-3-flash', 1200, 300, 1000)).toBe('0.001050');
    // all input cached: 1200 × 0.05 = 60 µ$ + 0 output = 60 µ$
    expect(cost('gemini-3-flash', 1200, 0, 1200)).toBe('0.000060');
  });

  it('gemini-3.1-pro on both sides of the 200k tier (2.00 / 0.20 / 12.00, above: 4.00 / 0.40 / 18.00)', () => {
    // 200,000 is not above 200k: lower tier. 200000 × 2.00 = 400000 µ$ + 1000 × 12.00 = 12000 µ$
    expect(cost('gemini-3.1-pro', 200_000, 1000)).toBe('0.412000');
    // 200,001 is: upper tier. 200001 × 4.00 = 800004 µ$ + 1000 × 18.00 = 18000 µ$ = 818004 µ$
    expect(cost('gemini-3.1-pro', 200_001, 1000)).toBe('0.818004');
    // lower, cached: 150000 × 2.00 = 300000 + 50000 × 0.20 = 10000 + 1000 × 12.00 = 12000 → 322000 µ$
    expect(cost('gemini-3.1-pro', 200_000, 1000, 50_000)).toBe('0.322000');
    // upper, cached (the tier follows the whole prompt, cached tokens included):
    // 150001 × 4.00 = 600004 + 50000 × 0.40 = 20000 + 1000 × 18.00 = 18000 → 638004 µ$
    expect(cost('gemini-3.1-pro', 200_001, 1000, 50_000)).toBe('0.638004');
    // upper, all cached: 200001 × 0.40 = 80000.4 µ$ → 80000 µ$ (0.4 rounds down)
    expect(cost('gemini-3.1-pro', 200_001, 0, 200_001)).toBe('0.080000');
  });

  it('gemini-2.5-pro tier and gemini-2.5-flash', () => {
    // 200000 × 1.25 = 250000 µ$
    expect(cost('gemini-2.5-pro', 200_000, 0)).toBe('0.250000');
    // 200001 × 2.50 = 500002.5 µ$ → half up → 500003 µ$
    expect(cost('gemini-2.5-pro', 200_001, 0)).toBe('0.500003');
    // (1000 - 100) × 0.30 = 270 µ$ + 100 × 0.03 = 3 µ$ + 200 × 2.50 = 500 µ$ = 773 µ$
    expect(cost('gemini-2.5-flash', 1000, 200, 100)).toBe('0.000773');
  });
});

describe('rounding: once, at the end, half up', () => {
  it('rounds half a micro-dollar up and less than half down', () => {
    // 5 × 0.10 = 0.5 µ$ → 1 µ$
    expect(cost('gemini-2.0-flash', 5, 0)).toBe('0.000001');
    // 4 × 0.10 = 0.4 µ$ → 0
    expect(cost('gemini-2.0-flash', 4, 0)).toBe('0.000000');
    // 20 cached × 0.025 = 0.5 µ$ → 1 µ$; 19 × 0.025 = 0.475 µ$ → 0
    expect(cost('gemini-2.0-flash', 20, 0, 20)).toBe('0.000001');
    expect(cost('gemini-2.0-flash', 19, 0, 19)).toBe('0.000000');
    // 17 × 0.03 = 0.51 µ$ → 1 µ$; 16 × 0.03 = 0.48 µ$ → 0
    expect(cost('gemini-2.5-flash', 17, 0, 17)).toBe('0.000001');
    expect(cost('gemini-2.5-flash', 16, 0, 16)).toBe('0.000000');
  });

  it('rounds the sum, not each part', () => {
    // 3 × 0.10 = 0.3 µ$ + 1 × 0.40 = 0.4 µ$ = 0.7 µ$ → 1 µ$ (parts rounded alone would give 0)
    expect(cost('gemini-2.0-flash', 3, 1)).toBe('0.000001');
    // gemini-3-flash, 10 in, 9 cached: 1 × 0.50 + 9 × 0.05 = 0.95 µ$ → 1 µ$
    expect(cost('gemini-3-flash', 10, 0, 9)).toBe('0.000001');
    // 2 × 0.025 + 1 × 0.10 = 0.15 µ$ → 0 (gemini-2.0-flash, 3 in, 2 cached)
    expect(cost('gemini-2.0-flash', 3, 0, 2)).toBe('0.000000');
  });

  it('is exact where floats are not', () => {
    // 0.1 + 0.2 in floats is 0.30000000000000004; here 1 × 0.10 + ... is exact:
    // gemini-2.0-flash, 3,000,000 in: 3000000 × 0.10 = 300000 µ$
    expect(cost('gemini-2.0-flash', 3_000_000, 0)).toBe('0.300000');
    // 2147483647 × 0.40 = 858993458.8 µ$ → 858993459 µ$
    expect(cost('gemini-2.0-flash', 0, 2_147_483_647)).toBe('858.993459');
  });

  it('handles zero usage', () => {
    expect(cost('gemini-3.1-pro', 0, 0)).toBe('0.000000');
  });
});

describe('limits', () => {
  // 100000 USD per 1M tokens is 0.1 USD a token: 100,000 tokens at p cost p / 10 USD.
  const edge = (outputPerMTok: string): ModelPrice => ({
    inputPerMTok: '0',
    cachedInputPerMTok: '0',
    outputPerMTok,
  });

  it('accepts costs up to 9999.999999 and refuses 10000 and above (NUMERIC(10,6))', () => {
    // 100000 × 99999.99999 / 10^6 = 9999.999999 exactly
    expect(
      computeCostUsd(edge('99999.99999'), {
        inputTokens: 0,
        outputTokens: 100_000,
      }),
    ).toBe('9999.999999');
    // 100000 × 99999.999994999 / 10^6 = 9999.9999994999 → rounds down to 9999.999999
    expect(
      computeCostUsd(edge('99999.999994999'), {
        inputTokens: 0,
        outputTokens: 100_000,
      }),
    ).toBe('9999.999999');
    // 100000 × 99999.999995 / 10^6 = 9999.9999995 → rounds up to 10000.000000: refused
    expect(() =>
      computeCostUsd(edge('99999.999995'), {
        inputTokens: 0,
        outputTokens: 100_000,
      }),
    ).toThrow(
      new LlmCostError(
        'costUsd',
        'fitsNumeric',
        'costUsd must be below 10000 USD to fit NUMERIC(10,6); this usage costs 10000.000000 USD',
      ),
    );
    // gemini-3.1-pro upper tier at the INTEGER maximum: 2147483647 × (4.00 + 18.00) = 47244.640234 USD
    expect(() => cost('gemini-3.1-pro', 2_147_483_647, 2_147_483_647)).toThrow(
      /costUsd must be below 10000 USD .* costs 47244\.640234 USD/,
    );
  });

  it.each([
    [{ inputTokens: -1, outputTokens: 0 }, 'usage.inputTokens', 'isTokenCount'],
    [
      { inputTokens: 1.5, outputTokens: 0 },
      'usage.inputTokens',
      'isTokenCount',
    ],
    [
      { inputTokens: 0, outputTokens: NaN },
      'usage.outputTokens',
      'isTokenCount',
    ],
    [
      { inputTokens: 2_147_483_648, outputTokens: 0 },
      'usage.inputTokens',
      'isTokenCount',
    ],
    [
      { inputTokens: 0, outputTokens: '5' as unknown as number },
      'usage.outputTokens',
      'isTokenCount',
    ],
    [
      { inputTokens: 10, outputTokens: 0, cachedInputTokens: -2 },
      'usage.cachedInputTokens',
      'isTokenCount',
    ],
    [
      { inputTokens: 10, outputTokens: 0, cachedInputTokens: 11 },
      'usage.cachedInputTokens',
      'cachedWithinInput',
    ],
    [null, 'usage', 'isObject'],
  ])('refuses the usage %j naming %s', (usage, field, rule) => {
    let error: unknown;
    try {
      pricing.cost('gemini-3-flash', usage as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LlmCostError);
    expect(error).toMatchObject({ field, rule });
    expect((error as Error).message).toMatch(
      new RegExp(`^${field.replace('.', '\\.')} must be`),
    );
  });

  it('states the token rule', () => {
    expect(() => cost('gemini-3-flash', -1, 0)).toThrow(
      'usage.inputTokens must be a non-negative integer of at most 2147483647',
    );
    expect(() => cost('gemini-3-flash', 10, 0, 11)).toThrow(
      'usage.cachedInputTokens must be at most usage.inputTokens (cached tokens are counted inside the input tokens)',
    );
  });
});

describe('prices and formatting', () => {
  it('reads price strings exactly, in 10^-9 USD per 1M tokens', () => {
    expect(parsePrice('0.10')).toBe(100_000_000n);
    expect(parsePrice('0.025')).toBe(25_000_000n);
    expect(parsePrice('12')).toBe(12_000_000_000n);
    expect(parsePrice('0.000000001')).toBe(1n);
    for (const bad of [
      '-1',
      '1e-3',
      '.5',
      '1.',
      '0.0000000001',
      '1000000',
      ' 1',
      'NaN',
    ]) {
      expect(() => parsePrice(bad, 'x.inputPerMTok')).toThrow(
        /^x\.inputPerMTok must be a non-negative decimal string/,
      );
    }
  });

  it('formats micro-dollars with six fractional digits', () => {
    expect(formatMicros(0n)).toBe('0.000000');
    expect(formatMicros(124n)).toBe('0.000124');
    expect(formatMicros(9_999_999_999n)).toBe('9999.999999');
  });

  it('has the price table of the brief, each entry with its source and date', () => {
    for (const [name, price] of Object.entries(MODEL_PRICES)) {
      expect({
        name,
        source: price.source,
        checkedOn: price.checkedOn,
      }).toEqual({
        name,
        source: 'https://ai.google.dev/gemini-api/docs/pricing',
        checkedOn: '2026-11-22',
      });
    }
    expect(MODEL_PRICES['gemini-3.1-pro']).toMatchObject({
      inputPerMTok: '2.00',
      cachedInputPerMTok: '0.20',
      outputPerMTok: '12.00',
      tiers: [
        {
          aboveInputTokens: 200_000,
          inputPerMTok: '4.00',
          cachedInputPerMTok: '0.40',
          outputPerMTok: '18.00',
        },
      ],
    });
  });

  it('costMicros agrees with computeCostUsd', () => {
    const price = MODEL_PRICES['gemini-3-flash'];
    const usage = {
      inputTokens: 1200,
      outputTokens: 300,
      cachedInputTokens: 1000,
    };
    expect(costMicros(price, usage)).toBe(1050n);
    expect(computeCostUsd(price, usage)).toBe('0.001050');
  });
});
