import { randomBytes } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

/** Fewest bytes a configured `digestKey` holds: 256 bits, HMAC-SHA256's own strength. */
export const DIGEST_KEY_MIN_BYTES = 32;

/** The key of the processes whose host configured none: drawn once, when the module is loaded. */
const PROCESS_KEY = randomBytes(DIGEST_KEY_MIN_BYTES);

/** Letters of the id of a key, which begin the ledger's digests. */
export const KEY_ID_LETTERS = 8;

/** Letters of a request id's digest: 128 bits, two letters a byte. */
const REQUEST_ID_LETTERS = 32;

/** The letters of a digest, reused: the string is read out of it once they are all set. */
const LETTER_BYTES = Buffer.alloc(64);

/**
 * Bytes (at most 32) as the letters `a` to `p`, two a byte (high half first): no detector of
 * numbers, codes or words can ever see anything in them.
 */
function letters(bytes: Uint8Array): string {
  for (let i = 0; i < bytes.length; i++) {
    LETTER_BYTES[2 * i] = 97 + (bytes[i] >> 4);
    LETTER_BYTES[2 * i + 1] = 97 + (bytes[i] & 15);
  }
  return LETTER_BYTES.toString('latin1', 0, 2 * bytes.length);
}

/** Whether `value` is a request id's digest as {@link LogDigests.requestId} writes it. */
export function isRequestIdDigest(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length === REQUEST_ID_LETTERS &&
    /^[a-p]+$/.test(value)
  );
}

/**
 * Checks the `digestKey` option: a string of at least 32 UTF-8 bytes or a Buffer of at least 32
 * bytes, or undefined (a key drawn per process).
 */
export function resolveDigestKey(key: unknown): Buffer | undefined {
  if (key === undefined) return undefined;
  const bytes =
    typeof key === 'string'
      ? Buffer.from(key, 'utf8')
      : Buffer.isBuffer(key)
        ? Buffer.from(key)
        : undefined;
  if (bytes === undefined || bytes.length < DIGEST_KEY_MIN_BYTES) {
    throw new Error(
      `LoggingModule option digestKey must be a string or Buffer of at least ${DIGEST_KEY_MIN_BYTES} bytes (for example \`openssl rand -base64 32\`, kept as a secret)`,
    );
  }
  return bytes;
}

/**
 * The keyed digests the module stores instead of values it must not store as given: the request
 * id of audit rows, and the ledger's digest of metadata the policy dropped. HMAC-SHA256 under the
 * host's `digestKey`; without one, under a key drawn once per process, so that digests made by two
 * processes, or before and after a restart, cannot be matched. Without the key, a digest
 * cannot be matched to a candidate value by trying values: that is the point.
 */
export class LogDigests {
  /** Whether the key is the host's `digestKey` (false: drawn for this process). */
  readonly configured: boolean;
  /** 8 letters naming the key, stored beside the ledger's digests: which key made them. */
  readonly keyId: string;
  /** HMAC-SHA256 under the key, its pads hashed once. */
  private readonly keyed: KeyedMac;
  /** The same, `logging request id\0` hashed after the pads: a request id's digest goes on from it. */
  private readonly requestIds: KeyedMac;

  constructor(key?: Buffer) {
    this.configured = key !== undefined;
    const base: Mac = hmac.create(sha256, key ?? PROCESS_KEY);
    this.keyed = new KeyedMac(base);
    this.requestIds = new KeyedMac(
      base.clone().update(utf8(macPrefix('request id'))),
    );
    this.keyId = letters(
      this.mac('key id', '').subarray(0, KEY_ID_LETTERS / 2),
    );
  }

  /** The digest of request id `value` stored as the `requestId` of audit metadata: 32 letters. */
  requestId(value: string): string {
    return letters(
      this.requestIds.digest(value).subarray(0, REQUEST_ID_LETTERS / 2),
    );
  }

  /**
   * The ledger's digest of the metadata sent (`canonical`, its canonical JSON), salted with the
   * user and the idempotency key (`salt`): the key's id then 24 letters (96 bits).
   */
  sent(canonical: string, salt: string): string {
    return (
      this.keyId + letters(this.mac(`sent ${salt}`, canonical).subarray(0, 12))
    );
  }

  private mac(purpose: string, value: string): Uint8Array {
    return this.keyed.digest(macPrefix(purpose) + value);
  }
}

/**
 * What a MAC of `purpose` hashes before the value: the purpose holds no NUL, so the two cannot run
 * into each other.
 */
function macPrefix(purpose: string): string {
  return `logging ${purpose}\0`;
}

/** What the digests use of a MAC of `@noble/hashes`. */
interface Mac {
  update(bytes: Uint8Array): Mac;
  digestInto(out: Uint8Array): void;
  clone(): Mac;
  /** Copies the state into `to` (an instance of the same MAC) or a new instance. */
  _cloneInto(to?: Mac): Mac;
}

const UTF8 = new TextEncoder();

function utf8(text: string): Uint8Array {
  return UTF8.encode(text);
}

/**
 * HMAC-SHA256 digests going on from one keyed state: each digest hashes a copy of it, so the key's
 * pads are hashed once. SHA-256 in JavaScript (`@noble/hashes`), not a call into OpenSSL: in a busy
 * app, with caches cold from the request's own work, `createHmac` took 50 to 80 µs a call where this
 * takes about 15 (bench/README.md, "bench/endpoint"). The digests are the same bytes as
 * `createHmac`'s (log-digests.spec.ts).
 */
class KeyedMac {
  /** Where an ASCII value is written as bytes, reused. */
  private bytes = new Uint8Array(256);
  /** Where a digest is written, reused: a digest is read before the next is made. */
  private readonly out = new Uint8Array(32);
  /** The state a digest is made in, a copy of the base's each time, reused. */
  private scratch: Mac | undefined;

  constructor(private readonly base: Mac) {}

  /** The digest of `value` (as UTF-8) after what the base holds; valid until the next call. */
  digest(value: string): Uint8Array {
    const mac = (this.scratch = this.base._cloneInto(this.scratch));
    mac.update(this.encode(value));
    mac.digestInto(this.out);
    return this.out;
  }

  /** `value` as UTF-8: an ASCII value into the reused bytes, anything else through TextEncoder. */
  private encode(value: string): Uint8Array {
    const { length } = value;
    if (length > this.bytes.length) return utf8(value);
    const bytes = this.bytes;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code > 0x7f) return utf8(value);
      bytes[i] = code;
    }
    return bytes.subarray(0, length);
  }
}
