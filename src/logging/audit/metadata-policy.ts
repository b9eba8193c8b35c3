import { isIntegerIn, optionCheck } from '../core/option-check.js';
import { METADATA_POLICY_MAX_BYTES } from './audit-log-entry.dto.js';

/**
 * The metadata policy: what may be stored in `audit_log.metadata`.
 *
 * The audit trail holds references and counts, never financial or identity data (PAN, GSTIN,
 * Aadhaar, TAN, bank account numbers, IFSC codes, amounts, balances, names, contact details). The
 * policy denies by default: only the shapes below pass, everything else is dropped and reported as
 * a {@link MetadataDrop} (or, in strict mode, refused with {@link AuditMetadataError}).
 *
 * - **Keys** are identifiers, `/^[A-Za-z][A-Za-z0-9_]{0,63}$/` (so never `__proto__`), other than
 *   `constructor` and `prototype` (`invalid_key`); that do not look like an identity number (`identity_number`, as
 *   for string values below); and that hold no word of {@link DENIED_KEY_WORDS} or of the
 *   `deniedKeys` option (`denied_key`; the value is not looked at).
 * - **Values** are `true`, `false`, `null`; counts: safe integers from 0 to `maxCount`
 *   (`not_a_count`); UUIDs; short identifiers: a letter, then letters, digits and `_ . : -`, at
 *   most `maxStringLength` characters (`not_an_identifier`: free text, emails, numbers written as
 *   strings, amounts such as `INR15000`), and not an identity number (`identity_number`); arrays
 *   of at most `maxArrayLength` such values (`array_too_long`); plain objects of such keys and
 *   values, nested at most `maxDepth` deep (`too_deep`). Anything else (BigInt, functions,
 *   symbols, Dates, Buffers, class instances, ...) is `unsupported_type`. `undefined` values are
 *   left out without a report, as `JSON.stringify` does.
 * - **Size**: the JSON text of the result is at most `maxBytes` bytes; top-level keys are dropped
 *   from the last one back until it fits (`too_large`).
 *
 * @module
 */

/** Options of the metadata policy, `LoggingModule.forRoot({ audit: { metadataPolicy: {...} } })`. */
export interface MetadataPolicyOptions {
  /**
   * Refuse metadata the policy would trim, with {@link AuditMetadataError}, instead of dropping the
   * values and storing the rest. Default: `false`.
   */
  strict?: boolean;
  /** Largest integer accepted as a count. Default: `1_000_000`. */
  maxCount?: number;
  /**
   * Longest identifier string accepted, in characters. UUIDs are accepted whatever this is.
   * Default: `64`.
   */
  maxStringLength?: number;
  /** Longest array accepted; a longer array is dropped whole (`array_too_long`). Default: `100`. */
  maxArrayLength?: number;
  /**
   * Deepest nesting of objects and arrays. The depth of an object or array is the number of
   * objects and arrays around it: the metadata object itself is at depth 0, the `{...}` of
   * `{ counts: {...} }` at depth 1, the objects of `{ files: [{...}] }` at depth 2. An object or
   * array deeper than this is dropped whole (`too_deep`); values that are not objects or arrays
   * are never too deep. With the default, `{ a: { b: { c: { d: 1 } } } }` passes (the object
   * holding `d` is at depth 3) and in `{ a: { b: { c: { d: { e: 1 } } } } }` the value of `a.b.c.d`
   * is dropped. `0`: flat metadata only. Default: `3`.
   */
  maxDepth?: number;
  /**
   * Largest size of the metadata the policy lets through, as JSON text in UTF-8 bytes, at most
   * {@link METADATA_POLICY_MAX_BYTES}: the column takes 8192, and 512 are kept for the keys the
   * module adds (`outcome`, `requestId`, ...). Default: {@link METADATA_POLICY_MAX_BYTES} (7680).
   */
  maxBytes?: number;
  /**
   * More words to deny in keys, matched like {@link DENIED_KEY_WORDS}: each is written like a key
   * (`'client'`, `'bankRef'`) and denies the keys holding its words next to each other, in that
   * order: `'bankRef'` denies `bankRef`, `bank_ref` and `oldBankRefId`, not `bankRefs` (`refs` is
   * another word). Default: `[]`.
   */
  deniedKeys?: readonly string[];
}

