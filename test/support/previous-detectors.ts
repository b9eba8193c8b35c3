/**
 * The detectors of the previous release, kept for the corpora's controls: run against them, the
 * leak corpus must find what they stored and the innocent corpus what they refused. Canonical
 * text (NFKC, Unicode digits, format characters, lowercase), a list of regular expressions (six
 * digits in a row refused), redaction of free text word by word, ended by the first match.
 */

/** What a detector found. */
type SensitiveKind =
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
function canonicalText(text: string): string {
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
