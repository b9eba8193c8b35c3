import { createHash, type Hash } from 'node:crypto';

/** SHA-256 of a previous digest followed by the canonical encodings of rows fed in order. */
export class SealHash {
  private readonly hash: Hash;
  private pending: string[] = [];
  rows = 0;

  constructor(previousDigest: string) {
    this.hash = createHash('sha256').update(Buffer.from(previousDigest, 'hex'));
  }

  /** Feeds one row's canonical encoding (computed in SQL, `encodingSql`). */
  add(encoded: string): void {
    this.pending.push(encoded);
    this.rows++;
    // hashing joined chunks is several times faster than one update per row
    if (this.pending.length === 1000) this.drain();
  }

  private drain(): void {
    this.hash.update(this.pending.join(''), 'utf8');
    this.pending = [];
  }

  /** The hex digest; the hash takes no more rows. */
  digest(): string {
    this.drain();
    return this.hash.digest('hex');
  }
}
