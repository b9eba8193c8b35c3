import {
  type Found,
  type ScanMode,
  SEP,
  type SensitiveKind,
  every,
} from './sensitive-kind.js';
import {
  gstinChecks,
  identityInGroups,
  identityInWindows,
} from './sensitive-numbers.js';

/**
 * Codes of letters and digits (PAN, TAN, GSTIN, IFSC), as written, across separators and spaced
 * out, and the identity data hidden in machine ids (UUIDs, ULIDs, hex digests).
 *
 * @module
 */

/**
 * Bank codes of IFSCs (the four letters before the `0`): a code of four letters, a zero and six
 * characters is an IFSC only with one of these, since `file0001234` is a file.
 */
const BANKS =
  'sbin|hdfc|icic|utib|kkbk|punb|barb|cnrb|ubin|ioba|idib|bkid|yesb|indb|fdrl|ibkl|idfb|aubl|bdbl|csbk|cbin|ucba|mahb|psib|kvbl|tmbl|sibl|jaka|karb|dlxb|ratn|dbss|citi|hsbc|scbl|deut|esfb|ujvn|fino|airp|pytm|ipos|ntbl|abhy|svcb|cosb|dcbl|nkgs|tjsb|srcb|rbis|andb|corp|orbc|synb|vijb|apgb|kscb|sbmy|jsfb|nesf|utks|suty|cius|bofa|boti|anzb|barc|bnpa|crly|mhcb|smbc';

const S = `${SEP}{0,3}`;

/** A PAN: the fourth letter is the holder's type (person, company, firm, trust, ...). */
const PAN = /[a-z]{3}[abcfghjlpt][a-z]\d{4}[a-z]/;
const LOOSE_ID =
  /[a-z]{3}[abcfghjlpt][a-z]\d{4}[a-z]|[a-z]{4}\d{5}[a-z]|\d{10}/;
const ID_DIGITS = /\d+(?:-\d+)*/g;
const HEX_PAN = /(?<![a-f])[a-f]{3}[abcf][a-f]\d{4}[a-f](?![a-f])/;
const BANK_CODES = new Set(BANKS.split('|'));

const isLetter = (c: number) => c >= 97 && c <= 122;
const isDigit = (c: number) => c >= 48 && c <= 57;
const HOLDERS = new Set([...'abcfghjlpt'].map((c) => c.charCodeAt(0)));

