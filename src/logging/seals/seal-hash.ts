import { createHash, type Hash } from 'node:crypto';
import type { SealEncoding } from './seal-encoding.js';
import {
  encodeGroups,
  GROUPS_SEPARATOR,
  ReferenceGroups,
} from './seal-references.js';

/**
 * SHA-256 of a previous digest followed by the canonical encodings of rows fed in order; under
 * encoding 2, followed also by the rows' reference groups (docs/tamper-evidence.md).
 */
export class SealHash {
  private readonly hash: Hash;
  private pending: string[] = [];
  /** Encoding 2: the rows' reference groups, kept as they are fed. */
  readonly groups: ReferenceGroups | undefined;
  rows = 0;

  constructor(previousDigest: string, encoding: SealEncoding = 1) {
    this.hash = createHash('sha256').update(Buffer.from(previousDigest, 'hex'));
    this.groups = encoding === 2 ? new ReferenceGroups() : undefined;
  }

  /**
   * Feeds one row's canonical encoding (computed in SQL, `encodingSql`); encoding 2 needs the
   * row's id and reference too.
   */
  add(encoded: string, row?: { id: string; ref: string | null }): void {
    if (this.groups) {
      if (!row)
        throw new Error('SealHash: encoding 2 needs each row id and reference');
      this.groups.add(row.id, row.ref);
    }
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
    if (this.groups) {
      this.hash.update(
        GROUPS_SEPARATOR + encodeGroups(this.groups.list()),
        'utf8',
      );
    }
    return this.hash.digest('hex');
  }
}
