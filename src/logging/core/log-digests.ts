import { createHash, createHmac, hash, randomBytes } from 'node:crypto';

/** Fewest bytes a configured `digestKey` holds: 256 bits, HMAC-SHA256's own strength. */
export const DIGEST_KEY_MIN_BYTES = 32;

/** The key of the processes whose host configured none: drawn once, when the module is loaded. */
const PROCESS_KEY = randomBytes(DIGEST_KEY_MIN_BYTES);

/** Letters of the id of a key, which begin the ledger's digests. */
export const KEY_ID_LETTERS = 8;

/** Letters of a request id's digest: 128 bits, two letters a byte. */
const REQUEST_ID_LETTERS = 32;

/** Each byte's two letters. */
const BYTE_LETTERS = Array.from({ length: 256 }, (_, byte) =>
  String.fromCharCode(97 + (byte >> 4), 97 + (byte & 15)),
);

/**
 * Bytes as the letters `a` to `p`, two a byte (high half first): no detector of numbers, codes or
 * words can ever see anything in them.
 */
function letters(bytes: Buffer, length = bytes.length): string {
  let text = '';
  for (let i = 0; i < length; i++) text += BYTE_LETTERS[bytes[i]];
  return text;
}

/** SHA-256's block, in bytes: HMAC's pads are one block long. */
const BLOCK = 64;
/** The longest value, in UTF-8 bytes, {@link PurposeMac} takes (request ids hold 200 at most). */
const MAC_ROOM = 256;

/**
 * HMAC-SHA256 of `logging <purpose>\0<value>` (RFC 2104, the same bytes as `createHmac`), for one
 * purpose, made with two one-shot `crypto.hash` calls on buffers filled once: the key's pads and
 * the purpose are written once, each value into the room after them, where `createHmac` makes an
 * object, imports the key and calls into the binding three times per digest: this is paid per
 * audited request. Values longer than the room, and Node versions whose `crypto.hash` does not give
 * bytes, go through `createHmac`.
 */
class PurposeMac {
  private readonly inner: Buffer;
  private readonly outer: Buffer;
  /** Where a value is written into `inner`. */
  private readonly at: number;
  private fast = true;

  constructor(
    private readonly key: Buffer,
    private readonly prefix: string,
  ) {
    const block = Buffer.alloc(BLOCK);
    (key.length > BLOCK ? createHash('sha256').update(key).digest() : key).copy(
      block,
    );
    const prefixBytes = Buffer.from(prefix, 'utf8');
    this.at = BLOCK + prefixBytes.length;
    this.inner = Buffer.alloc(this.at + MAC_ROOM);
    this.outer = Buffer.alloc(BLOCK + 32);
    for (let i = 0; i < BLOCK; i++) {
      this.inner[i] = block[i] ^ 0x36;
      this.outer[i] = block[i] ^ 0x5c;
    }
    prefixBytes.copy(this.inner, BLOCK);
    this.fast = this.selfCheck();
  }

  digest(value: string): Buffer {
    if (this.fast && value.length <= MAC_ROOM) {
      const length = this.inner.write(value, this.at, 'utf8');
      // a value that does not fit whole is written short: createHmac takes it
      if (Buffer.byteLength(value, 'utf8') === length) {
        const digest = hash(
          'sha256',
          this.inner.subarray(0, this.at + length),
          'buffer',
        );
        digest.copy(this.outer, BLOCK);
        return hash('sha256', this.outer, 'buffer');
      }
    }
    return this.slow(value);
  }

  private slow(value: string): Buffer {
    return createHmac('sha256', this.key)
      .update(this.prefix, 'utf8')
      .update(value, 'utf8')
      .digest();
  }

  /** Whether the one-shot path gives `createHmac`'s bytes on this Node. */
  private selfCheck(): boolean {
    try {
      return ['', 'a', '0198a7c2-7d2e-7a1b-9f00-3c4d5e6f7a8b', 'é€'].every(
        (value) => this.digest(value).equals(this.slow(value)),
      );
    } catch {
      return false;
    }
  }
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
  private readonly key: Buffer;
  /** Whether the key is the host's `digestKey` (false: drawn for this process). */
  readonly configured: boolean;
  /** 8 letters naming the key, stored beside the ledger's digests: which key made them. */
  readonly keyId: string;

  /** The MAC of request ids, its pads made once. */
  private readonly requestIdMac: PurposeMac;

  constructor(key?: Buffer) {
    this.configured = key !== undefined;
    this.key = key ?? PROCESS_KEY;
    this.keyId = letters(
      this.mac('key id', '').subarray(0, KEY_ID_LETTERS / 2),
    );
    this.requestIdMac = new PurposeMac(this.key, macPrefix('request id'));
  }

  /** The digest of request id `value` stored as the `requestId` of audit metadata: 32 letters. */
  requestId(value: string): string {
    return letters(this.requestIdMac.digest(value), REQUEST_ID_LETTERS / 2);
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

  private mac(purpose: string, value: string): Buffer {
    return createHmac('sha256', this.key)
      .update(macPrefix(purpose), 'utf8')
      .update(value, 'utf8')
      .digest();
  }
}

/** What a MAC of `purpose` hashes before the value: the purpose holds no NUL, so the two cannot run into each other. */
function macPrefix(purpose: string): string {
  return `logging ${purpose}\0`;
}