/** The policy in force: every option set, checked and frozen. */
export type ResolvedMetadataPolicy = Readonly<Required<MetadataPolicyOptions>>;

/** The defaults of {@link MetadataPolicyOptions}. */
export const METADATA_POLICY_DEFAULTS: ResolvedMetadataPolicy = Object.freeze({
  strict: false,
  maxCount: 1_000_000,
  maxStringLength: 64,
  maxArrayLength: 100,
  maxDepth: 3,
  maxBytes: METADATA_POLICY_MAX_BYTES,
  deniedKeys: Object.freeze([]),
});

/**
 * The words no metadata key may hold. A key is cut into words at underscores, between a lowercase
 * letter and an uppercase one, between letters and digits, and before the last capital of a run of
 * capitals followed by lowercase letters (`userPANNumber`: `user`, `pan`, `number`); a run of
 * capitals also counts whole, alone and with the lowercase letters after it (`PANs`: `pan`,
 * `pans`). Words are compared in lowercase. An entry of several words (`apiKey`) denies keys
 * holding those words next to each other (`apiKey`, `api_key`, `openaiApiKeyId`).
 *
 * Plurals are listed where the plural names the same data; `tokens` is not denied, as token counts
 * (`inputTokens`) are legitimate metadata; neither is `cost`.
 */
export const DENIED_KEY_WORDS: readonly string[] = Object.freeze(
  [
    // Secrets and authentication.
    'password passwords passwd pwd passphrase secret secrets token apikey apikeys apiKey apiKeys',
    'authorization auth cookie cookies session sessions credential credentials otp otps pin pins',
    'cvv',
    // Financial figures.
    'amount amounts balance balances revenue revenues income salary salaries profit profits loss',
    'losses turnover price prices',
    // Identity and contact data.
    'pan pans gstin gstins gst tan aadhaar aadhar account accounts acct iban ifsc swift card cards',
    'email emails phone phones mobile mobiles address addresses dob birth name names',
  ].flatMap((line) => line.split(' ')),
);

/** Why a value was dropped. */
export type MetadataRule =
  | 'denied_key'
  | 'invalid_key'
  | 'not_a_count'
  | 'not_an_identifier'
  | 'identity_number'
  | 'too_deep'
  | 'array_too_long'
  | 'unsupported_type'
  | 'too_large';

/**
 * A value the policy dropped. `path` locates it (`counts.pages`, `files[2].name`; `''` for the
 * whole metadata) and never holds a value: a key refused as `invalid_key` or `identity_number` is
 * shown as `<redacted>` (except `__proto__`, `constructor` and `prototype`).
 */
export interface MetadataDrop {
  path: string;
  rule: MetadataRule;
}

/** The metadata to store, a new plain object, and what was dropped from the input. */
export interface SanitizedMetadata {
  metadata: Record<string, unknown>;
  dropped: MetadataDrop[];
}

/** Strict mode refused metadata: it lists the paths and rules, never the values. */
export class AuditMetadataError extends Error {
  override readonly name = 'AuditMetadataError';
  readonly dropped: readonly MetadataDrop[];

  constructor(dropped: readonly MetadataDrop[]) {
    super(
      `audit metadata refused by the policy: ${dropped
        .map((d) => `${d.path === '' ? '(root)' : d.path} (${d.rule})`)
        .join(', ')}`,
    );
    this.dropped = Object.freeze(dropped.map((d) => ({ ...d })));
  }
}

const KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const REDACTED = '<redacted>';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.:-]*$/;
/**
 * Identity numbers inside an identifier or a key: 6 digits or more in a row, or 9 or more in groups
 * joined by single separators (account, phone, card, Aadhaar numbers: `acct12345678`,
 * `x2345-6789-0123`; not `FY2024-25` or `asof-2024-07-15`); a
 * GSTIN anywhere; a PAN (`ABCPE1234F`), a TAN (`MUMA12345B`) or an IFSC (`HDFC0001234`) as a whole
 * or between separators, in any case (`pan_abcpe1234f`).
 */
