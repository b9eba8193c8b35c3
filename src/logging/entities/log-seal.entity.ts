import {
  Check,
  Column,
  Entity,
  ForeignKey,
  PrimaryGeneratedColumn,
  Unique,
} from 'typeorm';
import { FIRMS_TABLE } from '../core/logging.constants.js';

/** Table of the seals over `audit_log` and `llm_usage_log`. */
export const LOG_SEAL_TABLE = 'log_seal';

/**
 * One link of a firm's hash chain over one log (docs/tamper-evidence.md). A seal covers the firm's
 * rows after the previous seal's end up to `(toCreatedAt, toId)` in `(created_at, id)` order, plus
 * the late arrivals it lists, and records `digest = SHA-256(prevDigest ‖ encoding of each row in
 * order)`, followed under encoding 2 by its reference groups. A `tombstone` stands for seals retention has purged with their rows: it keeps the last
 * one's digest, so the chain still verifies. Append-only: UPDATE and TRUNCATE are refused; seals
 * leave with their firm or through `logging_purge_sealed()`.
 */
@Entity({ name: LOG_SEAL_TABLE })
@Unique('uq_log_seal_log_firm_id_seq', ['log', 'firmId', 'seq'])
@Check('chk_log_seal_log', `log IN ('audit_log', 'llm_usage_log')`)
@Check('chk_log_seal_kind', `kind IN ('seal', 'tombstone')`)
@Check('chk_log_seal_seq', 'seq >= 1')
@Check('chk_log_seal_counts', 'range_count >= 0 AND row_count >= 0')
@Check(
  'chk_log_seal_digests',
  'octet_length(digest) = 32 AND octet_length(prev_digest) = 32',
)
@Check('chk_log_seal_encoding', 'encoding IN (1, 2)')
@Check(
  'chk_log_seal_ref_groups',
  `cardinality(ref_rows) = cardinality(ref_ids)
          AND cardinality(ref_digests) = cardinality(ref_ids)
          AND (encoding = 2 OR cardinality(ref_ids) = 0)`,
)
export class LogSeal {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_log_seal' })
  id: string;

  /** `audit_log` or `llm_usage_log`. */
  @Column({ type: 'text' })
  log: string;

  @ForeignKey(FIRMS_TABLE, { name: 'fk_log_seal_firm_id', onDelete: 'CASCADE' })
  @Column({ name: 'firm_id', type: 'uuid' })
  firmId: string;

  /** Position in the firm's chain over this log, from 1, without gaps. */
  @Column({ type: 'integer' })
  seq: number;

  /** `seal`, or `tombstone` for purged seals. */
  @Column({ type: 'text', default: 'seal' })
  kind: string;

  /** Exclusive start of the range: the previous seal's end; null for the first seal. */
  @Column({ name: 'from_created_at', type: 'timestamptz', nullable: true })
  fromCreatedAt: Date | null;

  @Column({ name: 'from_id', type: 'uuid', nullable: true })
  fromId: string | null;

  /** Inclusive end of the range. */
  @Column({ name: 'to_created_at', type: 'timestamptz' })
  toCreatedAt: Date;

  @Column({ name: 'to_id', type: 'uuid' })
  toId: string;

  /** Rows of the range the seal covers. */
  @Column({ name: 'range_count', type: 'integer' })
  rangeCount: number;

  /** Late arrivals: rows of earlier ranges that were not there when those were sealed. */
  @Column({ name: 'late_ids', type: 'uuid', array: true, default: '{}' })
  lateIds: string[];

  /** Rows in the digest: `rangeCount` plus the late arrivals (for a tombstone: all it stands for). */
  @Column({ name: 'row_count', type: 'bigint' })
  rowCount: string;

  @Column({ name: 'prev_digest', type: 'bytea' })
  prevDigest: Buffer;

  @Column({ type: 'bytea' })
  digest: Buffer;

  /** The snapshot the rows were read in (`pg_current_snapshot()`), to tell late arrivals. */
  @Column({ type: 'text', nullable: true })
  snapshot: string | null;

  @Column({ name: 'sealed_at', type: 'timestamptz', default: () => 'now()' })
  sealedAt: Date;

  /** The run that made the seal (`log_seal_run.seq`); null for seals made before runs, and tombstones. */
  @Column({ name: 'run_seq', type: 'integer', nullable: true })
  runSeq: number | null;

  /**
   * The version of the canonical encoding of the digest: 1 for the seals made before reference
   * groups, 2 since (the row encoding leaves the erasable reference out).
   */
  @Column({ type: 'smallint', default: 1 })
  encoding: number;

  /**
   * Encoding 2: the seal's reference groups, one per value of the log's erasable reference
   * (`user_id`, `cma_project_id`) among its rows, NULL included: the value, how many rows have it,
   * and the SHA-256 of their ids in `(created_at, id)` order. The digest commits to them.
   */
  @Column({ name: 'ref_ids', type: 'uuid', array: true, default: '{}' })
  refIds: (string | null)[];

  @Column({ name: 'ref_rows', type: 'integer', array: true, default: '{}' })
  refRows: number[];

  @Column({ name: 'ref_digests', type: 'bytea', array: true, default: '{}' })
  refDigests: Buffer[];
}
