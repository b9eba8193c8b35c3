import { createHash } from 'node:crypto';

/** The key of the digest of the metadata sent, stored when the policy dropped part of it. */
export const SENT_DIGEST = 'sentDigest';

/**
 * A digest of the metadata a caller sent, salted with the user and the idempotency key: SHA-256 of
 * its canonical JSON, 96 bits written as letters `a`-`p`, so no detector can ever see a number in
 * it. Stored only when the policy dropped part of the metadata, so that a replay with other
 * metadata conflicts even where the difference was dropped.
 */
export function sentDigest(metadata: unknown, salt: string): string {
  const hash = createHash('sha256').update(salt).update(canonical(metadata, 0));
  return [...hash.digest().subarray(0, 12)]
    .map((byte) => String.fromCharCode(97 + (byte >> 4), 97 + (byte & 15)))
    .join('');
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
 * metadata, `write` what the replay would store, `digest` the digest of what it sent.
 */
export function sameSent(
  stored: Record<string, unknown> | null,
  write: string | null,
  digest: string,
): boolean {
  const first =
    stored !== null && typeof stored[SENT_DIGEST] === 'string'
      ? stored[SENT_DIGEST]
      : undefined;
  if (first !== undefined) return first === digest;
  // Nothing was dropped the first time: what was stored is what was sent.
  return write === null
    ? stored === null
    : !write.includes(`"${SENT_DIGEST}"`) &&
        canonical(stored, 0) === canonical(JSON.parse(write), 0);
}
