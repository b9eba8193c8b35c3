import { type LlmUsage, LlmCostError } from './cost.js';

/** The token counts of a Gemini response (`response.usageMetadata`), the fields read. */
export interface GeminiUsageMetadata {
  promptTokenCount?: number | null;
  cachedContentTokenCount?: number | null;
  candidatesTokenCount?: number | null;
  thoughtsTokenCount?: number | null;
}

/** The token counts of an OpenAI-style response (`response.usage`): Chat Completions or Responses. */
export interface OpenAIUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  input_tokens_details?: { cached_tokens?: number | null } | null;
}

const responseModel = (model: unknown): Pick<LlmUsage, 'responseModel'> =>
  typeof model === 'string' && model !== '' ? { responseModel: model } : {};

function usageObject(value: unknown, field: string): void {
  if (typeof value !== 'object' || value === null) {
    throw new LlmCostError(
      field,
      'isObject',
      `${field} must be the usage object of a response`,
    );
  }
}

/**
 * The usage of a Gemini response: `promptTokenCount` → input (cached tokens are counted inside
 * it), `cachedContentTokenCount` → cached input, `candidatesTokenCount + thoughtsTokenCount` →
 * output (thinking tokens are billed as output). A missing count is 0; the counts are checked when
 * the cost is computed. `modelVersion` (the response's), when given, is the model that answered.
 *
 * @throws LlmCostError when `usageMetadata` is not an object
 * @example usageFromGemini(response.usageMetadata, response.modelVersion)
 */
export function usageFromGemini(
  usageMetadata: GeminiUsageMetadata,
  modelVersion?: string | null,
): LlmUsage {
  usageObject(usageMetadata, 'usageMetadata');
  return {
    ...responseModel(modelVersion),
    inputTokens: usageMetadata.promptTokenCount ?? 0,
    cachedInputTokens: usageMetadata.cachedContentTokenCount ?? 0,
    outputTokens:
      (usageMetadata.candidatesTokenCount ?? 0) +
      (usageMetadata.thoughtsTokenCount ?? 0),
  };
}

/**
 * The usage of an OpenAI-style response: `prompt_tokens` (or `input_tokens`) → input,
 * `prompt_tokens_details.cached_tokens` (or `input_tokens_details.cached_tokens`) → cached input,
 * `completion_tokens` (or `output_tokens`) → output; both already include reasoning tokens, which
 * are not added again. A missing count is 0. `model` (the response's), when given, is the model
 * that answered.
 *
 * @throws LlmCostError when `usage` is not an object
 * @example usageFromOpenAI(response.usage, response.model)
 */
export function usageFromOpenAI(
  usage: OpenAIUsage,
  model?: string | null,
): LlmUsage {
  usageObject(usage, 'usage');
  return {
    ...responseModel(model),
    inputTokens: usage.prompt_tokens ?? usage.input_tokens ?? 0,
    cachedInputTokens:
      usage.prompt_tokens_details?.cached_tokens ??
      usage.input_tokens_details?.cached_tokens ??
      0,
    outputTokens: usage.completion_tokens ?? usage.output_tokens ?? 0,
  };
}
