import { scan } from './sensitive-scan.js';
import {
  foldText,
  type MappedText,
  originEnd,
  originStart,
} from './sensitive-text.js';

/**
 * The one scrubber of free text the module stores (the error message of a failed LLM call, from
 * `track()` and from `record({ errorMessage })` alike): secrets first, then every stretch of
 * financial or identity data, found on the canonical form of the text, keeping what diagnosis
 * needs (status codes, error types, model names, durations and counts with their units).
 *
 * @module
 */

/** What a redacted stretch becomes. */
export const REDACTED = '[REDACTED]';

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

/** What ends a segment of free text, the unit a redaction replaces: spaces and JSON punctuation. */
const BOUNDARY = /[\s"'`{}[\]()<>,;=|:]/;

/** `mapped` with every occurrence of the terms in `keep` (lowercase) hidden from the detectors. */
function hide(mapped: MappedText, keep: readonly string[]): MappedText {
  let { text, cased } = mapped;
  for (const term of keep) {
    if (term.length < 3) continue;
    for (
      let at = text.indexOf(term);
      at >= 0;
      at = text.indexOf(term, at + 1)
    ) {
      const end = at + term.length;
      if (
        /[a-z0-9]/.test(text[at - 1] ?? '') ||
        /[a-z0-9]/.test(text[end] ?? '')
      ) {
        continue;
      }
      const blank = '\u0001'.repeat(term.length);
      text = text.slice(0, at) + blank + text.slice(end);
      cased = cased.slice(0, at) + blank + cased.slice(end);
    }
  }
  return { ...mapped, text, cased };
}

/**
 * `text` with every stretch of financial or identity data replaced by `[REDACTED]`: each stretch a
 * detector finds on the canonical form (look-alike letters, Unicode digits, percent-escapes and
 * base64 or hex tokens decoded) is widened to the whole segment holding it (a run of characters
 * between spaces and JSON punctuation), so no part of a number survives, and a number written
 * over several words (`2345 6789 0123`) is replaced whole. The terms of `keep` (model names) are
 * never taken for data.
 */
export function redactSensitive(
  text: string,
  keep: readonly string[] = [],
): string {
  let mapped = foldText(text);
  if (keep.length > 0) mapped = hide(mapped, keep);
  const spans: [number, number][] = [];
  scan(mapped, 'text', true, (_kind, start, end, from) => {
    spans.push([originStart(from, start), originEnd(from, end - 1)]);
    return false;
  });
  if (spans.length === 0) return text;
  for (const span of spans) {
    while (span[0] > 0 && !BOUNDARY.test(text[span[0] - 1])) span[0]--;
    while (span[1] < text.length && !BOUNDARY.test(text[span[1]])) span[1]++;
  }
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let last = 0;
  for (let i = 0; i < spans.length; i++) {
    const start = spans[i][0];
    let end = spans[i][1];
    while (i + 1 < spans.length && spans[i + 1][0] <= end) {
      end = Math.max(end, spans[++i][1]);
    }
    out += text.slice(last, start) + REDACTED;
    last = end;
  }
  return out + text.slice(last);
}

/** Only this much of a text is scrubbed; what lies beyond is cut anyway. */
const SCAN_LENGTH = 10_000;

/**
 * The text the module stores for free text (an error message): secrets scrubbed, then financial
 * and identity data redacted ({@link redactSensitive}, the model names of `keep` kept), then cut to
 * `maxLength` characters, the last one `…` (scrubbing first, so a cut cannot leave part of a
 * secret unrecognised). The same input always gives the same text, whichever path stores it.
 */
export function scrubFreeText(
  text: string,
  maxLength: number,
  keep: readonly string[] = [],
): string {
  const scrubbed = redactSensitive(
    scrubSecrets(text.slice(0, SCAN_LENGTH)),
    keep,
  );
  return scrubbed.length > maxLength
    ? `${scrubbed.slice(0, maxLength - 1)}…`
    : scrubbed;
}
