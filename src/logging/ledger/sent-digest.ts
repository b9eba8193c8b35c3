import { KEY_ID_LETTERS, type LogDigests } from '../core/log-digests.js';

/** The key of the digest of the metadata sent, stored when the policy dropped part of it. */
export const SENT_DIGEST = 'sentDigest';

/**
 * A digest of the metadata a caller sent, salted with the user and the idempotency key, keyed with
 * the module's `digestKey` (HMAC-SHA256 of its canonical JSON): the key's id, then 96 bits, all as
 * letters `a`-`p`, so no detector can ever see a number in it. Stored only when the policy dropped
 * part of the metadata, so that a replay with other metadata conflicts even where the difference
 * was dropped; without the key, trying candidate values against it finds nothing.
 */
export function sentDigest(
  metadata: unknown,
  salt: string,
  digests: LogDigests,
): string {
  return digests.sent(canonical(metadata, 0), salt);
}

/** JSON with sorted keys, bounded in depth; values JSON cannot hold named by their type. */
function canonical(value: unknown, depth: number): string {
  if (value === undefined || value === null) return 'null';
  if (depth > 8) return '"…"';
  try {
    if (typeof value === 'object') {
      if (Array.isArray(value)) {
        return `[${value.map((v) => canonical(v, depth + 1)).join(',')}]`;
      }
      const record = value as Record<string, unknown>;
      return `{${Object.keys(record)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonical(record[k], depth + 1)}`)
        .join(',')}}`;
    }
    return ['string', 'number', 'boolean'].includes(typeof value)
      ? JSON.stringify(value)
      : `{"$type":"${typeof value}"}`;
  } catch {
    return '{"$type":"unreadable"}';
  }
}

/**
 * Whether a replay sent the metadata the first call sent: `stored` is the first call's stored
 * metadata, `write` what the replay would store, `digest` the digest of what it sent. A first
 * digest made under another key (another process without a configured `digestKey`, or before
 * keyed digests) cannot be compared: then the replay matches when what it would store, digest
 * aside, is what the first call stored (a difference only in dropped values goes unseen).
 */
export function sameSent(
  stored: Record<string, unknown> | null,
  write: string | null,
  digest: string,
): boolean {
  const keyId = digest.slice(0, KEY_ID_LETTERS);
  const first =
    stored !== null && typeof stored[SENT_DIGEST] === 'string'
      ? stored[SENT_DIGEST]
      : undefined;
  if (first !== undefined && first.startsWith(keyId)) return first === digest;
  if (first !== undefined) {
    if (write === null || !write.includes(`"${SENT_DIGEST}"`)) return false;
    const { [SENT_DIGEST]: _first, ...kept } = stored!;
    const { [SENT_DIGEST]: _replay, ...again } = JSON.parse(write) as Record<
      string,
      unknown
    >;
    return canonical(kept, 0) === canonical(again, 0);
  }
  // Nothing was dropped the first time: what was stored is what was sent.
  return write === null
    ? stored === null
    : !write.includes(`"${SENT_DIGEST}"`) &&
        canonical(stored, 0) === canonical(JSON.parse(write), 0);
}
