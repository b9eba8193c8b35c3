import type { Type } from '@nestjs/common';
import { isIntegerIn, optionCheck } from './option-check.js';
import { METADATA_POLICY_MAX_BYTES } from './logging.constants.js';
import {
  type MetadataDeclaration,
  metadataDeclaration,
} from './metadata-declaration.js';
import { declaredObject } from './metadata-declared.js';
import { heuristicObject } from './metadata-heuristic.js';
import {
  drop,
  jsonBytes,
  type MetadataDrop,
  shapeOf,
  type Walk,
} from './metadata-walk.js';

export type { MetadataDrop, MetadataRule } from './metadata-walk.js';
export {
  newRequestId,
  safeRequestId,
  storedMetadata,
  systemMetadata,
  type SystemMetadata,
} from './metadata-system.js';
export { DENIED_KEY_WORDS } from './metadata-heuristic.js';
export type {
  MetadataPolicyMode,
  MetadataPolicyOptions,
  ResolvedMetadataPolicy,
  SanitizedMetadata,
} from './metadata-policy.types.js';
import type {
  MetadataPolicyOptions,
  ResolvedMetadataPolicy,
  SanitizedMetadata,
} from './metadata-policy.types.js';

/**
 * The metadata policy: what may be stored in `audit_log.metadata` and `credit_transaction.metadata`.
 *
 * - **Declared** (the default mode): an action stores only the keys its declaration class names,
 *   each of its kind (see `metadata-declaration.ts`); identifiers also pass the detectors of
 *   financial and identity data. Every other key is dropped as `undeclared_key`; an action without
 *   a declaration stores only the keys the module adds itself.
 * - **Heuristic** (`mode: 'heuristic'`, weaker, for a migration period): actions without a
 *   declaration store any key that holds no denied word, with counts, booleans, UUIDs and short
 *   identifiers the detectors pass. Actions with a declaration still get the declared rules.
 * - **System keys** (`outcome`, `errorClass`, `status`, `requestId`) are checked by
 *   {@link systemMetadata}; **size**: the metadata as finally stored is at most 8192 bytes of JSON.
 *
 * What is dropped is reported as a {@link MetadataDrop} and counted, or, in strict mode, refused
 * with {@link AuditMetadataError}.
 *
 * @module
 */

/** The defaults of {@link MetadataPolicyOptions}. */
export const METADATA_POLICY_DEFAULTS: ResolvedMetadataPolicy = Object.freeze({
  mode: 'declared',
  strict: false,
  maxCount: 1_000_000,
  maxStringLength: 64,
  maxArrayLength: 100,
  maxDepth: 3,
  maxBytes: METADATA_POLICY_MAX_BYTES,
  deniedKeys: Object.freeze([]),
});

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
const check = optionCheck('audit.metadataPolicy');
const integer = isIntegerIn;
const resolvedPolicies = new WeakSet<object>();

/** Merges the defaults and checks every value, naming the field and the rule it breaks. */
export function resolveMetadataPolicy(
  options: MetadataPolicyOptions = {},
): ResolvedMetadataPolicy {
  if (resolvedPolicies.has(options)) return options as ResolvedMetadataPolicy;
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
  const r = {
    mode: options.mode ?? d.mode,
    strict: options.strict ?? d.strict,
    maxCount: options.maxCount ?? d.maxCount,
    maxStringLength: options.maxStringLength ?? d.maxStringLength,
    maxArrayLength: options.maxArrayLength ?? d.maxArrayLength,
    maxDepth: options.maxDepth ?? d.maxDepth,
    maxBytes: options.maxBytes ?? d.maxBytes,
    deniedKeys: options.deniedKeys ?? d.deniedKeys,
  };
  check(
    ['declared', 'heuristic'].includes(r.mode),
    'mode',
    `'declared' or 'heuristic'`,
  );
  check(typeof r.strict === 'boolean', 'strict', 'a boolean');
  check(integer(r.maxCount, 0), 'maxCount', 'an integer of at least 0');
  check(
    integer(r.maxStringLength, 1),
    'maxStringLength',
    'an integer of at least 1',
  );
  check(
    integer(r.maxArrayLength, 0),
    'maxArrayLength',
    'an integer of at least 0',
  );
  check(integer(r.maxDepth, 0), 'maxDepth', 'an integer of at least 0');
  check(
    integer(r.maxBytes, 2, METADATA_POLICY_MAX_BYTES),
    'maxBytes',
    `an integer from 2 to ${METADATA_POLICY_MAX_BYTES}`,
  );
  check(
    Array.isArray(r.deniedKeys) &&
      r.deniedKeys.every((k) => typeof k === 'string' && KEY.test(k)),
    'deniedKeys',
    'an array of keys (a letter, then letters, digits or underscores, 64 characters at most)',
  );
  const policy: ResolvedMetadataPolicy = Object.freeze({
    ...r,
    deniedKeys: Object.freeze([...r.deniedKeys]),
  });
  resolvedPolicies.add(policy);
  return policy;
}

