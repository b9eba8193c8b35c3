import {
  detectSensitive,
  idHidesIdentity,
  isUuidText,
  spellsIdentityNumber,
} from './sensitive-values.js';
import type {
  DeclaredField,
  DeclaredKey,
  MetadataDeclaration,
} from './metadata-declaration.js';
import type { ResolvedMetadataPolicy } from './metadata-policy.types.js';
import {
  countIn,
  drop,
  dropKey,
  DROPPED,
  keysOf,
  lengthOf,
  read,
  shapeOf,
  SKIPPED,
  type Walk,
} from './metadata-walk.js';

/**
 * The declared mode's walk: only the keys a declaration names, each of its kind, identifiers
 * through the detectors too.
 *
 * @module
 */

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

/** The declared form of one value: `DROPPED` (reported) or `SKIPPED` when it is not kept. */
function declaredValue(
  walk: Walk,
  input: unknown,
  field: DeclaredField,
  depth: number,
  policy: ResolvedMetadataPolicy,
): unknown {
  if (input === undefined) return SKIPPED;
  if (input === null) return null;
  switch (field.kind) {
    case 'uuid':
      if (typeof input !== 'string' || !isUuidText(input)) {
        return drop(walk, 'not_a_uuid');
      }
      // a UUID made to carry a PAN or an Aadhaar number (checksums and structure only)
      return idHidesIdentity(input) ? drop(walk, 'identity_number') : input;
    case 'count':
      return countIn(input, field.min, field.max) ?? drop(walk, 'not_a_count');
    case 'boolean':
      return typeof input === 'boolean' ? input : drop(walk, 'not_a_boolean');
    case 'identifier': {
      const limit = Math.min(
        field.maxLength ?? Infinity,
        policy.maxStringLength,
      );
      if (
        typeof input !== 'string' ||
        input.length > limit ||
        !IDENTIFIER.test(input) ||
        (field.oneOf !== undefined && !field.oneOf.has(input)) ||
        (field.pattern !== undefined && !field.pattern.test(input))
      ) {
        return drop(walk, 'not_an_identifier');
      }
      // Defence in depth: a declared pattern may be looser than the host meant.
      return detectSensitive(input) === null
        ? input
        : drop(walk, 'identity_number');
    }
    case 'object':
      if (typeof input !== 'object' || shapeOf(input) !== 'plain') {
        return drop(walk, 'unsupported_type');
      }
      if (depth + 1 > policy.maxDepth) return drop(walk, 'too_deep');
      return declaredObject(walk, input, field.declaration, depth + 1, policy);
  }
}

/** An array of a declared kind. */
function declaredArray(
  walk: Walk,
  input: unknown,
  key: DeclaredKey,
  depth: number,
  policy: ResolvedMetadataPolicy,
): unknown {
  if (input === undefined) return SKIPPED;
  if (input === null) return null;
  if (typeof input !== 'object' || shapeOf(input) !== 'array') {
    return drop(walk, 'unsupported_type');
  }
  if (depth + 1 > policy.maxDepth) return drop(walk, 'too_deep');
  const length = lengthOf(walk, input as unknown[]);
  if (length === DROPPED) return length;
  const limit = Math.min(
    key.array?.maxItems ?? Infinity,
    policy.maxArrayLength,
  );
  if (!(length <= limit)) return drop(walk, 'array_too_long');
  const output: unknown[] = [];
  for (let i = 0; i < length; i++) {
    walk.path.push(i);
    const raw = read(walk, input, i);
    const result =
      raw === DROPPED
        ? raw
        : declaredValue(walk, raw, key.field, depth + 1, policy);
    walk.path.pop();
    if (result !== DROPPED && result !== SKIPPED) output.push(result);
  }
  // Counts that spell a card, Aadhaar or mobile number when joined, and identifiers that hold
  // identity data or an amount when joined (`['ABCPE', '1234', 'F']`): a value split over elements.
  const counts = output.filter((v): v is number => typeof v === 'number');
  if (key.field.kind === 'count' && spellsIdentityNumber(counts)) {
    return drop(walk, 'identity_number');
  }
  const strings = output.filter((v): v is string => typeof v === 'string');
  if (
    key.field.kind === 'identifier' &&
    strings.length > 1 &&
    detectSensitive(strings.join('-')) !== null
  ) {
    return drop(walk, 'identity_number');
  }
  return output;
}

/**
 * The declared keys of a plain object at depth `depth`, each of its kind; every other key is
 * dropped as `undeclared_key`.
 */
export function declaredObject(
  walk: Walk,
  input: object,
  declaration: MetadataDeclaration,
  depth: number,
  policy: ResolvedMetadataPolicy,
): unknown {
  const keys = keysOf(input);
  if (keys === undefined) return drop(walk, 'unsupported_type');
  const output: Record<string, unknown> = {};
  for (const key of keys) {
    const declared = declaration.keys.get(key);
    if (declared === undefined) {
      dropKey(walk, key, 'undeclared_key');
      continue;
    }
    walk.path.push(key);
    const raw = read(walk, input, key);
    const result =
      raw === DROPPED
        ? raw
        : declared.array
          ? declaredArray(walk, raw, declared, depth, policy)
          : declaredValue(walk, raw, declared.field, depth, policy);
    walk.path.pop();
    if (result !== DROPPED && result !== SKIPPED) output[key] = result;
  }
  return output;
}
