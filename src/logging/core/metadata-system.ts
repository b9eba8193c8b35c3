import { randomUUID } from 'node:crypto';
import { isIntegerIn } from './option-check.js';
import { isRequestIdDigest } from './log-digests.js';
import { detectSensitive } from './sensitive-values.js';
import { AUDIT_METADATA_MAX_BYTES } from './logging.constants.js';
import type { SanitizedMetadata } from './metadata-policy.types.js';
import {
  jsonBytes,
  type MetadataDrop,
  type MetadataRule,
} from './metadata-walk.js';

/**
 * The keys the module adds to audit metadata itself (`outcome`, `errorClass`, `status`,
 * `requestId`, `values`, `attempt`, `metadataRefused`) obey rules of their own, and the metadata as stored obeys the
 * size bound.
 *
 * @module
 */

const integer = isIntegerIn;

/** The keys the module adds to audit metadata itself. */
export interface SystemMetadata {
  /** `'success'`, `'failure'` or `'cancelled'`. */
  outcome?: unknown;
  errorClass?: unknown;
  status?: unknown;
  requestId?: unknown;
  /** How many values an audited handler emitted, where it is not the usual single answer. */
  values?: unknown;
  /** The run of the call (2, 3...) when an outer `retry()` ran it again. */
  attempt?: unknown;
  /** `true` when the strict metadata policy refused the picked metadata, left out of the row. */
  metadataRefused?: unknown;
}

const CLASS_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;
/** A request id as taken from a header or a context: 1 to 200 visible ASCII characters. */
const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * `value` if it may serve as a request id, else null: 1 to 200 visible ASCII characters. It is
 * never stored as given (its keyed digest is, `LogDigests.requestId`), so what it holds does not
 * matter; the bound keeps headers from being hashed at any length.
 */
export function safeRequestId(value: unknown): string | null {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : null;
}

/** A new request id: a random UUID. */
export function newRequestId(): string {
  return randomUUID();
}

/**
 * The system keys that obey the rules, and the ones that do not (as `MetadataDrop`s): `outcome` is
 * `'success'`, `'failure'` or `'cancelled'`, `errorClass` a class name no detector catches,
 * `status` an HTTP status (100-599), `requestId` a request id's keyed digest
 * (`LogDigests.requestId`), `values` a count, `attempt` a count from 2, `metadataRefused` `true`.
 * `undefined` and `null` are left out.
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
  const {
    outcome,
    errorClass,
    status,
    requestId,
    values,
    attempt,
    metadataRefused,
  } = system;
  keep(
    'outcome',
    outcome === 'success' || outcome === 'failure' || outcome === 'cancelled',
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
  // the keyed digest of the request id, made by the caller: the id itself is never stored
  keep('requestId', isRequestIdDigest(requestId), 'not_an_identifier');
  keep('values', integer(values, 0), 'not_a_count');
  keep('attempt', integer(attempt, 2), 'not_a_count');
  keep('metadataRefused', metadataRefused === true, 'not_a_boolean');
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
