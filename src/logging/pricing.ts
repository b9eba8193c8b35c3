/**
 * `@cma/logging/pricing`: the built-in price table of LLM models and the exact cost arithmetic
 * behind `LlmUsageService.track()` and `ModelPricingService.cost()`, for hosts that price calls
 * themselves or show the table.
 *
 * @packageDocumentation
 */
export {
  GEMINI_PRICING_SOURCE,
  LONG_CONTEXT_THRESHOLD,
  MODEL_ALIASES,
  MODEL_PRICES,
  type ModelPrice,
  normalizeModelName,
  PRICES_CHECKED_ON,
  type PriceTier,
  type TokenPrices,
} from './llm-usage/price-table.constants.js';
export {
  computeCostUsd,
  costMicros,
  formatMicros,
  type LlmUsage,
  parsePrice,
  PRICE_FRACTION_DIGITS,
} from './llm-usage/cost.js';
export type {
  PricingOptions,
  ResolvedModelPrice,
} from './llm-usage/model-pricing.service.js';
export type {
  GeminiUsageMetadata,
  OpenAIUsage,
} from './llm-usage/provider-usage.js';
