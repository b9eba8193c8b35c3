import { createHash, type Hash } from 'node:crypto';
import {
  encodeRow,
  type CanonicalRow,
  type SealableLog,
} from './seal-encoding.js';

/** SHA-256 of a previous digest followed by the canonical encodings of rows fed in order. */
export class SealHash {
  private readonly hash: Hash;
  private pending: string[] = [];
  rows = 0;

  constructor(
    private readonly log: SealableLog,
    previousDigest: string,
  ) {
    this.hash = createHash('sha256').update(Buffer.from(previousDigest, 'hex'));
  }

  add(row: CanonicalRow): void {
    this.pending.push(encodeRow(this.log, row));
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
