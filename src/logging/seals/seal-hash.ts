import { createHash, type Hash } from 'node:crypto';
import type { CopyRow } from './seal-copy.js';
import type { SealEncoding } from './seal-encoding.js';
import {
  encodeGroups,
  GROUPS_SEPARATOR,
  ReferenceGroups,
  type ReferenceGroup,
} from './seal-references.js';

/** Bytes gathered before they are hashed: one update per this many, not one per field. */
const BUFFER = 16 * 1024;
const DASH = 0x2d;
const COLON = 0x3a;
const ZERO = 0x30;

/**
 * SHA-256 of a previous digest followed by the canonical encodings of rows fed in order; under
 * encoding 2, followed also by the rows' reference groups (docs/tamper-evidence.md). Rows come
 * encoded as text ({@link add}) or as the fields of a binary COPY ({@link addRow}), encoded here.
 */
export class SealHash {
  private readonly hash: Hash;
  private buffer: Buffer | undefined;
  private used = 0;
  /** Encoding 2: the rows' reference groups, kept as they are fed. */
  readonly groups: ReferenceGroups | undefined;
  rows = 0;

  constructor(previousDigest: string, encoding: SealEncoding = 1) {
    this.hash = createHash('sha256').update(Buffer.from(previousDigest, 'hex'));
    this.groups = encoding === 2 ? new ReferenceGroups() : undefined;
  }

  /**
   * Feeds one row's canonical encoding as text (`encodeField` of each column); encoding 2 needs the
   * row's id and reference too.
   */
  add(encoded: string, row?: { id: string; ref: string | null }): void {
    this.group(row);
    const length = Buffer.byteLength(encoded, 'utf8');
    this.flushIfOver(BUFFER - length);
    if (length > BUFFER) {
      this.hash.update(encoded, 'utf8');
    } else {
      this.used += this.target().write(encoded, this.used, 'utf8');
    }
    this.rows++;
  }

  /**
   * Feeds one row of a binary COPY whose fields `columns` hold the canonical text of the columns of
   * the row encoding, in order: each is written `<byte length>:<bytes>`, or `-` for NULL (what
   * `encodeField` does with text). Encoding 2 needs the row's id and reference too.
   */
  addRow(
    row: CopyRow,
    columns: readonly number[],
    ids?: { id: string; ref: string | null },
  ): void {
    this.group(ids);
    for (const i of columns) {
      const length = row.lengths[i];
      if (length < 0) {
        this.flushIfOver(BUFFER - 1);
        this.target()[this.used++] = DASH;
        continue;
      }
      this.flushIfOver(BUFFER - 12);
      this.decimal(length);
      this.buffer![this.used++] = COLON;
      const start = row.starts[i];
      if (length > BUFFER / 4) {
        this.flushIfOver(0);
        this.hash.update(row.buffer.subarray(start, start + length));
      } else {
        this.flushIfOver(BUFFER - length);
        row.buffer.copy(this.target(), this.used, start, start + length);
        this.used += length;
      }
    }
    this.rows++;
  }

  /**
   * The hex digest; the hash takes no more rows. Under encoding 2 it commits to `groups`, by
   * default the groups of the rows fed; verification passes the groups the seal stored.
   */
  digest(groups?: readonly ReferenceGroup[]): string {
    this.flushIfOver(0);
    if (this.groups) {
      this.hash.update(
        GROUPS_SEPARATOR + encodeGroups(groups ?? this.groups.list()),
        'utf8',
      );
    }
    return this.hash.digest('hex');
  }

  private group(row: { id: string; ref: string | null } | undefined): void {
    if (!this.groups) return;
    if (!row)
      throw new Error('SealHash: encoding 2 needs each row id and reference');
    this.groups.add(row.id, row.ref);
  }

  private target(): Buffer {
    return (this.buffer ??= Buffer.allocUnsafe(BUFFER));
  }

  /** Hashes the bytes gathered when more than `limit` of them are. */
  private flushIfOver(limit: number): void {
    if (this.used > limit && this.used > 0) {
      this.hash.update(this.buffer!.subarray(0, this.used));
      this.used = 0;
    }
  }

  /** Writes `n`, a non-negative integer, in decimal ASCII. */
  private decimal(n: number): void {
    const buffer = this.target();
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    for (let i = this.used + digits - 1; i >= this.used; i--) {
      buffer[i] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    }
    this.used += digits;
  }
}
