import { scrubFreeText, scrubSecrets } from '../core/free-text.js';
import { ERROR_MESSAGE_MAX_LENGTH } from './llm-usage-entry.dto.js';
import { MODEL_PRICES } from './price-table.constants.js';

export { scrubSecrets };

/** Longest error message a span of a failed tracked call carries (`captureErrorMessages`). */
export const TRACK_ERROR_MESSAGE_MAX_LENGTH = 500;

/** The model names of the built-in price table: never taken for data in an error message. */
const PRICED_MODELS: readonly string[] = Object.keys(MODEL_PRICES).map((m) =>
  m.toLowerCase(),
);

/** The text of a thrown value, unscrubbed: the error's name and message, or the string thrown. */
export function errorText(error: unknown): string {
  try {
    return error instanceof Error
      ? `${error.name}: ${error.message}`
      : typeof error === 'string'
        ? error
        : `thrown value: ${Object.prototype.toString.call(error)}`;
  } catch {
    return 'an error that could not be described';
  }
}

/**
 * The error message stored in `llm_usage_log.error_message`, whichever path writes it (`track()`
 * and `record({ errorMessage })` alike): secrets scrubbed, financial and identity data redacted
 * (each segment holding some becomes `[REDACTED]`; status codes, error types, model names and
 * durations with their units are kept), cut to {@link ERROR_MESSAGE_MAX_LENGTH} characters.
 * `model`, the row's model, is kept as the price table's names are.
 */
export function storedErrorMessage(text: string, model?: string): string {
  const keep =
    typeof model === 'string' && model !== ''
      ? [model.toLowerCase(), ...PRICED_MODELS]
      : PRICED_MODELS;
  return scrubFreeText(text, ERROR_MESSAGE_MAX_LENGTH, keep);
}

/**
 * The message a span of a failed call carries: {@link errorText} scrubbed as stored, cut to
 * {@link TRACK_ERROR_MESSAGE_MAX_LENGTH} characters.
 */
export function describeError(error: unknown): string {
  return scrubFreeText(
    errorText(error),
    TRACK_ERROR_MESSAGE_MAX_LENGTH,
    PRICED_MODELS,
  );
}
