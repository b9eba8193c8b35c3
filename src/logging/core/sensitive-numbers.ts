/**
 * Identity numbers told apart by their checksums and structure (Aadhaar's Verhoeff digit, card
 * numbers' Luhn digit and issuer prefixes, Indian mobile numbers, the GSTIN's check character), and
 * the shapes of innocent digit runs (dates, times, IPv4 addresses) that the length rules leave be.
 *
 * @module
 */

/** Luhn's check, which every card number passes. */
export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

const VERHOEFF_D = [
  '0123456789',
  '1234067895',
  '2340178956',
  '3401289567',
  '4012395678',
  '5987604321',
  '6598710432',
  '7659821043',
  '8765932104',
  '9876543210',
].map((row) => [...row].map(Number));
const VERHOEFF_P = [
  '0123456789',
  '1576283094',
  '5803796142',
  '8916043527',
  '9453126870',
  '4286573901',
  '2793806415',
  '7046913258',
].map((row) => [...row].map(Number));

/** Verhoeff's check, which every Aadhaar number passes. */
export function verhoeff(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    c = VERHOEFF_D[c][VERHOEFF_P[i % 8][d]];
  }
  return c === 0;
}

/**
 * Card issuers' prefixes (Visa, Mastercard, American Express, Diners, JCB, Discover, RuPay,
 * Maestro): a Luhn-valid run without one is not taken for a card.
 */
const CARD_PREFIX =
  /^(?:4|5[0-9]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[0-9]|6|8[12])/;

/** An identity number a digit string is, exactly: its length, checksum and prefix all fit. */
export type IdentityNumberKind = 'aadhaar' | 'card' | 'phone';

/**
 * What `digits` is, judged on its checksum and structure: an Aadhaar number (12 digits, not
 * starting with 0 or 1, Verhoeff), a card number (13 to 19 digits, an issuer's prefix, Luhn), an
 * Indian mobile number (10 digits starting with 6 to 9, alone or after `0`, `91` or `091`).
 */
export function identityNumber(
  digits: string,
  phones = true,
): IdentityNumberKind | null {
  const n = digits.length;
  if (n < 10 || n > 19) return null;
  if (!phones && n < 12) return null;
  if (n === 12 && digits[0] >= '2' && verhoeff(digits)) return 'aadhaar';
  if (n >= 13 && CARD_PREFIX.test(digits) && luhn(digits)) return 'card';
  const mobile =
    n === 10 ? digits : n === 11 && digits[0] === '0' ? digits.slice(1) : '';
  const prefixed =
    n === 12 && digits.startsWith('91')
      ? digits.slice(2)
      : n === 13 && digits.startsWith('091')
        ? digits.slice(3)
        : '';
  const local = mobile || prefixed;
  return phones && local !== '' && local[0] >= '6' ? 'phone' : null;
}

/**
 * The identity number spelled by consecutive groups of `groups` (each group a run of digits, in
 * the order written), whole or any stretch of consecutive groups: `['2345', '6789', '0123']`,
 * `['91', '98765', '43210']`. Mobile numbers only when `phones`.
 */
export function identityInGroups(
  groups: readonly string[],
  phones = true,
): IdentityNumberKind | null {
  for (let i = 0; i < groups.length; i++) {
    let digits = '';
    for (let j = i; j < groups.length; j++) {
      digits += groups[j];
      if (digits.length > 19) break;
      const kind = identityNumber(digits, phones);
      if (kind !== null) return kind;
    }
  }
  return null;
}

/**
 * The Aadhaar or card number in any window of `digits` (12 digits for an Aadhaar number, 13 to 19
 * for a card), wherever it starts: a number hidden among other digits. Mobile numbers are not
 * looked for: one window of ten digits in four starts with 6 to 9.
 */
export function identityInWindows(digits: string): IdentityNumberKind | null {
  for (let length = 12; length <= Math.min(19, digits.length); length++) {
    for (let start = 0; start + length <= digits.length; start++) {
      const kind = identityNumber(digits.slice(start, start + length), false);
      if (kind !== null) return kind;
    }
  }
  return null;
}

