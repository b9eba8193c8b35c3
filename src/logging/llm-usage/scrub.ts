import { redactSensitive } from '../core/sensitive-values.js';

/** Longest error message `track()` stores for a failed call. */
export const TRACK_ERROR_MESSAGE_MAX_LENGTH = 500;

/** Only this much of a message is scanned; what lies beyond is cut anyway. */
const SCAN_LENGTH = 10_000;

const REDACTED = '[REDACTED]';

/** Secrets that provider SDK errors are known to carry, each with its replacement. */
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  // Passwords in URLs: scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]+@/gi, `$1:${REDACTED}@`],
  // Authorization headers and bearer tokens
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  // Secret query parameters and key=value / "key": "value" pairs
  [
    /\b((?:api[_-]?key|x-goog-api-key|x-api-key|key|access[_-]?token|refresh[_-]?token|id[_-]?token|token|secret|client[_-]?secret|password|passwd|pwd|sig|signature)["']?\s*[=:]\s*["']?)[^\s&"',;}]+/gi,
    `$1${REDACTED}`,
  ],
  // Google API keys
  [/AIza[0-9A-Za-z_-]{10,}/g, REDACTED],
  // OpenAI, Anthropic and similar keys: sk-..., sk-proj-..., sk-ant-...
  [/\bsk-[A-Za-z0-9_-]{8,}/g, REDACTED],
  // Google OAuth access tokens
  [/\bya29\.[A-Za-z0-9._-]+/g, REDACTED],
  // JWTs
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
];

/** `text` with the secrets it may hold (API keys, tokens, URL passwords) replaced by `[REDACTED]`. */
export function scrubSecrets(text: string): string {
  let result = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) {
    result = result.replace(pattern, replacement);
  }
  return result;
}

/**
 * The message stored for a failed call: the error's name and message, scrubbed of secrets and of
 * financial and identity data (PAN, TAN, GSTIN, IFSC, Aadhaar, account, card and phone numbers,
 * emails, amounts: each word holding one becomes `[REDACTED]`), then cut to
 * {@link TRACK_ERROR_MESSAGE_MAX_LENGTH} characters (scrubbing first, so a cut cannot leave part of
 * a secret unrecognised).
 */
export function describeError(error: unknown): string {
  let text: string;
  try {
    text =
      error instanceof Error
        ? `${error.name}: ${error.message}`
        : typeof error === 'string'
          ? error
          : `thrown value: ${Object.prototype.toString.call(error)}`;
  } catch {
    text = 'an error that could not be described';
  }
  const scrubbed = redactSensitive(scrubSecrets(text.slice(0, SCAN_LENGTH)));
  return scrubbed.length > TRACK_ERROR_MESSAGE_MAX_LENGTH
    ? `${scrubbed.slice(0, TRACK_ERROR_MESSAGE_MAX_LENGTH - 1)}…`
    : scrubbed;
}
