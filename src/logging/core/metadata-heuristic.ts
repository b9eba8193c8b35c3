import { canonicalText, detectSensitive } from './sensitive-values.js';

const SIX_DIGITS = /\d{6}/;
import type { ResolvedMetadataPolicy } from './metadata-policy.types.js';
import {
  countIn,
  drop,
  dropKey,
  DROPPED,
  keysOf,
  lengthOf,
  type MetadataRule,
  read,
  shapeOf,
  SKIPPED,
  type Walk,
} from './metadata-walk.js';

/**
 * The heuristic mode of the metadata policy (`metadataPolicy.mode: 'heuristic'`), for actions
 * without a declaration: any key that holds no denied word, any count up to `maxCount`, any short
 * identifier the detectors pass. Weaker than a declaration: it cannot know that `totalamount:
 * 150000` or `sales: 90000` is money. Kept for a migration period.
 *
 * @module
 */

/**
 * The words no metadata key may hold in the heuristic mode. A key is cut into words at
 * underscores, between a lowercase letter and an uppercase one, between letters and digits, and
 * before the last capital of a run of capitals followed by lowercase letters (`userPANNumber`:
 * `user`, `pan`, `number`); a run of capitals also counts whole, alone and with the lowercase
 * letters after it (`PANs`: `pan`, `pans`). Words are compared in lowercase. An entry of several
 * words (`apiKey`) denies keys holding those words next to each other (`apiKey`, `api_key`,
 * `openaiApiKeyId`). A key written as one word (`totalamount`) is not cut: that is why this mode is
 * weaker than a declaration.
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

const KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.:-]*$/;
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The denied words of a policy, and its verdicts on keys seen. */
interface Compiled {
  readonly singleWords: ReadonlySet<string>;
  readonly wordSequences: readonly (readonly string[])[];
  readonly keyRules: Map<string, MetadataRule | ''>;
}

const KEY_CACHE_SIZE = 2048;
const compiledPolicies = new WeakMap<object, Compiled>();

function compiled(policy: ResolvedMetadataPolicy): Compiled {
  let c = compiledPolicies.get(policy);
  if (c) return c;
  const singleWords = new Set<string>();
  const wordSequences: string[][] = [];
  for (const entry of [...DENIED_KEY_WORDS, ...policy.deniedKeys]) {
    const { words } = splitKey(entry);
    if (words.length === 1) singleWords.add(words[0]);
    else if (words.length > 1) wordSequences.push(words);
  }
  c = { singleWords, wordSequences, keyRules: new Map() };
  compiledPolicies.set(policy, c);
  return c;
}

const isUpper = (c: number) => c >= 65 && c <= 90;
const isLower = (c: number) => c >= 97 && c <= 122;
const isDigit = (c: number) => c >= 48 && c <= 57;

/** The words of a key, in lowercase, and the whole-capital-run readings of its acronyms. */
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

/** The rule a key breaks in the heuristic mode, or `''`. */
export function heuristicKeyRule(
  key: string,
  policy: ResolvedMetadataPolicy,
): MetadataRule | '' {
  if (key.length > 64) return 'invalid_key';
  const c = compiled(policy);
  let rule = c.keyRules.get(key);
  if (rule !== undefined) return rule;
  if (!KEY.test(key) || RESERVED_KEYS.has(key)) rule = 'invalid_key';
  else if (detectSensitive(key) !== null) rule = 'identity_number';
  else if (deniedWords(key, c)) rule = 'denied_key';
  else rule = '';
  if (c.keyRules.size >= KEY_CACHE_SIZE) c.keyRules.clear();
  c.keyRules.set(key, rule);
  return rule;
}

/** The rule a string value breaks in the heuristic mode, or `''`. */
export function heuristicStringRule(
  value: string,
  policy: ResolvedMetadataPolicy,
): MetadataRule | '' {
  if (value.length === 36 && UUID.test(value)) return '';
  if (value.length > policy.maxStringLength || !IDENTIFIER.test(value)) {
    return 'not_an_identifier';
  }
  const kind = detectSensitive(value);
  if (kind === 'amount') return 'not_an_identifier';
  if (kind !== null) return 'identity_number';
  // undeclared values lean further than declared ones: six digits in a row may be an amount
  return SIX_DIGITS.test(canonicalText(value)) ? 'identity_number' : '';
}

/**
 * The heuristic form of one value at depth `depth` (the metadata object is at depth 0): `DROPPED`
 * (reported) or `SKIPPED` when it is not kept.
 */
export function heuristicValue(
  walk: Walk,
  input: unknown,
  depth: number,
  policy: ResolvedMetadataPolicy,
): unknown {
  switch (typeof input) {
    case 'string': {
      const rule = heuristicStringRule(input, policy);
      return rule === '' ? input : drop(walk, rule);
    }
    case 'number':
      return countIn(input, 0, policy.maxCount) ?? drop(walk, 'not_a_count');
    case 'boolean':
      return input;
    case 'undefined':
      return SKIPPED;
    case 'object': {
      if (input === null) return null;
      const shape = shapeOf(input);
      if (shape === 'other') return drop(walk, 'unsupported_type');
      if (depth + 1 > policy.maxDepth) return drop(walk, 'too_deep');
      return shape === 'array'
        ? heuristicArray(walk, input as readonly unknown[], depth + 1, policy)
        : heuristicObject(walk, input, depth + 1, policy);
    }
    default: // bigint, symbol, function
      return drop(walk, 'unsupported_type');
  }
}

/** A plain object at depth `depth`, its keys and values under the heuristic rules. */
export function heuristicObject(
  walk: Walk,
  input: object,
  depth: number,
  policy: ResolvedMetadataPolicy,
): unknown {
  const keys = keysOf(input);
  if (keys === undefined) return drop(walk, 'unsupported_type');
  const output: Record<string, unknown> = {};
  for (const key of keys) {
    const rule = heuristicKeyRule(key, policy);
    if (rule !== '') {
      dropKey(walk, key, rule);
      continue;
    }
    walk.path.push(key);
    const raw = read(walk, input, key);
    const result =
      raw === DROPPED ? raw : heuristicValue(walk, raw, depth, policy);
    walk.path.pop();
    if (result !== DROPPED && result !== SKIPPED) output[key] = result;
  }
  return output;
}

function heuristicArray(
  walk: Walk,
  input: readonly unknown[],
  depth: number,
  policy: ResolvedMetadataPolicy,
): unknown {
  const length = lengthOf(walk, input);
  if (length === DROPPED) return length;
  if (!(length <= policy.maxArrayLength)) return drop(walk, 'array_too_long');
  const output: unknown[] = [];
  for (let i = 0; i < length; i++) {
    walk.path.push(i);
    const raw = read(walk, input, i);
    const result =
      raw === DROPPED ? raw : heuristicValue(walk, raw, depth, policy);
    walk.path.pop();
    if (result !== DROPPED && result !== SKIPPED) output.push(result);
  }
  return output;
}