/**
 * Applies the policy to `input`, the metadata of one action: returns a new plain object holding
 * only what the policy accepts, and what it dropped. With a `declaration` (a declaration class, or
 * one read by `metadataDeclaration`), only its keys, each of its kind. Without one, nothing in the
 * declared mode (every key `undeclared_key`), the key-word rules in the heuristic mode.
 *
 * `null` and `undefined` give `{}`; anything else that is not a plain object is dropped whole
 * (`unsupported_type`, path `''`). Getters that throw, Proxies and cycles are dropped or bounded.
 * When the result is larger than `maxBytes`, the first top-level value that does not fit and every
 * one after it are dropped whole as `too_large` (what was inside them is not reported).
 *
 * @throws AuditMetadataError in strict mode, when anything would be dropped
 */
export function sanitizeMetadata(
  input: unknown,
  policy: ResolvedMetadataPolicy,
  declaration?: Type | MetadataDeclaration,
): SanitizedMetadata {
  const resolved = resolveMetadataPolicy(policy);
  if (input === null || input === undefined)
    return { metadata: {}, dropped: [] };
  const walk: Walk = { dropped: [], path: [] };
  let metadata: Record<string, unknown> = {};
  if (typeof input !== 'object' || shapeOf(input) !== 'plain') {
    drop(walk, 'unsupported_type');
  } else if (declaration !== undefined) {
    const declared = metadataDeclaration(declaration);
    metadata = declaredObject(walk, input, declared, 0, resolved) as Record<
      string,
      unknown
    >;
  } else if (resolved.mode === 'heuristic') {
    metadata = heuristicObject(walk, input, 0, resolved) as Record<
      string,
      unknown
    >;
  } else {
    metadata = declaredObject(
      walk,
      input,
      NOTHING_DECLARED,
      0,
      resolved,
    ) as Record<string, unknown>;
  }
  if (typeof metadata !== 'object') metadata = {}; // the input could not be read
  bound(metadata, resolved.maxBytes, walk.dropped);
  if (walk.dropped.length > 0 && resolved.strict) {
    throw new AuditMetadataError(walk.dropped);
  }
  return { metadata, dropped: walk.dropped };
}

const NOTHING_DECLARED: MetadataDeclaration = Object.freeze({
  name: 'no declaration',
  keys: new Map(),
});

/**
 * Keeps the top-level keys of `metadata` that fit in `maxBytes`, in order: the first that does not
 * fit and every one after it are deleted and reported as `too_large` (their insides' reports
 * removed).
 */
function bound(
  metadata: Record<string, unknown>,
  maxBytes: number,
  dropped: MetadataDrop[],
): void {
  let size = 2;
  let full = false;
  for (const key of Object.keys(metadata)) {
    const entry =
      jsonBytes(key) + 1 + jsonBytes(metadata[key]) + (size > 2 ? 1 : 0);
    if (!full && size + entry <= maxBytes) {
      size += entry;
      continue;
    }
    full = true;
    delete metadata[key];
    for (let i = dropped.length - 1; i >= 0; i--) {
      const path = dropped[i].path;
      if (path.startsWith(`${key}.`) || path.startsWith(`${key}[`))
        dropped.splice(i, 1);
    }
    dropped.push({ path: key, rule: 'too_large' });
  }
}
