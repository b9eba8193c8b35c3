import { randomUUID } from 'node:crypto';
import { isIntegerIn } from './option-check.js';
import {
  detectSensitive,
  idHidesNumber,
  isUlidText,
  isUuidText,
} from './sensitive-values.js';
import { AUDIT_METADATA_MAX_BYTES } from './logging.constants.js';
import type { SanitizedMetadata } from './metadata-policy.types.js';
import {
  jsonBytes,
  type MetadataDrop,
  type MetadataRule,
} from './metadata-walk.js';

/**
 * The keys the module adds to audit metadata itself (`outcome`, `errorClass`, `status`,
 * `requestId`) obey rules of their own, and the metadata as stored obeys the size bound.
 *
 * @module
 */

const integer = isIntegerIn;

/** The keys the module adds to audit metadata itself. */
export interface SystemMetadata {
  outcome?: unknown;
  errorClass?: unknown;
  status?: unknown;
  requestId?: unknown;
}

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const CLASS_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;

/**
 * `value` if it may be stored as a request id, else null: a UUID or a ULID that hides no identity
 * number, or a token of at most 64 characters of `[A-Za-z0-9._:-]` that no detector catches.
 */
export function safeRequestId(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  if (isUuidText(value) || isUlidText(value)) {
    return idHidesNumber(value) ? null : value;
  }
  return TOKEN.test(value) && detectSensitive(value) === null ? value : null;
}

/**
 * A new request id: a random UUID that {@link safeRequestId} accepts (about one random UUID in a
 * hundred looks as if it hid an identity number, and is drawn again).
 */
export function newRequestId(): string {
  for (;;) {
    const id = randomUUID();
    if (!idHidesNumber(id)) return id;
  }
}

/**
 * The system keys that obey the rules, and the ones that do not (as `MetadataDrop`s): `outcome` is
 * `'success'` or `'failure'`, `errorClass` a class name no detector catches, `status` an HTTP
 * status (100-599), `requestId` as {@link safeRequestId}. `undefined` and `null` are left out.
 */
export function systemMetadata(system: SystemMetadata): SanitizedMetadata {
  const metadata: Record<string, unknown> = {};
  const dropped: MetadataDrop[] = [];
  const keep = (key: keyof SystemMetadata, ok: boolean, rule: MetadataRule) => {
    const value = system[key];
    if (value === undefined || value === null) return;
    if (ok) metadata[key] = value;
    else dropped.push({ path: key, rule });
  };
  const { outcome, errorClass, status, requestId } = system;
  keep(
    'outcome',
    outcome === 'success' || outcome === 'failure',
    'not_an_identifier',
  );
  keep(
    'errorClass',
    typeof errorClass === 'string' &&
      CLASS_NAME.test(errorClass) &&
      detectSensitive(errorClass) === null,
    'not_an_identifier',
  );
  keep('status', integer(status, 100, 599), 'not_a_count');
  keep('requestId', safeRequestId(requestId) !== null, 'identity_number');
  return { metadata, dropped };
}

/**
 * The metadata as stored: the sanitized `declared` keys and the checked system keys, which take
 * precedence, within {@link AUDIT_METADATA_MAX_BYTES}; declared keys are dropped from the last back
 * until it fits (`too_large`), which the policy's `maxBytes` makes rare.
 */
export function storedMetadata(
  declared: Record<string, unknown>,
  system: SystemMetadata,
): SanitizedMetadata {
  const checked = systemMetadata(system);
  const metadata: Record<string, unknown> = {
    ...declared,
    ...checked.metadata,
  };
  const keys = Object.keys(declared).filter((k) => !(k in checked.metadata));
  while (keys.length > 0 && jsonBytes(metadata) > AUDIT_METADATA_MAX_BYTES) {
    const key = keys.pop()!;
    delete metadata[key];
    checked.dropped.push({ path: key, rule: 'too_large' });
  }
  return { metadata, dropped: checked.dropped };
}