const IDENTITY =
  /\d{6}|\d(?:[_.:-]?\d){8}|\d{2}[a-z]{5}\d{4}[a-z][a-z0-9]{3}|(?:^|[_.:-])(?:[a-z]{5}\d{4}[a-z]|[a-z]{4}\d{5}[a-z]|[a-z]{4}0[a-z0-9]{6})(?![a-z0-9])/i;
/** A PAN or a TAN in capitals, anywhere (`refABCPE1234F`). */
const IDENTITY_CAPITALS = /[A-Z]{5}\d{4}[A-Z]|[A-Z]{4}\d{5}[A-Z]/;
/** An amount with its currency: `INR15000`, `rs.2500`, `fee_usd_20`. */
const AMOUNT = /(?:^|[^A-Za-z])(?:inr|rs|usd|eur|gbp)[_.:-]?\d/i;

/** Precomputed parts of a policy. */
interface Compiled {
  readonly policy: ResolvedMetadataPolicy;
  readonly singleWords: ReadonlySet<string>;
  readonly wordSequences: readonly (readonly string[])[];
  /** Verdicts on keys already seen: the rule, or `''` for a key that passes. */
  readonly keyRules: Map<string, MetadataRule | ''>;
}

const KEY_CACHE_SIZE = 2048;
const compiledPolicies = new WeakMap<object, Compiled>();

const check = optionCheck('audit.metadataPolicy');
const integer = isIntegerIn;

/** Merges the defaults and checks every value, naming the field and the rule it breaks. */
export function resolveMetadataPolicy(
  options: MetadataPolicyOptions = {},
): ResolvedMetadataPolicy {
  if (
    typeof options !== 'object' ||
    options === null ||
    Array.isArray(options)
  ) {
    throw new Error(
      'LoggingModule option audit.metadataPolicy must be an object',
    );
  }
  const d = METADATA_POLICY_DEFAULTS;
  const resolved = {
    strict: options.strict ?? d.strict,
    maxCount: options.maxCount ?? d.maxCount,
    maxStringLength: options.maxStringLength ?? d.maxStringLength,
    maxArrayLength: options.maxArrayLength ?? d.maxArrayLength,
    maxDepth: options.maxDepth ?? d.maxDepth,
    maxBytes: options.maxBytes ?? d.maxBytes,
    deniedKeys: options.deniedKeys ?? d.deniedKeys,
  };
  check(typeof resolved.strict === 'boolean', 'strict', 'a boolean');
  check(integer(resolved.maxCount, 0), 'maxCount', 'an integer of at least 0');
  check(
    integer(resolved.maxStringLength, 1),
    'maxStringLength',
    'an integer of at least 1',
  );
  check(
    integer(resolved.maxArrayLength, 0),
    'maxArrayLength',
    'an integer of at least 0',
  );
  check(integer(resolved.maxDepth, 0), 'maxDepth', 'an integer of at least 0');
  check(
    integer(resolved.maxBytes, 2, METADATA_POLICY_MAX_BYTES),
    'maxBytes',
    `an integer from 2 to ${METADATA_POLICY_MAX_BYTES}`,
  );
  check(
    Array.isArray(resolved.deniedKeys) &&
      resolved.deniedKeys.every((k) => typeof k === 'string' && KEY.test(k)),
    'deniedKeys',
    'an array of keys (a letter, then letters, digits or underscores, 64 characters at most)',
  );
  const policy: ResolvedMetadataPolicy = Object.freeze({
    ...resolved,
    deniedKeys: Object.freeze([...resolved.deniedKeys]),
  });
  compiledPolicies.set(policy, compile(policy));
  return policy;
}

