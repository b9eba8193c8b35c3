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
 * the cost is computed.
 *
 * @throws LlmCostError when `usageMetadata` is not an object
 */
export function usageFromGemini(usageMetadata: GeminiUsageMetadata): LlmUsage {
  usageObject(usageMetadata, 'usageMetadata');
  return {
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
 * are not added again. A missing count is 0.
 *
 * @throws LlmCostError when `usage` is not an object
 */
export function usageFromOpenAI(usage: OpenAIUsage): LlmUsage {
  usageObject(usage, 'usage');
  return {
    inputTokens: usage.prompt_tokens ?? usage.input_tokens ?? 0,
    cachedInputTokens:
      usage.prompt_tokens_details?.cached_tokens ??
      usage.input_tokens_details?.cached_tokens ??
      0,
    outputTokens: usage.completion_tokens ?? usage.output_tokens ?? 0,
  };
}
