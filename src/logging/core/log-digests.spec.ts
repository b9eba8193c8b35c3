import { createHmac, randomBytes } from 'node:crypto';
import { LogDigests } from './log-digests.js';

/** The digests as node:crypto's HMAC-SHA256 makes them, for comparison. */
function expected(key: Buffer, purpose: string, value: string, bytes: number) {
  return createHmac('sha256', key)
    .update(`logging ${purpose}\0`, 'utf8')
    .update(value, 'utf8')
    .digest()
    .subarray(0, bytes);
}

/** Letters `a` to `p` back to bytes. */
function bytesOf(letters: string): Buffer {
  const bytes = Buffer.alloc(letters.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] =
      ((letters.charCodeAt(2 * i) - 97) << 4) |
      (letters.charCodeAt(2 * i + 1) - 97);
  }
  return bytes;
}

describe('LogDigests: HMAC-SHA256 as node:crypto makes it', () => {
  it("gives a request id's digest of every length to 300, for keys of 32 to 100 bytes", () => {
    for (const size of [32, 33, 63, 64, 65, 100]) {
      const key = randomBytes(size);
      const digests = new LogDigests(key);
      for (let length = 0; length <= 300; length++) {
        const value = randomBytes(length)
          .toString('base64')
          .slice(0, length)
          .padEnd(length, '~');
        expect(bytesOf(digests.requestId(value))).toEqual(
          expected(key, 'request id', value, 16),
        );
      }
    }
  });

  it('gives the same digests for text beyond ASCII, and for values made one after another', () => {
    const key = randomBytes(32);
    const digests = new LogDigests(key);
    const values = ['é', 'req-漢字-1', '😀'.repeat(100), 'a'.repeat(257), ''];
    const made = values.map((value) => digests.requestId(value));
    values.forEach((value, i) =>
      expect(bytesOf(made[i])).toEqual(expected(key, 'request id', value, 16)),
    );
  });

  it("gives the ledger's digests and the key's id", () => {
    const key = randomBytes(40);
    const digests = new LogDigests(key);
    expect(bytesOf(digests.keyId)).toEqual(expected(key, 'key id', '', 4));
    const sent = digests.sent('{"amount":"12.50"}', 'user-1 key-7');
    expect(sent.slice(0, 8)).toBe(digests.keyId);
    expect(bytesOf(sent.slice(8))).toEqual(
      expected(key, 'sent user-1 key-7', '{"amount":"12.50"}', 12),
    );
  });
});