function compile(policy: ResolvedMetadataPolicy): Compiled {
  const singleWords = new Set<string>();
  const wordSequences: string[][] = [];
  for (const entry of [...DENIED_KEY_WORDS, ...policy.deniedKeys]) {
    const { words } = splitKey(entry);
    if (words.length === 1) singleWords.add(words[0]);
    else if (words.length > 1) wordSequences.push(words);
  }
  return { policy, singleWords, wordSequences, keyRules: new Map() };
}

/** The policy's precomputed parts; a policy not made by `resolveMetadataPolicy` is checked first. */
function compiled(policy: ResolvedMetadataPolicy): Compiled {
  const known = compiledPolicies.get(policy);
  if (known) return known;
  const resolved = resolveMetadataPolicy(policy);
  const result = compiledPolicies.get(resolved)!;
  // Only a frozen policy stays as it was checked.
  if (Object.isFrozen(policy) && Object.isFrozen(policy.deniedKeys)) {
    compiledPolicies.set(policy, result);
  }
  return result;
}

const isUpper = (c: number) => c >= 65 && c <= 90;
const isLower = (c: number) => c >= 97 && c <= 122;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * The words of a key, in lowercase (see {@link DENIED_KEY_WORDS}), and the extra whole-capital-run
 * readings of its acronyms.
 */
function splitKey(key: string): { words: string[]; extras: string[] } {
  const words: string[] = [];
  const extras: string[] = [];
  const n = key.length;
  let i = 0;
  while (i < n) {
    const c = key.charCodeAt(i);
    if (isDigit(c)) {
      const start = i;
      while (i < n && isDigit(key.charCodeAt(i))) i++;
      words.push(key.slice(start, i));
    } else if (isUpper(c) || isLower(c)) {
      const start = i;
      while (i < n && isUpper(key.charCodeAt(i))) i++;
      const capitals = key.slice(start, i).toLowerCase();
      const lowerStart = i;
      while (i < n && isLower(key.charCodeAt(i))) i++;
      const lower = key.slice(lowerStart, i);
      if (capitals.length <= 1 || lower.length === 0) {
        words.push(capitals + lower);
      } else {
        words.push(capitals.slice(0, -1), capitals.slice(-1) + lower);
        extras.push(capitals, capitals + lower);
      }
    } else {
      i++; // '_'
    }
  }
  return { words, extras };
}

function deniedWords(key: string, c: Compiled): boolean {
  const { words, extras } = splitKey(key);
  for (const word of words) if (c.singleWords.has(word)) return true;
  for (const word of extras) if (c.singleWords.has(word)) return true;
  for (const sequence of c.wordSequences) {
    for (let i = 0; i + sequence.length <= words.length; i++) {
      let j = 0;
      while (j < sequence.length && words[i + j] === sequence[j]) j++;
      if (j === sequence.length) return true;
    }
  }
  return false;
}

/** The rule a key breaks, or `''`. */
function keyRule(key: string, c: Compiled): MetadataRule | '' {
  if (key.length > 64) return 'invalid_key';
  let rule = c.keyRules.get(key);
  if (rule !== undefined) return rule;
  if (!KEY.test(key) || RESERVED_KEYS.has(key)) rule = 'invalid_key';
  else if (IDENTITY.test(key) || IDENTITY_CAPITALS.test(key)) {
    rule = 'identity_number';
  } else if (deniedWords(key, c)) rule = 'denied_key';
  else rule = '';
  if (c.keyRules.size >= KEY_CACHE_SIZE) c.keyRules.clear();
  c.keyRules.set(key, rule);
  return rule;
}

/** The rule a string value breaks, or `''`. */
function stringRule(value: string, c: Compiled): MetadataRule | '' {
  if (value.length === 36 && UUID.test(value)) return '';
  if (value.length > c.policy.maxStringLength || !IDENTIFIER.test(value)) {
    return 'not_an_identifier';
  }
  if (IDENTITY.test(value) || IDENTITY_CAPITALS.test(value)) {
    return 'identity_number';
  }
  if (AMOUNT.test(value)) return 'not_an_identifier';
  return '';
}

