import { createHash, createHmac } from 'node:crypto';

/**
 * HMAC-SHA256 (RFC 2104 over FIPS 180-4) of `<prefix><value>` under one key, for short ASCII
 * values, in JavaScript: the key's inner and outer pads are hashed once, so a value costs the
 * SHA-256 blocks of its own bytes and one block of the outer hash (two compressions for a request
 * id), with no object, buffer or call into the binding per digest. `createHmac` makes an object,
 * imports the key and crosses into the binding three times per digest, several times the CPU: this
 * is paid per audited request.
 *
 * Every digest is `createHmac('sha256', key).update(prefix).update(value)`'s: the first bytes are
 * checked against it when made (any difference and every digest goes through `createHmac`), and
 * values that are not ASCII or longer than {@link MAX_VALUE} go through it too.
 *
 * @module
 */

/** The longest value, in characters, digested here; longer ones go through `createHmac`. */
const MAX_VALUE = 256;

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
  0x1f83d9ab, 0x5be0cd19,
]);

/** The message schedule, shared: a digest runs to its end without yielding. */
const W = new Int32Array(64);

/** SHA-256's compression of the 64-byte block at `offset` of `bytes` into `state`. */
function compress(state: Int32Array, bytes: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4;
    W[i] =
      (bytes[j] << 24) |
      (bytes[j + 1] << 16) |
      (bytes[j + 2] << 8) |
      bytes[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15];
    const w2 = W[i - 2];
    const s0 =
      ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 =
      ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  let e = state[4];
  let f = state[5];
  let g = state[6];
  let h = state[7];
  for (let i = 0; i < 64; i++) {
    const s1 =
      ((e >>> 6) | (e << 26)) ^
      ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const s0 =
      ((a >>> 2) | (a << 30)) ^
      ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

/** The state after the 64-byte block `key` XOR `pad`. */
function padState(key: Buffer, pad: number): Int32Array {
  const block = new Uint8Array(64);
  for (let i = 0; i < 64; i++) block[i] = (key[i] ?? 0) ^ pad;
  const state = new Int32Array(INITIAL);
  compress(state, block, 0);
  return state;
}

/** Writes `length` (in bytes) as SHA-256's 64-bit bit count into the last 8 bytes before `end`. */
function writeLength(bytes: Uint8Array, end: number, length: number): void {
  const bits = length * 8;
  const high = Math.floor(bits / 2 ** 32);
  const low = bits >>> 0;
  for (let i = 0; i < 4; i++) {
    bytes[end - 8 + i] = (high >>> (24 - 8 * i)) & 0xff;
    bytes[end - 4 + i] = (low >>> (24 - 8 * i)) & 0xff;
  }
}

/** HMAC-SHA256 of `<prefix><value>` under one key; see the module's notes. */
export class HmacSha256 {
  private readonly inner: Int32Array;
  private readonly outer: Int32Array;
  /** The inner message, the prefix written once, then the value, its padding and length. */
  private readonly message: Uint8Array;
  private readonly prefixLength: number;
  /** The outer message: the inner digest, its padding and length, one block. */
  private readonly outerBlock = new Uint8Array(64);
  private readonly state = new Int32Array(8);
  private fast = true;

  constructor(
    private readonly key: Buffer,
    private readonly prefix: string,
  ) {
    const block =
      key.length > 64 ? createHash('sha256').update(key).digest() : key;
    this.inner = padState(block, 0x36);
    this.outer = padState(block, 0x5c);
    const prefixBytes = Buffer.from(prefix, 'utf8');
    this.prefixLength = prefixBytes.length;
    this.message = new Uint8Array(
      Math.ceil((this.prefixLength + MAX_VALUE + 9) / 64) * 64,
    );
    this.message.set(prefixBytes);
    this.outerBlock[32] = 0x80;
    writeLength(this.outerBlock, 64, 64 + 32);
    this.fast = this.agrees();
  }

  /**
   * The first `words` 32-bit words of the digest of `value` (big-endian, as the digest's bytes
   * read), in `into`; `into` is returned.
   */
  words(value: string, into: Int32Array = new Int32Array(8)): Int32Array {
    if (this.fast && value.length <= MAX_VALUE && this.write(value)) {
      const state = this.state;
      const length = this.prefixLength + value.length;
      const blocks = Math.ceil((length + 9) / 64);
      state.set(this.inner);
      for (let i = 0; i < blocks; i++) compress(state, this.message, i * 64);
      const block = this.outerBlock;
      for (let i = 0; i < 8; i++) {
        const word = state[i];
        block[i * 4] = word >>> 24;
        block[i * 4 + 1] = (word >>> 16) & 0xff;
        block[i * 4 + 2] = (word >>> 8) & 0xff;
        block[i * 4 + 3] = word & 0xff;
      }
      state.set(this.outer);
      compress(state, block, 0);
      into.set(state.subarray(0, into.length));
      return into;
    }
    const digest = this.slow(value);
    for (let i = 0; i < into.length; i++) into[i] = digest.readInt32BE(i * 4);
    return into;
  }

  /** The digest of `value` by `createHmac`. */
  slow(value: string): Buffer {
    return createHmac('sha256', this.key)
      .update(this.prefix, 'utf8')
      .update(value, 'utf8')
      .digest();
  }

  /**
   * Writes `value` after the prefix, with SHA-256's padding and length; false for a value that is
   * not ASCII.
   */
  private write(value: string): boolean {
    const message = this.message;
    let at = this.prefixLength;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code > 0x7f) return false;
      message[at++] = code;
    }
    const end = Math.ceil((at + 9) / 64) * 64;
    message[at++] = 0x80;
    message.fill(0, at, end - 8);
    writeLength(message, end, 64 + this.prefixLength + value.length);
    return true;
  }

  /** Whether the digests made here are `createHmac`'s, over values of every block count. */
  private agrees(): boolean {
    const samples = ['', 'a', '0198a7c2-7d2e-7a1b-9f00-3c4d5e6f7a8b'];
    // the lengths around each block's end, and the longest
    for (const total of [55, 56, 63, 64, 119, 120, 183, 184]) {
      const length = total - this.prefixLength;
      if (length >= 0 && length <= MAX_VALUE) samples.push('x'.repeat(length));
    }
    samples.push('y'.repeat(MAX_VALUE));
    return samples.every((value) => {
      const words = this.words(value);
      const digest = this.slow(value);
      return words.every((word, i) => word === digest.readInt32BE(i * 4));
    });
  }
}
