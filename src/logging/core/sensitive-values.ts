/**
 * Detectors of financial and identity data inside short strings: the second line of the metadata
 * policy (inside declared identifiers, request ids, error classes) and the redaction of free text
 * (the error messages of failed LLM calls).
 *
 * Every detector works on the {@link canonicalText} of its input: Unicode compatibility forms
 * folded (full-width `ＡＢＣ１２３` is `ABC123`), every Unicode decimal digit read as its ASCII digit
 * (`२३४५` is `2345`), invisible format characters removed, lowercase. So case, full-width forms,
 * other scripts' digits and zero-width joiners do not hide a number.
 *
 * @module
 */

/** What a detector found. */
export type SensitiveKind =
  'pan' | 'tan' | 'gstin' | 'ifsc' | 'long_number' | 'email' | 'amount';

/** ASCII digit of each Unicode decimal digit (`\p{Nd}`) that is not ASCII already. */
const DIGITS = new Map<string, string>();
{
  const nd = /\p{Nd}/u;
  let run = 0;
  let previous = -2;
  for (let cp = 0x80; cp <= 0x1fbff; cp++) {
    const char = String.fromCodePoint(cp);
    if (!nd.test(char)) continue;
    // Unicode lays decimal digits out in runs of ten, zero first.
    run = cp === previous + 1 ? run + 1 : 0;
    previous = cp;
    DIGITS.set(char, String(run % 10));
  }
}

const FORMAT_CHARACTERS = /[\p{Cf}\u034f\u180b-\u180d\ufe00-\ufe0f]/gu;
const NON_ASCII_DIGIT = /\p{Nd}/gu;

/**
 * `text` folded for detection: NFKC, Unicode digits as ASCII digits, format characters removed,
 * lowercase.
 */
export function canonicalText(text: string): string {
  let folded = text.normalize('NFKC').replace(FORMAT_CHARACTERS, '');
  if (/[^\p{ASCII}]/u.test(folded)) {
    folded = folded.replace(NON_ASCII_DIGIT, (d) => DIGITS.get(d) ?? d);
  }
  return folded.toLowerCase();
}

/** One separator between two parts of a number: space, dot, dash, slash, underscore, colon. */
const SEP = String.raw`[\s._:/,\u2010-\u2015\u2212-]?`;
/** Digits with at most one separator between two of them, `count` digits or more. */
const digitRun = (count: number) => `\\d(?:${SEP}\\d){${count - 1},}`;

/**
 * The detectors, in the order they are tried. Letters and digits around a match do not hide it
 * (`refabcpe1234f`, `x234567890123y`), except where noted.
 */
const DETECTORS: readonly [SensitiveKind, RegExp][] = [
  // GSTIN: state code, the PAN, entity number, Z, check character.
  ['gstin', /\d{2}[a-z]{5}\d{4}[a-z][a-z0-9]z[a-z0-9]/],
  // PAN: the fourth letter is the holder's type (person, company, firm, trust, ...).
  ['pan', /[a-z]{3}[abcfghjlpt][a-z]\d{4}[a-z]/],
  ['tan', /[a-z]{4}\d{5}[a-z]/],
  // IFSC: bank code, 0, branch code; embedded, the branch code holds a digit.
  [
    'ifsc',
    /(?:^|[^a-z])[a-z]{4}0[a-z0-9]{6}(?![a-z0-9])|[a-z]{4}0(?=[a-z0-9]{0,5}\d)[a-z0-9]{6}/,
  ],
  // Email: any @ joined to a word, however the address around it is cut up.
  ['email', /[^\s@]@|@[^\s@]/],
  // Card numbers (13-19 digits), Aadhaar (12), bank accounts (9-18), phones (10, +91 ...):
  // nine digits or more, whatever separates them.
  ['long_number', new RegExp(digitRun(9))],
  // Six digits in a row: an amount (150000), a PIN code, an OTP, part of a longer number.
  ['long_number', /\d{6}/],
  // An amount with its currency or its unit, either side: INR15000, rs.2500, 15000inr, 4.2crore,
  // 12 lakh, $500, ₹1,25,000.
  [
    'amount',
    new RegExp(
      String.raw`(?:^|[^a-z])(?:inr|rs|usd|eur|gbp|rupees?)${SEP}\d|\d${SEP}(?:inr|rs|usd|eur|gbp|rupees?|lakhs?|lacs?|crores?|cr)(?![a-z])|[₹$€£]\s?\d|\d\s?[₹$€£]`,
    ),
  ],
  // Amounts written with grouping: 1,25,000 or 12,50,000.00 or 150,000.
  ['amount', /\d{1,3}(?:,\d{2,3}){1,}(?:\.\d+)?/],
];

/** Separators a code may be written with: `ABCPE-1234-F`, `HDFC.0001.234`. */
const SEPARATORS = /[\s._:/,\u2010-\u2015\u2212-]+/g;
/** The detectors of codes of letters and digits, tried again with the separators taken out. */
const CODES = new Set<SensitiveKind>(['gstin', 'pan', 'tan', 'ifsc']);

/**
 * The kind of financial or identity data `text` holds, or null. Codes (PAN, TAN, GSTIN, IFSC) are
 * also looked for with separators taken out, so `MUMA-1234-5B` is a TAN.
 */
