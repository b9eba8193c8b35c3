/**
 * The price table of LLM models, as data. Prices are USD per 1,000,000 tokens, written as decimal
 * strings (never floats) so that cost arithmetic stays exact (see `cost.ts`).
 */

/** Prices of one tier, in USD per 1M tokens, as decimal strings like `'0.10'`. */
export interface TokenPrices {
  /** Uncached input (prompt) tokens. */
  inputPerMTok: string;
  /** Input tokens served from the context cache (counted inside the input tokens). */
  cachedInputPerMTok: string;
  /** Output tokens, reasoning ("thinking") tokens included. */
  outputPerMTok: string;
}

/** Prices that apply instead of the base prices when the prompt exceeds `aboveInputTokens`. */
export interface PriceTier extends TokenPrices {
  /** The tier applies when `inputTokens > aboveInputTokens`. */
  aboveInputTokens: number;
}

/** The prices of one model: base prices, and higher tiers for long prompts where it has them. */
export interface ModelPrice extends TokenPrices {
  /** Ordered by `aboveInputTokens`, ascending; the last one the prompt exceeds applies. */
  tiers?: readonly PriceTier[];
  /** Where the prices were read. */
  source?: string;
  /** When they were last checked against the source, `YYYY-MM-DD`. */
  checkedOn?: string;
}

/** The page the built-in prices come from. */
export const GEMINI_PRICING_SOURCE =
  'https://ai.google.dev/gemini-api/docs/pricing';
/** The day the built-in prices were checked against {@link GEMINI_PRICING_SOURCE}. */
export const PRICES_CHECKED_ON = '2026-11-22';

/** Prompts longer than this many input tokens are billed at a model's long-context tier. */
export const LONG_CONTEXT_THRESHOLD = 200_000;

const gemini = (
  prices: TokenPrices,
  tiers?: readonly PriceTier[],
): ModelPrice => ({
  ...prices,
  ...(tiers ? { tiers } : {}),
  source: GEMINI_PRICING_SOURCE,
  checkedOn: PRICES_CHECKED_ON,
});

/** The built-in prices (standard, paid tier; text input). Override or extend with `pricing.models`. */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze(
  {
    'gemini-2.0-flash': gemini({
      inputPerMTok: '0.10',
      cachedInputPerMTok: '0.025',
      outputPerMTok: '0.40',
    }),
    'gemini-2.5-flash': gemini({
      inputPerMTok: '0.30',
      cachedInputPerMTok: '0.03',
      outputPerMTok: '2.50',
    }),
    'gemini-2.5-pro': gemini(
      {
        inputPerMTok: '1.25',
        cachedInputPerMTok: '0.125',
        outputPerMTok: '10.00',
      },
      [
        {
          aboveInputTokens: LONG_CONTEXT_THRESHOLD,
          inputPerMTok: '2.50',
          cachedInputPerMTok: '0.25',
          outputPerMTok: '15.00',
        },
      ],
    ),
    'gemini-3-flash': gemini({
      inputPerMTok: '0.50',
      cachedInputPerMTok: '0.05',
      outputPerMTok: '3.00',
    }),
    'gemini-3.1-pro': gemini(
      {
        inputPerMTok: '2.00',
        cachedInputPerMTok: '0.20',
        outputPerMTok: '12.00',
      },
      [
        {
          aboveInputTokens: LONG_CONTEXT_THRESHOLD,
          inputPerMTok: '4.00',
          cachedInputPerMTok: '0.40',
          outputPerMTok: '18.00',
        },
      ],
    ),
  },
);

/**
 * Other names of priced models, name → priced model. Looked up after an exact match and before
 * normalisation. Override or extend with `pricing.aliases`.
 */
export const MODEL_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  'gemini-3-flash-preview': 'gemini-3-flash',
  'gemini-3.1-pro-preview': 'gemini-3.1-pro',
});

/** Provider prefixes stripped by normalisation, in front of the model name. */
const PROVIDER_PREFIX =
  /^(?:models|google|gemini|vertex_ai|vertexai|vertex|openrouter|litellm|publishers)\//;

/**
 * Suffixes stripped by normalisation, at the end of the name, repeatedly: a preview marker with an
 * optional `MM-DD`/`MM-YYYY` date, a version `-0NN` (`-001`, `-002`), `-latest`, a date (`-2025-06-17`,
 * `-20250617`), a Vertex `@version`.
 */
const VERSION_SUFFIXES: readonly RegExp[] = [
  /@[a-z0-9._-]+$/,
  /-preview(?:-\d{2}-\d{2}(?:\d{2})?)?$/,
  /-0\d\d$/,
  /-latest$/,
  /-\d{4}-\d{2}-\d{2}$/,
  /-\d{8}$/,
];

/**
 * The conservative normal form of a model name: lowercased, provider prefixes (`models/`,
 * `google/`, `vertex_ai/`, a full Vertex resource path...) removed, then version suffixes removed
 * until none is left. It never cuts a name at an arbitrary point, so `gemini-3.1-pro-ultra` and
 * `gemini-2.0-flash-lite` stay what they are and match no other model.
 */
export function normalizeModelName(name: string): string {
  let result = name.trim().toLowerCase();
  // A full Vertex resource name: projects/p/locations/l/publishers/google/models/<model>.
  const resource =
    /^projects\/[^/]+\/locations\/[^/]+\/publishers\/[^/]+\/models\/(.+)$/.exec(
      result,
    );
  if (resource) result = resource[1];
  for (let stripped = true; stripped;) {
    stripped = false;
    const next = result.replace(PROVIDER_PREFIX, '');
    if (next !== result && next.length) {
      result = next;
      stripped = true;
    }
  }
  for (let stripped = true; stripped;) {
    stripped = false;
    for (const suffix of VERSION_SUFFIXES) {
      const next = result.replace(suffix, '');
      if (next !== result && next.length) {
        result = next;
        stripped = true;
      }
    }
  }
  return result;
}