const GSTIN_CHARS = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Whether a 15-character GSTIN (lowercase) carries its check character (mod 36, weights 1 and 2). */
export function gstinChecks(gstin: string): boolean {
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    const value = GSTIN_CHARS.indexOf(gstin[i]);
    if (value < 0) return false;
    const product = value * (i % 2 === 0 ? 1 : 2);
    sum += Math.floor(product / 36) + (product % 36);
  }
  return GSTIN_CHARS[(36 - (sum % 36)) % 36] === gstin[14];
}

const inRange = (text: string, low: number, high: number) => {
  const value = Number(text);
  return text.length > 0 && value >= low && value <= high;
};

/** Whether `text` is a date written `YYYYMMDD` (1970 to 2099). */
export function isCompactDate(text: string): boolean {
  return (
    text.length === 8 &&
    inRange(text.slice(0, 4), 1970, 2099) &&
    inRange(text.slice(4, 6), 1, 12) &&
    inRange(text.slice(6, 8), 1, 31)
  );
}

/** Whether `text` is a time written `hhmm` or `hhmmss`. */
function isCompactTime(text: string): boolean {
  return (
    (text.length === 4 || text.length === 6) &&
    inRange(text.slice(0, 2), 0, 23) &&
    inRange(text.slice(2, 4), 0, 59) &&
    (text.length === 4 || inRange(text.slice(4, 6), 0, 59))
  );
}

/**
 * How many leading groups of `groups` spell a date: `YYYYMMDD` (1), `YYYY MM DD` (3) or
 * `DD MM YYYY` (3), or 0.
 */
export function dateGroups(groups: readonly string[]): number {
  const [a, b, c] = groups;
  if (a !== undefined && isCompactDate(a)) return 1;
  if (c === undefined || b.length > 2 || b.length === 0) return 0;
  if (a.length === 4 && c.length <= 2) {
    return inRange(a, 1970, 2099) && inRange(b, 1, 12) && inRange(c, 1, 31)
      ? 3
      : 0;
  }
  if (a.length <= 2 && c.length === 4) {
    return inRange(a, 1, 31) && inRange(b, 1, 12) && inRange(c, 1970, 2099)
      ? 3
      : 0;
  }
  return 0;
}

/** Whether `text` is a time since 1970 from 2017 to 2039, in seconds (10 digits) or milliseconds (13). */
export function isEpochTime(text: string): boolean {
  return /^(?:1[5-9]|2[01])\d{8}(?:\d{3})?$/.test(text);
}

/**
 * How many leading groups of `groups` are a date or a time since 1970 (see {@link dateGroups},
 * {@link isEpochTime}), or 0.
 */
export function timeGroups(groups: readonly string[]): number {
  return groups.length > 0 && isEpochTime(groups[0]) ? 1 : dateGroups(groups);
}

/**
 * Whether the digit groups `groups` are a date and time: a date (see {@link dateGroups}) followed
 * by nothing, by a time (`hhmm`, `hhmmss`, or `hh mm [ss [fraction]]`), or, in identifiers
 * (`sequence`), a date or a time since 1970 followed by groups of at most 10 digits each:
 * `batch_20260415_0001`, `IMG_20240415_103000`, `gen-1720703711-1`.
 */
export function isDateTime(
  groups: readonly string[],
  sequence: boolean,
): boolean {
  const date = sequence ? timeGroups(groups) : dateGroups(groups);
  if (date === 0) return false;
  const rest = groups.slice(date);
  if (rest.length === 0) return true;
  if (sequence) return rest.every((g) => g.length <= 10);
  if (rest.length === 1) return isCompactTime(rest[0]);
  const [h, m, s, fraction] = rest;
  return (
    rest.length <= 4 &&
    h.length <= 2 &&
    inRange(h, 0, 23) &&
    m.length === 2 &&
    inRange(m, 0, 59) &&
    (s === undefined || (s.length === 2 && inRange(s, 0, 60))) &&
    (fraction === undefined || fraction.length <= 9)
  );
}

/** Whether the groups, separated by dots, are an IPv4 address. */
export function isIpv4(groups: readonly string[], separators: string): boolean {
  return (
    groups.length === 4 &&
    /^\.{3}$/.test(separators) &&
    groups.every((g) => g.length <= 3 && Number(g) <= 255)
  );
}
