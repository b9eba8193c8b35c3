/**
 * What the detectors report, and the loop they share.
 *
 * @module
 */

/** What a detector found. */
export type SensitiveKind =
  | 'pan'
  | 'tan'
  | 'gstin'
  | 'ifsc'
  | 'aadhaar'
  | 'card'
  | 'phone'
  | 'long_number'
  | 'email'
  | 'amount';

/** How a text is read: `identifier` (no whitespace expected) or `text` (free text). */
export type ScanMode = 'identifier' | 'text';

/** Reports a finding; returns true to stop the scan. */
export type Found = (
  kind: SensitiveKind,
  start: number,
  end: number,
) => boolean;

/** Calls `each` with every match of the global `pattern` in `text` until it returns true. */
export function every(
  pattern: RegExp,
  text: string,
  each: (match: RegExpExecArray) => boolean,
): boolean {
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    if (each(match)) return true;
    if (match[0].length === 0) pattern.lastIndex++;
  }
  return false;
}

/** A separator inside a number or a code: space, dot, dash, slash, underscore, colon, comma. */
export const SEP = String.raw`[\s._:/,'\u2010-\u2015\u2212-]`;
