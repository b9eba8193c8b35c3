import {
  COST_USD_PRECISION,
  COST_USD_SCALE,
} from '../core/logging.constants.js';
import { PG_INTEGER_MAX } from '../core/validation-rules.js';
import type { ModelPrice, TokenPrices } from './price-table.constants.js';

/**
 * Exact cost arithmetic, BigInt only: no step goes through a float.
 *
 * Prices are decimal strings in USD per 1M tokens with at most {@link PRICE_FRACTION_DIGITS}
 * fractional digits; each is read as an integer count of 10^-9 USD per 1M tokens. A token count
 * times such a price is an exact count of 10^-15 USD (10^-9 / 10^6). The three products are added
 * exactly and the sum is rounded ONCE, at the end, to micro-dollars (6 decimals, NUMERIC(10,6)):
 *
 * **Rounding rule: round half up on the exact value.** The exact cost is at least 0; when the part
 * below 10^-6 USD is at least half a micro-dollar (>= 0.0000005), the micro-dollar count goes up
 * by one, otherwise the part is dropped. E.g. 0.0000005 → '0.000001', 0.00000049 → '0.000000'.
 */

/** Token counts of one LLM call (OpenTelemetry GenAI convention). */
export interface LlmUsage {
  /** All prompt tokens, cached ones included. */
  inputTokens: number;
  /** All generated tokens, reasoning ("thinking") tokens included. */
  outputTokens: number;
  /** Prompt tokens served from the cache; counted INSIDE `inputTokens`. Default: 0. */
  cachedInputTokens?: number;
}

/**
 * A usage or a price broke a rule, or the cost does not fit NUMERIC(10,6). `field` names the bad
 * field (e.g. `usage.cachedInputTokens`, `costUsd`) and `rule` the rule it broke.
 */
export class LlmCostError extends Error {
  override readonly name = 'LlmCostError';

