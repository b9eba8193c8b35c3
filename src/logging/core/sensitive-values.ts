/**
 * Detectors of financial and identity data inside short strings: the second line of the metadata
 * policy (inside declared identifiers, request ids, error classes, keys), and, through
 * `free-text.ts`, the redaction of free text (the error messages of failed LLM calls).
 *
 * Every detector works on the canonical form of its input (`sensitive-text.ts`): Unicode
 * compatibility forms folded (full-width `ＡＢＣ１２３` is `ABC123`), every Unicode decimal digit read
 * as its ASCII digit (`२३४५` is `2345`), look-alike letters of other scripts read as Latin, marks
 * and invisible format characters removed, lowercase; percent-escapes decoded; base64 and hex
 * tokens decoded where they hide printable text. The rules, and which way each leans, are in
 * docs/metadata-policy.md ("Detectors").
 *
 * @module
 */
import { firstKind, idKind, type SensitiveKind } from './sensitive-scan.js';
import { identityNumber } from './sensitive-numbers.js';

export type { SensitiveKind } from './sensitive-scan.js';
export { canonicalText } from './sensitive-text.js';
export { redactSensitive } from './free-text.js';

/** The kinds of {@link SensitiveKind} that are identity data, not amounts. */
export type IdentityKind = Exclude<SensitiveKind, 'amount'>;

/**
 * The kind of identity data `text` holds, or null: a PAN, TAN, GSTIN (with its check character) or
 * IFSC, written whole or with separators; an Aadhaar number (Verhoeff), a card number (Luhn and
 * an issuer's prefix) or an Indian mobile number, however its digits are grouped; an account-like
 * run of 11 digits or more that is not a date, a time or a year and its sequence number; an e-mail
 * address, `@` written or spelled out. Identity numbers are also looked for in any position of a
 * UUID, ULID or hex id (by checksum and structure only). Amounts are not looked for.
 *
 * @example
 * detectIdentity('kyc:ABCPE1234F'); // 'pan'
 * detectIdentity('INV-2026-000123'); // null
 */
export function detectIdentity(text: string): IdentityKind | null {
  return firstKind(text, 'identifier', false) as IdentityKind | null;
}

/**
 * The kind of financial or identity data `text` holds, or null: what {@link detectIdentity} finds,
 * and amounts: with a currency (any ISO 4217 code, a symbol, a currency word) or a scale (lakh,
 * crore, million) on either side, glued or not; with paise (`150000.00`); in lakh shorthand
 * (`1.5L`, `2cr`) or scientific notation (`1.5e5`); grouped (`1,50,000`, `150.000`, `1_50_000`);
 * in words (`one_lakh_fifty_thousand`); glued to a money word (`amt150000`).
 */
export function detectSensitive(text: string): SensitiveKind | null {
  return firstKind(text, 'identifier', true);
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
 * Whether a UUID or ULID declared as an identifier hides identity data, in any position: a PAN, a
 * GSTIN with its check character or an IFSC of a known bank anywhere in its characters, an
 * Aadhaar number (Verhoeff) or a card number (Luhn, an issuer's prefix) in a run of its digits or
 * in consecutive groups, or a run of 20 digits or more. Only what a checksum or a structure tells:
 * about one random UUID in 180 trips it, where any run of 10 digits would trip one in 12.
 */
export function idHidesIdentity(value: string): boolean {
  return isUuidText(value) || isUlidText(value)
    ? idKind(value) !== null
    : detectIdentity(value) !== null;
}

/**
 * Whether the digits of a sequence of counts, joined, spell an identity number: a card number
 * (13-19 digits, Luhn, an issuer's prefix), an Aadhaar number (12 digits, Verhoeff) or an Indian
 * mobile number (10 digits from 6, or after 0 or 91): a number split over the elements of an
 * array. Shorter or unchecked joins are not refused; declared maxima bound them.
 */
export function spellsIdentityNumber(counts: readonly number[]): boolean {
  const digits = counts.join('');
  return /^\d+$/.test(digits) && identityNumber(digits) !== null;
}