/** The state of one `sanitizeMetadata` call. */
interface Walk {
  readonly c: Compiled;
  readonly dropped: MetadataDrop[];
  /** Keys and indexes from the metadata down to the value at hand. */
  readonly path: (string | number)[];
  /** The JSON size in bytes of the value the last `value()` call returned. */
  size: number;
}

/** `value()` results other than a value to keep. */
const DROPPED = Symbol('dropped');
const SKIPPED = Symbol('skipped');
const OVERFLOW = Symbol('overflow');
type Outcome = unknown;

function pathText(path: readonly (string | number)[], last?: string): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? part : `.${part}`;
  }
  if (last !== undefined) text += text === '' ? last : `.${last}`;
  return text;
}

function drop(walk: Walk, rule: MetadataRule): typeof DROPPED {
  walk.dropped.push({ path: pathText(walk.path), rule });
  return DROPPED;
}

function dropKey(walk: Walk, key: string, rule: MetadataRule): void {
  const shown =
    rule === 'denied_key' || RESERVED_KEYS.has(key) ? key : REDACTED;
  walk.dropped.push({ path: pathText(walk.path, shown), rule });
}

type Kind = 'plain' | 'array' | 'other';

function kindOf(value: object): Kind {
  try {
    if (Array.isArray(value)) return 'array';
    const proto: unknown = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null ? 'plain' : 'other';
  } catch {
    return 'other'; // a revoked Proxy, a throwing trap
  }
}

/**
 * The sanitized form of one value inside an object or array at depth `depth`, with its JSON size
 * in `walk.size`; or `DROPPED` (reported), `SKIPPED` (`undefined`), or `OVERFLOW` when it would
 * take more than `budget` bytes.
 */
function value(
  walk: Walk,
  input: unknown,
  depth: number,
  budget: number,
): Outcome {
  switch (typeof input) {
    case 'string': {
      const rule = stringRule(input, walk.c);
      if (rule !== '') return drop(walk, rule);
      walk.size = input.length + 2; // ASCII only, nothing to escape
      return walk.size > budget ? OVERFLOW : input;
    }
    case 'number': {
      if (
        !Number.isSafeInteger(input) ||
        input < 0 ||
        input > walk.c.policy.maxCount
      ) {
        return drop(walk, 'not_a_count');
      }
      const count = input === 0 ? 0 : input; // not -0
      walk.size = String(count).length;
      return walk.size > budget ? OVERFLOW : count;
    }
    case 'boolean':
      walk.size = input ? 4 : 5;
      return walk.size > budget ? OVERFLOW : input;
    case 'undefined':
      return SKIPPED;
    case 'object': {
      if (input === null) {
        walk.size = 4;
        return walk.size > budget ? OVERFLOW : null;
      }
      const kind = kindOf(input);
      if (kind === 'other') return drop(walk, 'unsupported_type');
      if (depth + 1 > walk.c.policy.maxDepth) return drop(walk, 'too_deep');
      return kind === 'array'
        ? array(walk, input as readonly unknown[], depth + 1, budget)
        : object(walk, input, depth + 1, budget);
    }
    default: // bigint, symbol, function
      return drop(walk, 'unsupported_type');
  }
}

/** The own enumerable string keys of an object, or `undefined` if they cannot be read. */
function keysOf(input: object): string[] | undefined {
  try {
    return Object.keys(input);
  } catch {
    return undefined;
  }
}

/** Reads a property; `DROPPED` (reported) if it throws. */
function read(walk: Walk, input: object, key: string | number): unknown {
  try {
    return (input as Record<string | number, unknown>)[key];
  } catch {
    return drop(walk, 'unsupported_type');
  }
}