  constructor(
    readonly field: string,
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

/** Fractional digits a price may have: down to 10^-9 USD per 1M tokens. */
export const PRICE_FRACTION_DIGITS = 9;
/** Integer digits a price may have: below 1,000,000 USD per 1M tokens. */
export const PRICE_INTEGER_DIGITS = 6;

const PRICE_PATTERN = new RegExp(
  `^\\d{1,${PRICE_INTEGER_DIGITS}}(\\.\\d{1,${PRICE_FRACTION_DIGITS}})?$`,
);

/** The rule a price string must follow, as error messages state it. */
export const PRICE_RULE =
  `a non-negative decimal string (at most ${PRICE_INTEGER_DIGITS} integer and ` +
  `${PRICE_FRACTION_DIGITS} fractional digits, e.g. '0.10'), in USD per 1M tokens`;

/** Whether `value` is a price string {@link parsePrice} accepts. */
export const isPrice = (value: unknown): value is string =>
  typeof value === 'string' && PRICE_PATTERN.test(value);

const PRICE_UNIT = 10n ** BigInt(PRICE_FRACTION_DIGITS);
/** 10^-15 USD per micro-dollar: 10^-9 USD/MTok times tokens, over 10^6 tokens per MTok. */
const EXACT_PER_MICRO = PRICE_UNIT;
const MICROS_PER_USD = 10n ** BigInt(COST_USD_SCALE);
/** NUMERIC(10,6) holds costs below 10^4 USD, i.e. below 10^10 micro-dollars. */
const MAX_MICROS_EXCLUSIVE =
  10n ** BigInt(COST_USD_PRECISION - COST_USD_SCALE) * MICROS_PER_USD;

/** A price string as an integer count of 10^-9 USD per 1M tokens. */
export function parsePrice(value: string, field = 'price'): bigint {
  if (!isPrice(value)) {
    throw new LlmCostError(field, 'isPrice', `${field} must be ${PRICE_RULE}`);
  }
  const [whole, fraction = ''] = value.split('.');
  return (
    BigInt(whole) * PRICE_UNIT +
    BigInt(fraction.padEnd(PRICE_FRACTION_DIGITS, '0'))
  );
}

/** A tier's prices, read once. */
interface ExactPrices {
  input: bigint;
  cachedInput: bigint;
  output: bigint;
}

/** A model's prices, read once: base prices, and tiers ascending by threshold. */
export interface CompiledPrice {
  base: ExactPrices;
  tiers: { aboveInputTokens: number; prices: ExactPrices }[];
}

function exactPrices(prices: TokenPrices, field: string): ExactPrices {
  return {
    input: parsePrice(prices.inputPerMTok, `${field}.inputPerMTok`),
    cachedInput: parsePrice(
      prices.cachedInputPerMTok,
      `${field}.cachedInputPerMTok`,
    ),
    output: parsePrice(prices.outputPerMTok, `${field}.outputPerMTok`),
  };
}

/** Reads a model's price strings into integers once. */
export function compilePrice(
  price: ModelPrice,
  field = 'price',
): CompiledPrice {
  return {
    base: exactPrices(price, field),
    tiers: (price.tiers ?? [])
      .map((tier, i) => ({
        aboveInputTokens: tier.aboveInputTokens,
        prices: exactPrices(tier, `${field}.tiers[${i}]`),
      }))
      .sort((a, b) => a.aboveInputTokens - b.aboveInputTokens),
  };
}

const TOKEN_RULE = `a non-negative integer of at most ${PG_INTEGER_MAX}`;

function tokenCount(value: unknown, field: string): bigint {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 0 ||
    value > PG_INTEGER_MAX
  ) {
    throw new LlmCostError(
      `usage.${field}`,
      'isTokenCount',
      `usage.${field} must be ${TOKEN_RULE}`,
    );
  }
  return BigInt(value);
}

/** The usage's counts as BigInt, after checking every rule. */
export function checkUsage(usage: LlmUsage): {
  input: bigint;
  cachedInput: bigint;
  output: bigint;
} {
  if (typeof usage !== 'object' || usage === null) {
    throw new LlmCostError(
      'usage',
      'isObject',
      'usage must be an object { inputTokens, outputTokens, cachedInputTokens? }',
    );
  }
  const input = tokenCount(usage.inputTokens, 'inputTokens');
  const output = tokenCount(usage.outputTokens, 'outputTokens');
  const cachedInput =
    usage.cachedInputTokens === undefined
      ? 0n
      : tokenCount(usage.cachedInputTokens, 'cachedInputTokens');
  if (cachedInput > input) {
    throw new LlmCostError(
      'usage.cachedInputTokens',
      'cachedWithinInput',
      'usage.cachedInputTokens must be at most usage.inputTokens ' +
        '(cached tokens are counted inside the input tokens)',
    );
  }
  return { input, cachedInput, output };
}

/** The tier a prompt of `inputTokens` is billed at: the last whose threshold it exceeds. */
function tierFor(price: CompiledPrice, inputTokens: bigint): ExactPrices {
  let prices = price.base;
  for (const tier of price.tiers) {
    if (inputTokens > BigInt(tier.aboveInputTokens)) prices = tier.prices;
  }
  return prices;
}

/** Micro-dollars as a decimal string with 6 fractional digits: 124n → '0.000124'. */
export function formatMicros(micros: bigint): string {
  const whole = micros / MICROS_PER_USD;
  const fraction = (micros % MICROS_PER_USD)
    .toString()
    .padStart(COST_USD_SCALE, '0');
  return `${whole}.${fraction}`;
}

/**
 * The cost of one call in micro-dollars: (input - cached) × input price + cached × cached price +
 * output × output price, at the tier the prompt size (`inputTokens`) selects, rounded once, half
 * up, to whole micro-dollars.
 *
 * @throws LlmCostError for an invalid usage, or a cost of 10000 USD or more (NUMERIC(10,6))
 */
export function costMicros(
  price: ModelPrice | CompiledPrice,
  usage: LlmUsage,
): bigint {
  const { input, cachedInput, output } = checkUsage(usage);
  const compiled = 'base' in price ? price : compilePrice(price);
  const prices = tierFor(compiled, input);
  const exact =
    (input - cachedInput) * prices.input +
    cachedInput * prices.cachedInput +
    output * prices.output;
  let micros = exact / EXACT_PER_MICRO;
  // Round half up, once: the remainder is below one micro-dollar, in 10^-15 USD.
  if ((exact % EXACT_PER_MICRO) * 2n >= EXACT_PER_MICRO) micros += 1n;
  if (micros >= MAX_MICROS_EXCLUSIVE) {
    throw new LlmCostError(
      'costUsd',
      'fitsNumeric',
      `costUsd must be below ${MAX_MICROS_EXCLUSIVE / MICROS_PER_USD} USD to fit ` +
        `NUMERIC(${COST_USD_PRECISION},${COST_USD_SCALE}); this usage costs ${formatMicros(micros)} USD`,
    );
  }
  return micros;
}

/**
 * The cost of one call in USD as an exact decimal string with 6 fractional digits (`'0.000124'`).
 * See {@link costMicros} for the formula and the rounding rule.
 *
 * @throws LlmCostError for an invalid usage, or a cost of 10000 USD or more (NUMERIC(10,6))
 */
export function computeCostUsd(
  price: ModelPrice | CompiledPrice,
  usage: LlmUsage,
): string {
  return formatMicros(costMicros(price, usage));
}
