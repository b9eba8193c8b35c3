import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { HmacSha256 } from './hmac-sha256.js';
import { LogDigests } from './log-digests.js';

const reference = (key: Buffer, prefix: string, value: string) =>
  createHmac('sha256', key)
    .update(prefix, 'utf8')
    .update(value, 'utf8')
    .digest();

const words = (digest: Buffer, count = 8) =>
  Array.from({ length: count }, (_, i) => digest.readInt32BE(i * 4));

/** A string of `length` visible ASCII characters. */
const ascii = (length: number) =>
  String.fromCharCode(...Array.from({ length }, () => randomInt(0x21, 0x7f)));

describe('HmacSha256: the digests of createHmac', () => {
  it.each([16, 32, 64, 65, 100])(
    'under a key of %i bytes, for values of every length up to 300',
    (keyLength) => {
      const key = randomBytes(keyLength);
      for (const prefix of ['logging request id\0', '', 'p'.repeat(70)]) {
        const mac = new HmacSha256(key, prefix);
        for (let length = 0; length <= 300; length++) {
          const value = ascii(length);
          expect(Array.from(mac.words(value))).toEqual(
            words(reference(key, prefix, value)),
          );
        }
      }
    },
  );

  it('for values that are not ASCII, and into fewer words', () => {
    const key = randomBytes(32);
    const mac = new HmacSha256(key, 'logging request id\0');
    for (const value of ['é', 'req-€-1', '\u{1F600}', 'a\u0080b']) {
      expect(Array.from(mac.words(value, new Int32Array(4)))).toEqual(
        words(reference(key, 'logging request id\0', value), 4),
      );
    }
  });
});

describe('LogDigests.requestId', () => {
  it("is the first 16 bytes of the request id's HMAC, as the letters a to p", () => {
    const key = randomBytes(32);
    const digests = new LogDigests(key);
    for (const value of [
      '0198a7c2-7d2e-7a1b-9f00-3c4d5e6f7a8b',
      'req-1',
      ascii(200),
    ]) {
      const expected = [
        ...reference(key, 'logging request id\0', value).subarray(0, 16),
      ]
        .map((byte) => String.fromCharCode(97 + (byte >> 4), 97 + (byte & 15)))
        .join('');
      expect(digests.requestId(value)).toBe(expected);
    }
  });
});