export function detectSensitive(text: string): SensitiveKind | null {
  const canonical = canonicalText(text);
  for (const [kind, pattern] of DETECTORS) {
    if (pattern.test(canonical)) return kind;
  }
  const squeezed = canonical.replace(SEPARATORS, '');
  if (squeezed === canonical) return null;
  for (const [kind, pattern] of DETECTORS) {
    if (CODES.has(kind) && pattern.test(squeezed)) return kind;
  }
  return null;
}

const REDACTED = '[REDACTED]';

/**
 * `text` with every stretch a detector catches replaced by `[REDACTED]`. The stretches are found
 * on the canonical form of each word (runs of non-space characters), and a word holding one is
 * replaced whole; a number split over several words (`2345 6789 0123`) is replaced whole too.
 */
export function redactSensitive(text: string): string {
  const words = text.split(/(\s+)/);
  const out: string[] = [];
  // A window of consecutive words catches numbers written with spaces.
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (/^\s+$/.test(word) || word === '') {
      out.push(word);
      continue;
    }
    let end = i;
    let joined = word;
    let caught = detectSensitive(word) !== null;
    // Join the following words while they continue a number.
    for (let j = i + 2; !caught && j < words.length && j <= i + 10; j += 2) {
      joined += ' ' + words[j];
      if (!/\p{Nd}/u.test(canonicalText(words[j]))) break;
      if (detectSensitive(joined) !== null) {
        caught = true;
        end = j;
      }
    }
    if (!caught) {
      out.push(word);
      continue;
    }
    out.push(REDACTED);
    i = end;
  }
  return out.join('');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i;

/** Whether `value` is a UUID (any version, any case). */
export const isUuidText = (value: string): boolean =>
  value.length === 36 && UUID.test(value);

/** Whether `value` is a ULID (26 characters of Crockford's base 32). */
export const isUlidText = (value: string): boolean =>
  value.length === 26 && ULID.test(value);

/**
 * Whether a UUID or ULID hides an identity number: a PAN, TAN, GSTIN or IFSC shape anywhere, or a
 * group of twelve digits (an Aadhaar or account number) where a UUID's groups put one (the last
 * group, or the first two, or the middle three), or twelve digits in a row in a ULID. Random ids
 * trip this about once in a hundred; the caller replaces those, it does not refuse them.
 */
export function idHidesNumber(value: string): boolean {
  const flat = value.replace(/-/g, '').toLowerCase();
  if (/[a-z]{3}[abcfghjlpt][a-z]\d{4}[a-z]|[a-z]{4}\d{5}[a-z]/.test(flat)) {
    return true;
  }
  if (/\d{2}[a-z]{5}\d{4}|[a-z]{4}0\d{6}/.test(flat)) return true;
  if (value.length === 36) {
    return [0, 8, 20].some((at) => /^\d{12}$/.test(flat.slice(at, at + 12)));
  }
  return /\d{12}/.test(flat);
}

/** Luhn's check, which every card number passes. */
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
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
function verhoeff(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    c = VERHOEFF_D[c][VERHOEFF_P[i % 8][Number(digits[digits.length - 1 - i])]];
  }
  return c === 0;
}

/**
 * Whether the digits of a sequence of counts, joined, spell a card number (13-19 digits passing
 * Luhn's check) or an Aadhaar number (12 digits passing Verhoeff's): a number split over the
 * elements of an array. Shorter or unchecked joins are not refused; declared maxima bound them.
 */
export function spellsIdentityNumber(counts: readonly number[]): boolean {
  const digits = counts.join('');
  if (!/^\d+$/.test(digits)) return false;
  if (digits.length === 12 && verhoeff(digits)) return true;
  return digits.length >= 13 && digits.length <= 19 && luhn(digits);
}

/** UUIDs and ULIDs inside a text, read as ids. */
const IDS_IN_TEXT =
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-7][0-9a-hjkmnp-tv-z]{25}\b/gi;

/**
 * The kind of identity data `text` holds, or null: a PAN, TAN, GSTIN or IFSC (separators taken out
 * too), an e-mail, or digits that a checksum or a structure says are an identity number (an
 * Aadhaar number by Verhoeff's check, a card number by Luhn's, an Indian mobile number). Amounts
 * are not its concern, and neither are digit runs nothing tells apart from an order number: it
 * judges references (`action`, `entity_type`, idempotency keys), which hold such numbers. A UUID or
 * ULID in `text` counts only when it hides an identity number ({@link idHidesNumber}).
 */
export function detectIdentity(text: string): SensitiveKind | null {
  const ids = text.replace(IDS_IN_TEXT, (id) => (idHidesNumber(id) ? id : ' '));
  const canonical = canonicalText(ids);
  const squeezed = canonical.replace(SEPARATORS, '');
  for (const [kind, pattern] of DETECTORS) {
    if (kind === 'email' && pattern.test(canonical)) return kind;
    if (
      CODES.has(kind) &&
      (pattern.test(canonical) || pattern.test(squeezed))
    ) {
      return kind;
    }
  }
  for (const run of canonical.match(new RegExp(digitRun(10), 'g')) ?? []) {
    const digits = run.replace(/\D/g, '');
    if (digits.length === 12 && verhoeff(digits)) return 'long_number';
    if (digits.length >= 13 && digits.length <= 19 && luhn(digits)) {
      return 'long_number';
    }
    // an Indian mobile number, alone or after 91 or 0
    if (/^(?:91|0)?[6-9]\d{9}$/.test(digits)) return 'long_number';
  }
  return null;
}
