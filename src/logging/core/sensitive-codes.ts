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

/** Codes of letters and digits, as written (letters and digits around do not hide them). */
export const PAN = /[a-z]{3}[abcfghjlpt][a-z]\d{4}[a-z]/g;
export const TAN = /[a-z]{4}\d{5}[a-z]/g;
const PAN_ANYWHERE = new RegExp(PAN.source);
const LOOSE_ID =
  /[a-z]{3}[abcfghjlpt][a-z]\d{4}[a-z]|[a-z]{4}\d{5}[a-z]|\d{10}/;
const ID_DIGITS = /\d+(?:-\d+)*/g;
const HEX_PAN = /(?<![a-f])[a-f]{3}[abcf][a-f]\d{4}[a-f](?![a-f])/;
export const GSTIN = /\d{2}[a-z]{5}\d{4}[a-z][a-z0-9]z[a-z0-9]/g;
/** Four letters before `0` and six letters or digits: an IFSC when the letters are a bank's. */
export const IFSC = /[a-z]{4}(?=0[a-z0-9]{6})/g;
export const BANK_CODES = new Set(BANKS.split('|'));

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

/**
 * Reports the codes (PAN, TAN, GSTIN, IFSC) written across a word's separators (`xABCP_E123_4F`,
 * `MUMA-1234-5B`, `kABC:PE1:234:F`): looked for with the separators taken out, and taken when
 * the code ends where a part of the word ends, so `final_2024_v2` is not `final2024v`.
 */
export function squeezedCodes(s: string, found: Found): boolean {
  let squeezed = '';
  const at: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (WORD_SEPARATOR.test(s[i])) continue;
    squeezed += s[i];
    at.push(i);
  }
  if (squeezed.length === s.length) return false;
  const codes: [SensitiveKind, RegExp][] = [
    ['gstin', GSTIN],
    ['pan', PAN],
    ['tan', TAN],
    ['ifsc', IFSC],
  ];
  for (const [kind, pattern] of codes) {
    const stop = every(pattern, squeezed, (m) => {
      const length = kind === 'ifsc' ? 11 : m[0].length;
      if (kind === 'ifsc' && !BANK_CODES.has(m[0])) return false;
      if (kind === 'gstin' && !gstinChecks(m[0])) return false;
      const start = at[m.index];
      const last = at[m.index + length - 1];
      const split = last - start + 1 > length;
      const next = s[last + 1];
      const ends = next === undefined || !/[a-z0-9]/.test(next);
      return (
        split &&
        ends &&
        spacedAsWritten(s.slice(start, last + 1), kind) &&
        found(kind, start, last + 1)
      );
    });
    if (stop) return true;
  }
  return false;
}

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
  if ((declaredKind ? PAN_ANYWHERE : HEX_PAN).test(flat)) return whole('pan');
  if (every(GSTIN, flat, (m) => gstinChecks(m[0]))) return whole('gstin');
  if (every(IFSC, flat, (m) => BANK_CODES.has(m[0]))) return whole('ifsc');
  return every(ID_DIGITS, token, (match) => {
    const groups = match[0].split('-');
    const digits = groups.join('');
    const kind = declaredKind
      ? identityInWindows(digits)
      : identityInGroups(groups, false);
    if (kind !== null) return whole(kind);
    return digits.length >= 20 && whole('long_number');
  });
}
