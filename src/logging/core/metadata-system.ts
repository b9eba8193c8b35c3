import { randomUUID } from 'node:crypto';
import { isIntegerIn } from './option-check.js';
import { isRequestIdDigest } from './log-digests.js';
import { detectSensitive } from './sensitive-values.js';
import { AUDIT_METADATA_MAX_BYTES } from './logging.constants.js';
import type { SanitizedMetadata } from './metadata-policy.types.js';
import { jsonBytes, type MetadataDrop } from './metadata-walk.js';

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
  const {
    outcome,
    errorClass,
    status,
    requestId,
    values,
    attempt,
    metadataRefused,
  } = system;
  // each key kept when it obeys its rule, reported when it does not; undefined and null left out
  if (outcome !== undefined && outcome !== null) {
    if (
      outcome === 'success' ||
      outcome === 'failure' ||
      outcome === 'cancelled'
    ) {
      metadata.outcome = outcome;
    } else dropped.push({ path: 'outcome', rule: 'not_an_identifier' });
  }
  if (errorClass !== undefined && errorClass !== null) {
    if (
      typeof errorClass === 'string' &&
      CLASS_NAME.test(errorClass) &&
      detectSensitive(errorClass) === null
    ) {
      metadata.errorClass = errorClass;
    } else dropped.push({ path: 'errorClass', rule: 'not_an_identifier' });
  }
  if (status !== undefined && status !== null) {
    if (integer(status, 100, 599)) metadata.status = status;
    else dropped.push({ path: 'status', rule: 'not_a_count' });
  }
  // the keyed digest of the request id, made by the caller: the id itself is never stored
  if (requestId !== undefined && requestId !== null) {
    if (isRequestIdDigest(requestId)) metadata.requestId = requestId;
    else dropped.push({ path: 'requestId', rule: 'not_an_identifier' });
  }
  if (values !== undefined && values !== null) {
    if (integer(values, 0)) metadata.values = values;
    else dropped.push({ path: 'values', rule: 'not_a_count' });
  }
  if (attempt !== undefined && attempt !== null) {
    if (integer(attempt, 2)) metadata.attempt = attempt;
    else dropped.push({ path: 'attempt', rule: 'not_a_count' });
  }
  if (metadataRefused !== undefined && metadataRefused !== null) {
    if (metadataRefused === true) metadata.metadataRefused = true;
    else dropped.push({ path: 'metadataRefused', rule: 'not_a_boolean' });
  }
  return { metadata, dropped };
}

/**
 * The metadata as stored: the sanitized `declared` keys and the checked system keys, which take
 * precedence, within {@link AUDIT_METADATA_MAX_BYTES}; declared keys are dropped from the last back
 * until it fits (`too_large`), which the policy's `maxBytes` makes rare. Without declared keys, the
 * system keys alone, which always fit.
 */
export function storedMetadata(
  declared: Record<string, unknown> | undefined,
  system: SystemMetadata,
): SanitizedMetadata {
  const checked = systemMetadata(system);
  if (declared === undefined) return checked;
  const keys = Object.keys(declared);
  if (keys.length === 0) return checked;
  const metadata: Record<string, unknown> = {
    ...declared,
    ...checked.metadata,
  };
  const trimmable = keys.filter((k) => !(k in checked.metadata));
  while (
    trimmable.length > 0 &&
    jsonBytes(metadata) > AUDIT_METADATA_MAX_BYTES
  ) {
    const key = trimmable.pop()!;
    delete metadata[key];
    checked.dropped.push({ path: key, rule: 'too_large' });
  }
  return { metadata, dropped: checked.dropped };
}
