import { Check, Column, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** Table of the seal runs over `audit_log` and `llm_usage_log`. */
export const LOG_SEAL_RUN_TABLE = 'log_seal_run';

/**
 * One sealing run over one log (docs/tamper-evidence.md): it covers every firm's rows (or one
 * firm's, `firmId`) up to `upto`, firms without new rows included, so a row dated at or before
 * `upto` that was not there when the run was made is evident. Records the snapshot the run read in
 * and the windows it used, and `digest = SHA-256(prevDigest ‖ the run's fields ‖ headsDigest)`,
 * where `headsDigest` commits to every covered firm's last seal after the run. Append-only:
 * inserted only under the sealers' lock, as the next link of the log's chain of runs; UPDATE and
 * TRUNCATE are refused, DELETE is the owner's alone. `firmId` has no foreign key: a firm's
 * deletion leaves the chain of runs whole.
 */
@Entity({ name: LOG_SEAL_RUN_TABLE })
@Unique('uq_log_seal_run_log_seq', ['log', 'seq'])
@Check('chk_log_seal_run_log', `log IN ('audit_log', 'llm_usage_log')`)
@Check('chk_log_seal_run_seq', 'seq >= 1')
@Check(
  'chk_log_seal_run_windows',
  'late_window_ms >= 0 AND settle_ms >= 0 AND heads_count >= 0',
)
@Check(
  'chk_log_seal_run_digests',
  'octet_length(digest) = 32 AND octet_length(prev_digest) = 32 AND octet_length(heads_digest) = 32',
)
export class LogSealRun {
  @PrimaryGeneratedColumn('uuid', {
    primaryKeyConstraintName: 'pk_log_seal_run',
  })
  id: string;

  /** `audit_log` or `llm_usage_log`. */
  @Column({ type: 'text' })
  log: string;

  /** Position in the log's chain of runs, from 1, without gaps. */
  @Column({ type: 'integer' })
  seq: number;

  /** The one firm the run sealed (`seal({ firmId })`); null when it covered every firm. */
  @Column({ name: 'firm_id', type: 'uuid', nullable: true })
  firmId: string | null;

  /** The run's cutoff by the database clock: every covered firm is sealed up to here. */
  @Column({ type: 'timestamptz' })
  upto: Date;

  /** The snapshot the run read the rows in (`pg_current_snapshot()`), to tell late arrivals. */
  @Column({ type: 'text' })
  snapshot: string;

  /**
   * The run's own transaction id, taken with its snapshot: a row whose transaction id is below it
   * and that the snapshot does not show was in flight when the run was made.
   */
  @Column({ type: 'bigint' })
  xid: string;

  @Column({ name: 'sealed_at', type: 'timestamptz', default: () => 'now()' })
  sealedAt: Date;

  /** `seals.lateWindowMs` as the run used it. */
  @Column({ name: 'late_window_ms', type: 'bigint' })
  lateWindowMs: string;

  /** `seals.settleMs` as the run used it. */
  @Column({ name: 'settle_ms', type: 'bigint' })
  settleMs: string;

  /** Rows sealed with a created_at within `logging_clock_bound()` of `sealedAt`. */
  @Column({ name: 'edge_ids', type: 'uuid', array: true, default: '{}' })
  edgeIds: string[];

  /** How many firms' heads `headsDigest` commits to. */
  @Column({ name: 'heads_count', type: 'integer' })
  headsCount: number;

  @Column({ name: 'heads_digest', type: 'bytea' })
  headsDigest: Buffer;

  @Column({ name: 'prev_digest', type: 'bytea' })
  prevDigest: Buffer;

  @Column({ type: 'bytea' })
  digest: Buffer;
}