/** Whether `s` holds letters only from `start` to `end` (and `start` is not before 0). */
function letters(s: string, start: number, end: number): boolean {
  if (start < 0) return false;
  for (let i = start; i < end; i++)
    if (!isLetter(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Calls `each` with every PAN, TAN, GSTIN (with its check character) and IFSC (of a known bank)
 * in the lowercase `s`, letters and digits around them allowed, until it returns true. Found from
 * the runs of digits (a PAN's four digits, a TAN's five, an IFSC's `0`), which is several times
 * cheaper than regular expressions that start with letters.
 */
export function eachCode(
  s: string,
  each: (kind: SensitiveKind, start: number, end: number) => boolean,
): boolean {
  for (let i = 0; i < s.length; i++) {
    if (!isDigit(s.charCodeAt(i))) continue;
    let end = i + 1;
    while (end < s.length && isDigit(s.charCodeAt(end))) end++;
    const length = end - i;
    const after = isLetter(s.charCodeAt(end));
    if (length === 4 && after && letters(s, i - 5, i)) {
      if (HOLDERS.has(s.charCodeAt(i - 2))) {
        const gstin = s.slice(i - 7, i + 8);
        const kind =
          i >= 7 && GSTIN_EXACT.test(gstin) && gstinChecks(gstin)
            ? 'gstin'
            : 'pan';
        const start = kind === 'gstin' ? i - 7 : i - 5;
        if (each(kind, start, kind === 'gstin' ? i + 8 : end + 1)) return true;
      }
    }
    if (length === 5 && after && letters(s, i - 4, i)) {
      if (each('tan', i - 4, end + 1)) return true;
    }
    // an IFSC's 0 starts a run: four letters of a bank before it, six letters or digits after
    if (
      s[i] === '0' &&
      letters(s, i - 4, i) &&
      BANK_CODES.has(s.slice(i - 4, i)) &&
      IFSC_BRANCH.test(s.slice(i + 1, i + 7))
    ) {
      if (each('ifsc', i - 4, i + 7)) return true;
    }
    i = end - 1;
  }
  return false;
}

const GSTIN_EXACT = /^\d{2}[a-z]{5}\d{4}[a-z][a-z0-9]z[a-z0-9]$/;
const IFSC_BRANCH = /^[a-z0-9]{6}$/;

/** The same codes written with separators (`ABCPE 1234 F`, `A.B.C.P.E-1234-F`, `MUMA-1234-5B`). */
export const SPACED_CODES: readonly [SensitiveKind, RegExp][] = [
  [
    'pan',
    new RegExp(
      `[a-z]{3}[abcfghjlpt][a-z](?:${S}\\d){4}${S}[a-z](?![a-z0-9])|(?<![a-z])[a-z](?:${S}[a-z]){2}${S}[abcfghjlpt]${S}[a-z](?:${S}\\d){4}${S}[a-z](?![a-z0-9])`,
      'g',
    ),
  ],
  [
    'tan',
    new RegExp(
      `[a-z]{4}(?:${S}\\d){5}${S}[a-z](?![a-z0-9])|(?<![a-z])[a-z](?:${S}[a-z]){3}(?:${S}\\d){5}${S}[a-z](?![a-z0-9])`,
      'g',
    ),
  ],
  ['ifsc', new RegExp(`(?:${BANKS})${S}0(?:${S}[a-z0-9]){6}(?![a-z0-9])`, 'g')],
];

/**
 * Whether a code matched with separators is written as codes are: its digits in at most two
 * groups (`ABCPE 1234 F`, `MUMA-1234-5B`; an IFSC's in three), or every character apart (`A B C P E 1 2 3 4 F`), not
 * digits cut up as a version is (`llama3-1-405b`).
 */
export function spacedAsWritten(match: string, kind: SensitiveKind): boolean {
  const digits = match.slice(match.search(/\d/), match.search(/\d[^\d]*$/) + 1);
  const gaps = digits.match(/\d[^a-z0-9]+(?=\d)/g)?.length ?? 0;
  // an IFSC's seven digits may be cut in three (HDF:C00:012:34)
  return gaps <= (kind === 'ifsc' ? 2 : 1) || !/\d\d/.test(digits);
}

/** What a word's separators are: taken out when a code is looked for across them. */
const WORD_SEPARATOR = /[._:/,'\u2010-\u2015\u2212-]/;
const WORD_SEPARATORS = new RegExp(WORD_SEPARATOR.source, 'g');

/**
 * Four letters, then a digit: what every code holds (PAN, TAN, GSTIN, IFSC). One alternation of the
 * codes' shapes costs ten times as much as this test and one test of each.
 */
export const CODE_HINT = /[a-z]{4}\d/;

/**
 * Reports the codes (PAN, TAN, GSTIN, IFSC) written across a word's separators (`xABCP_E123_4F`,
 * `MUMA-1234-5B`, `kABC:PE1:234:F`): looked for with the separators taken out, and taken when
 * the code ends where a part of the word ends, so `final_2024_v2` is not `final2024v`.
 */
export function squeezedCodes(s: string, found: Found): boolean {
  const squeezed = s.replace(WORD_SEPARATORS, '');
  if (squeezed.length === s.length || !CODE_HINT.test(squeezed)) return false;
  let at: number[] | undefined;
  return eachCode(squeezed, (kind, from, to) => {
    if (at === undefined) {
      // where each character of `squeezed` stands in `s`
      at = [];
      for (let i = 0; i < s.length; i++) {
        if (!WORD_SEPARATOR.test(s[i])) at.push(i);
      }
    }
    const start = at[from];
    const last = at[to - 1];
    const split = last - start + 1 > to - from;
    const next = s[last + 1];
    const ends = next === undefined || !/[a-z0-9]/.test(next);
    return (
      split &&
      ends &&
      spacedAsWritten(s.slice(start, last + 1), kind) &&
      found(kind, start, last + 1)
    );
  });
}

const UUID_HINT = /[0-9a-f]{8}-[0-9a-f]{4}-/;
const HEX_HINT = /[0-9a-f]{16}/;
const ULID_HINT = /[0-9a-z]{26}/;

/** Whether `s` may hold a machine id: a UUID's first groups, 16 hex digits, 26 letters and digits. */
export const mayHoldId = (s: string): boolean =>
  s.length >= 16 &&
  ((s.includes('-') && UUID_HINT.test(s)) ||
    HEX_HINT.test(s) ||
    (s.length >= 26 && ULID_HINT.test(s)));

/** Ids made by machines: UUIDs, hex strings of 16 or more (hashes), ULIDs. */
export const ID_TOKENS =
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<![a-z0-9])(?=[0-9]*[a-f])[0-9a-f]{16,}(?![a-z0-9])|(?<![a-z0-9])[0-7][0-9a-hjkmnp-tv-z]{25}(?![a-z0-9])/g;

/** The identity numbers and codes hidden in a machine id (see {@link ID_TOKENS}). */
export function scanId(
  token: string,
  at: number,
  mode: ScanMode,
  found: Found,
): boolean {
  const flat = token.replace(/-/g, '');
  const whole = (kind: SensitiveKind) => found(kind, at, at + token.length);
  // in free text an id costs nothing to redact: any PAN or TAN shape, any ten digits in a row
  if (mode === 'text' && LOOSE_ID.test(flat)) return whole('long_number');
  // a UUID or a ULID (the kinds a host declares, which take any value of their shape): a PAN
  // anywhere, an Aadhaar or card number in any window of a run of digits, dashes taken out; a
  // random v4 UUID trips this about 1 time in 80. Other hex (a SHA-1 or SHA-256 digest): a PAN set
  // off from other letters, numbers as its digit groups stand (1 time in 200 for a SHA-1).
  const declaredKind = token.length === 36 || !/^[0-9a-f]+$/.test(token);
  if ((declaredKind ? PAN : HEX_PAN).test(flat)) return whole('pan');
  // a GSTIN holds a PAN, found above; an IFSC of a known bank
  if (eachCode(flat, (kind) => kind === 'ifsc')) return whole('ifsc');
  return every(ID_DIGITS, token, (match) => {
    // an Aadhaar or card number has twelve digits or more
    if (match[0].length < 12) return false;
    const groups = match[0].split('-');
    const digits = groups.join('');
    const kind = declaredKind
      ? identityInWindows(digits)
      : identityInGroups(groups, false);
    if (kind !== null) return whole(kind);
    return digits.length >= 20 && whole('long_number');
  });
}
