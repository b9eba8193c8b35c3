import { detectSensitive } from './sensitive-values.js';

/**
 * What the two modes of the metadata policy share while they walk the metadata: the drop report,
 * paths that never show a value, and reads that survive Proxies and throwing getters.
 *
 * @module
 */

/** Why a value was dropped. */
export type MetadataRule =
  | 'undeclared_key'
  | 'denied_key'
  | 'invalid_key'
  | 'not_a_count'
  | 'not_an_identifier'
  | 'not_a_uuid'
  | 'not_a_boolean'
  | 'identity_number'
  | 'too_deep'
  | 'array_too_long'
  | 'unsupported_type'
  | 'too_large';

/**
 * A value the policy dropped. `path` locates it (`counts.pages`, `files[2]`; `''` for the whole
 * metadata) and never holds a value: a key that is not a plain identifier, or that a detector
 * catches, is shown as `<redacted>`.
 */
export interface MetadataDrop {
  path: string;
  rule: MetadataRule;
}

/** The state of one walk. */
export interface Walk {
  readonly dropped: MetadataDrop[];
  /** Keys and indexes from the metadata down to the value at hand. */
  readonly path: (string | number)[];
}

/** A `value()` result that is not a value to keep. */
export const DROPPED = Symbol('dropped');
/** `undefined`, left out without a report, as `JSON.stringify` does. */
export const SKIPPED = Symbol('skipped');

const SHOWN_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function pathText(
  path: readonly (string | number)[],
  last?: string,
): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? part : `.${part}`;
  }
  if (last !== undefined) text += text === '' ? last : `.${last}`;
  return text;
}

/** Reports the value at the walk's path as dropped. */
export function drop(walk: Walk, rule: MetadataRule): typeof DROPPED {
  walk.dropped.push({ path: pathText(walk.path), rule });
  return DROPPED;
}

/** A key as a drop report may show it. */
export function shownKey(key: string): string {
  return RESERVED_KEYS.has(key) ||
    (SHOWN_KEY.test(key) && detectSensitive(key) === null)
    ? key
    : '<redacted>';
}

/** Reports the key `key` of the object at the walk's path as dropped. */
export function dropKey(walk: Walk, key: string, rule: MetadataRule): void {
  walk.dropped.push({ path: pathText(walk.path, shownKey(key)), rule });
}

export type Shape = 'plain' | 'array' | 'other';

export function shapeOf(value: object): Shape {
  try {
    if (Array.isArray(value)) return 'array';
    const proto: unknown = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null ? 'plain' : 'other';
  } catch {
    return 'other'; // a revoked Proxy, a throwing trap
  }
}

/** The own enumerable string keys of an object, or `undefined` if they cannot be read. */
export function keysOf(input: object): string[] | undefined {
  try {
    return Object.keys(input);
  } catch {
    return undefined;
  }
}

/** Reads a property; `DROPPED` (reported) if it throws. */
export function read(walk: Walk, input: object, key: string | number): unknown {
  try {
    return (input as Record<string | number, unknown>)[key];
  } catch {
    return drop(walk, 'unsupported_type');
  }
}

/** The length of an array, or `DROPPED` (reported) if it cannot be read. */
export function lengthOf(
  walk: Walk,
  input: readonly unknown[],
): number | typeof DROPPED {
  try {
    return input.length;
  } catch {
    return drop(walk, 'unsupported_type');
  }
}

/** A safe integer from `min` to `max`, as stored (never `-0`). */
export function countIn(
  value: unknown,
  min: number,
  max: number,
): number | undefined {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < min ||
    value > max
  ) {
    return undefined;
  }
  return value === 0 ? 0 : value;
}

/** JSON size of `value` in UTF-8 bytes. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}
