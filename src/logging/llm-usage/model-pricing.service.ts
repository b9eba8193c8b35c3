import { Inject, Injectable, Optional } from '@nestjs/common';
import { PRICING_OPTIONS } from '../core/logging.constants.js';
import { isIntegerIn, optionCheck } from '../core/option-check.js';
import { PG_INTEGER_MAX } from '../core/validation-rules.js';
import {
  type CompiledPrice,
  type LlmUsage,
  LlmCostError,
  PRICE_RULE,
  compilePrice,
  computeCostUsd,
  isPrice,
} from './cost.js';
import { MODEL_PATTERN } from './llm-usage-entry.dto.js';
import { UnknownModelError } from './llm-usage.errors.js';
import {
  MODEL_ALIASES,
  MODEL_PRICES,
  type ModelPrice,
  normalizeModelName,
} from './price-table.constants.js';

/** Options of the price table, `LoggingModule.forRoot({ pricing: {...} })`. */
export interface PricingOptions {
  /**
   * Prices by model name, over the built-in table (`MODEL_PRICES`): a name already there (compared
   * case-insensitively) is replaced as a whole, a new name is added. Default: `{}`.
   */
  models?: Record<string, ModelPrice>;
  /**
   * Other names of priced models, name → a model of the table (built-in or added). Added to the
   * built-in aliases (`MODEL_ALIASES`), replacing one of the same name. Default: `{}`.
   */
  aliases?: Record<string, string>;
}

/** A model's price as found for a name. */
export interface ResolvedModelPrice {
  /** The name in the price table, e.g. `gemini-3-flash` for `models/gemini-3-flash-preview`. */
  model: string;
  price: ModelPrice;
}

interface Entry extends ResolvedModelPrice {
  compiled: CompiledPrice;
}

const PRICE_FIELDS = [
  'inputPerMTok',
  'cachedInputPerMTok',
  'outputPerMTok',
] as const;
const MODEL_FIELDS = new Set<string>([
  ...PRICE_FIELDS,
  'tiers',
  'source',
  'checkedOn',
]);
const TIER_FIELDS = new Set<string>([...PRICE_FIELDS, 'aboveInputTokens']);
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const MODEL_NAME_RULE =
  'a model name: 1-128 characters of letters, digits and . _ : / @ -, starting with a letter or digit';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  (Object.getPrototypeOf(value) === Object.prototype ||
    Object.getPrototypeOf(value) === null);

const check = optionCheck('pricing');

function checkUnknownFields(
  value: Record<string, unknown>,
  known: Set<string>,
  field: string,
): void {
  for (const key of Object.keys(value)) {
    check(
      known.has(key),
      field,
      `an object of only ${[...known].join(', ')} (unknown field ${JSON.stringify(key)})`,
    );
  }
}

function checkPrices(value: Record<string, unknown>, field: string): void {
  for (const name of PRICE_FIELDS) {
    check(isPrice(value[name]), `${field}.${name}`, PRICE_RULE);
  }
}

/** Checks one model's prices from the options, naming `pricing.models.<name>.<field>`. */
function checkModelPrice(value: unknown, field: string): ModelPrice {
  check(
    isPlainObject(value),
    field,
    'an object { inputPerMTok, cachedInputPerMTok, outputPerMTok, tiers?, source?, checkedOn? }',
  );
  const price = value as Record<string, unknown>;
  checkUnknownFields(price, MODEL_FIELDS, field);
  checkPrices(price, field);
  if (price.tiers !== undefined) {
    check(
      Array.isArray(price.tiers),
      `${field}.tiers`,
      'an array of { aboveInputTokens, inputPerMTok, cachedInputPerMTok, outputPerMTok }',
    );
    let previous = -1;
    (price.tiers as unknown[]).forEach((tier, i) => {
      const tierField = `${field}.tiers[${i}]`;
      check(
        isPlainObject(tier),
        tierField,
        'an object { aboveInputTokens, inputPerMTok, cachedInputPerMTok, outputPerMTok }',
      );
      const t = tier as Record<string, unknown>;
      checkUnknownFields(t, TIER_FIELDS, tierField);
      check(
        isIntegerIn(t.aboveInputTokens, previous + 1, PG_INTEGER_MAX),
        `${tierField}.aboveInputTokens`,
        `an integer from ${previous + 1} to ${PG_INTEGER_MAX}, above the previous tier's`,
      );
      previous = t.aboveInputTokens as number;
      checkPrices(t, tierField);
    });
  }
  check(
    price.source === undefined || typeof price.source === 'string',
    `${field}.source`,
    'a string (where the prices were read)',
  );
  check(
    price.checkedOn === undefined ||
      (typeof price.checkedOn === 'string' &&
        DATE_PATTERN.test(price.checkedOn)),
    `${field}.checkedOn`,
    'a date YYYY-MM-DD',
  );
  return price as unknown as ModelPrice;
}