/** A plain object at depth `depth`: see `value()`. */
function object(
  walk: Walk,
  input: object,
  depth: number,
  budget: number,
): Outcome {
  const keys = keysOf(input);
  if (keys === undefined) return drop(walk, 'unsupported_type');
  const output: Record<string, unknown> = {};
  let size = 2;
  if (size > budget) return OVERFLOW;
  for (const key of keys) {
    const rule = keyRule(key, walk.c);
    if (rule !== '') {
      dropKey(walk, key, rule);
      continue;
    }
    walk.path.push(key);
    const entry = key.length + 3 + (size > 2 ? 1 : 0); // "key": and a comma
    const raw = read(walk, input, key);
    const result =
      raw === DROPPED ? raw : value(walk, raw, depth, budget - size - entry);
    walk.path.pop();
    if (result === OVERFLOW) return OVERFLOW;
    if (result === DROPPED || result === SKIPPED) continue;
    output[key] = result;
    size += entry + walk.size;
  }
  walk.size = size;
  return output;
}

/** An array at depth `depth`: see `value()`. */
function array(
  walk: Walk,
  input: readonly unknown[],
  depth: number,
  budget: number,
): Outcome {
  let length: number;
  try {
    length = input.length;
  } catch {
    return drop(walk, 'unsupported_type');
  }
  if (!(length <= walk.c.policy.maxArrayLength)) {
    return drop(walk, 'array_too_long');
  }
  const output: unknown[] = [];
  let size = 2;
  if (size > budget) return OVERFLOW;
  for (let i = 0; i < length; i++) {
    walk.path.push(i);
    const entry = size > 2 ? 1 : 0; // a comma
    const raw = read(walk, input, i);
    const result =
      raw === DROPPED ? raw : value(walk, raw, depth, budget - size - entry);
    walk.path.pop();
    if (result === OVERFLOW) return OVERFLOW;
    if (result === DROPPED || result === SKIPPED) continue;
    output.push(result);
    size += entry + walk.size;
  }
  walk.size = size;
  return output;
}

/**
 * Applies the policy to `input`, the metadata of an audit row: returns a new plain object holding
 * only what the policy accepts (see the rules at the top of this module), and what it dropped.
 * `null` and `undefined` give `{}`; anything else that is not a plain object is dropped whole
 * (`unsupported_type`, path `''`). Getters that throw, Proxies and cycles are dropped or bounded,
 * never followed out of bounds. When the result is too large, the first top-level value that does
 * not fit and every top-level value after it are dropped whole as `too_large`, unread: what was
 * inside them is not reported (keys the policy refuses still are, by their own rule).
 *
 * @throws AuditMetadataError in strict mode, when anything would be dropped
 */
export function sanitizeMetadata(
  input: unknown,
  policy: ResolvedMetadataPolicy,
): SanitizedMetadata {
  const c = compiled(policy);
  if (input === null || input === undefined)
    return { metadata: {}, dropped: [] };
  const walk: Walk = { c, dropped: [], path: [], size: 0 };
  const metadata: Record<string, unknown> = {};
  const keys =
    typeof input === 'object' && kindOf(input) === 'plain'
      ? keysOf(input)
      : undefined;
  if (keys === undefined) {
    drop(walk, 'unsupported_type');
  } else {
    const { maxBytes } = c.policy;
    let size = 2;
    let full = false; // a value did not fit: the keys after it do not either
    for (const key of keys) {
      const rule = keyRule(key, c);
      if (rule !== '') {
        dropKey(walk, key, rule);
        continue;
      }
      walk.path.push(key);
      const raw = read(walk, input, key);
      if (raw !== DROPPED && raw !== undefined) {
        const entry = key.length + 3 + (size > 2 ? 1 : 0);
        const mark = walk.dropped.length;
        const result = full
          ? OVERFLOW
          : value(walk, raw, 0, maxBytes - size - entry);
        if (result === OVERFLOW) {
          walk.dropped.length = mark; // dropped whole: its insides are not reported
          drop(walk, 'too_large');
          full = true;
        } else if (result !== DROPPED && result !== SKIPPED) {
          metadata[key] = result;
          size += entry + walk.size;
        }
      }
      walk.path.pop();
    }
  }
  if (walk.dropped.length > 0 && c.policy.strict) {
    throw new AuditMetadataError(walk.dropped);
  }
  return { metadata, dropped: walk.dropped };
}