/** Checks the options and returns the merged price table and aliases, keyed by lowercase name. */
export function resolvePricing(options: PricingOptions = {}): {
  prices: Map<string, Entry>;
  aliases: Map<string, string>;
} {
  const raw: unknown = options;
  if (!isPlainObject(raw)) {
    throw new Error(
      'LoggingModule option pricing must be an object { models?, aliases? }',
    );
  }
  for (const key of Object.keys(raw)) {
    if (key !== 'models' && key !== 'aliases') {
      throw new Error(
        `LoggingModule option pricing must be an object of only models, aliases (unknown field ${JSON.stringify(key)})`,
      );
    }
  }
  const prices = new Map<string, Entry>();
  const add = (name: string, price: ModelPrice, field: string) =>
    prices.set(name.toLowerCase(), {
      model: name,
      price,
      compiled: compilePrice(price, field),
    });
  for (const [name, price] of Object.entries(MODEL_PRICES)) {
    add(name, price, `MODEL_PRICES.${name}`);
  }
  const { models = {}, aliases = {} } = options;
  check(isPlainObject(models), 'models', 'an object of prices by model name');
  const given = new Set<string>();
  for (const [name, value] of Object.entries(models)) {
    const field = `models.${name}`;
    check(MODEL_PATTERN.test(name), field, `named by ${MODEL_NAME_RULE}`);
    check(
      !given.has(name.toLowerCase()),
      field,
      'given once: another key differs from it only in case',
    );
    given.add(name.toLowerCase());
    add(name, checkModelPrice(value, field), `pricing.${field}`);
  }

  const merged = new Map<string, string>();
  for (const [alias, target] of Object.entries(MODEL_ALIASES)) {
    // A model added under an alias's name is found first; the alias is dropped.
    if (!prices.has(alias)) merged.set(alias, target.toLowerCase());
  }
  check(isPlainObject(aliases), 'aliases', 'an object of model names by alias');
  for (const [alias, target] of Object.entries(aliases)) {
    const field = `aliases.${alias}`;
    check(MODEL_PATTERN.test(alias), field, `named by ${MODEL_NAME_RULE}`);
    check(
      !prices.has(alias.toLowerCase()),
      field,
      'a name that is not itself a priced model (the model would be found first)',
    );
    check(
      typeof target === 'string' && prices.has(target.toLowerCase()),
      field,
      'the name of a model in the price table (built-in or in pricing.models)',
    );
    merged.set(alias.toLowerCase(), target.toLowerCase());
  }
  return { prices, aliases: merged };
}

/** Names looked up so far; bounded, so that arbitrary names cannot grow it without end. */
const LOOKUP_CACHE_SIZE = 1000;

/**
 * The price table in force: the built-in `MODEL_PRICES` and `MODEL_ALIASES` with
 * `pricing.models` and `pricing.aliases` over them, checked at startup. Injectable; also usable
 * on its own: `new ModelPricingService({ models: {...} })`.
 *
 * A name is found by, in order: the exact name (case-insensitive), an alias, then its normal form
 * ({@link normalizeModelName}: provider prefixes and version suffixes removed) as a model or an
 * alias. Nothing else: a name is never matched by prefix, so `gemini-3.1-pro-ultra` has no price.
 */
@Injectable()
export class ModelPricingService {
  private readonly prices: Map<string, Entry>;
  private readonly aliases: Map<string, string>;
  private readonly cache = new Map<string, Entry | null>();

  constructor(
    @Optional()
    @Inject(PRICING_OPTIONS)
    options: PricingOptions = {},
  ) {
    ({ prices: this.prices, aliases: this.aliases } = resolvePricing(options));
  }

  /** The price of `model`, or `undefined` when none is known. */
  resolve(model: string): ResolvedModelPrice | undefined {
    const entry = this.find(model);
    return entry ? { model: entry.model, price: entry.price } : undefined;
  }

  /** Whether a price is known for `model`. */
  has(model: string): boolean {
    return this.find(model) !== undefined;
  }

  /**
   * The cost of a call to `model` with `usage`, in USD, as an exact decimal string with 6
   * fractional digits (`'0.000124'`); see `cost.ts` for the formula and rounding rule.
   *
   * @throws UnknownModelError when no price is known for `model`
   * @throws LlmCostError for an invalid usage or a cost of 10000 USD or more
   */
  cost(model: string, usage: LlmUsage): string {
    const entry = this.find(model);
    if (!entry) throw new UnknownModelError(model);
    return computeCostUsd(entry.compiled, usage);
  }

  /** The price table in force, by table name. */
  table(): Record<string, ModelPrice> {
    return Object.fromEntries(
      [...this.prices.values()].map((e) => [e.model, e.price]),
    );
  }

  private find(model: string): Entry | undefined {
    if (typeof model !== 'string') {
      throw new LlmCostError('model', 'isString', 'model must be a string');
    }
    const cached = this.cache.get(model);
    if (cached !== undefined) return cached ?? undefined;
    const entry = this.lookup(model);
    if (this.cache.size >= LOOKUP_CACHE_SIZE) this.cache.clear();
    this.cache.set(model, entry ?? null);
    return entry;
  }

  private lookup(model: string): Entry | undefined {
    const byName = (name: string) => {
      const entry = this.prices.get(name);
      if (entry) return entry;
      const target = this.aliases.get(name);
      return target === undefined ? undefined : this.prices.get(target);
    };
    return byName(model.toLowerCase()) ?? byName(normalizeModelName(model));
  }
}
