import type { SealableLog } from './seal-encoding.js';

/** One seal of a firm's chain, as `onSeal` receives it and `list` returns it. */
export interface Seal {
  /** The sealed log: `audit_log` or `llm_usage_log`. */
  log: SealableLog;
  firmId: string;
  /** Position in the firm's chain over this log, from 1, without gaps. */
  seq: number;
  /** `seal`, or `tombstone` where retention purged seals with their rows. */
  kind: 'seal' | 'tombstone';
  /** Exclusive start of the range, ISO 8601 UTC with microseconds; null for the first seal. */
  fromCreatedAt: string | null;
  fromId: string | null;
  /** Inclusive end of the range, ISO 8601 UTC with microseconds. */
  toCreatedAt: string;
  toId: string;
  /** Rows of the range in the digest. */
  rangeCount: number;
  /** Late arrivals in the digest: rows of earlier ranges that were not there when those were sealed. */
  lateIds: string[];
  /** Rows in the digest: `rangeCount + lateIds.length` (a tombstone: every row it stands for). */
  rowCount: number;
  /** The previous seal's digest, hex; 64 zeros for the first seal. */
  prevDigest: string;
  /**
   * SHA-256 of `prevDigest` followed by each row's canonical encoding in `(created_at, id)` order
   * (and, for the seals made with encoding 2, the seal's reference groups), hex.
   */
  digest: string;
  sealedAt: Date;
}

/**
 * One sealing run over one log, as `onRun` receives it: it covers every firm (or the one firm
 * `firmId`) up to `upto`, firms without new rows included, and its digest commits to the runs
 * before it, its own fields and every covered firm's last seal after it.
 */
export interface SealRun {
  log: SealableLog;
  /** Position in the log's chain of runs, from 1, without gaps. */
  seq: number;
  /** The one firm sealed (`seal({ firmId })`); null when the run covered every firm. */
  firmId: string | null;
  /** The cutoff, ISO 8601 UTC with microseconds: every covered firm is sealed up to here. */
  upto: string;
  sealedAt: Date;
  /** `seals.lateWindowMs` and `seals.settleMs` as the run used them; `verify` uses these. */
  lateWindowMs: number;
  settleMs: number;
  /** How many firms' last seals the digest commits to. */
  headsCount: number;
  /** The previous run's digest, hex; 64 zeros for the first run. */
  prevDigest: string;
  /** SHA-256 over `prevDigest`, the run's fields and the covered firms' last seals, hex. */
  digest: string;
}

/** A digest published outside the database (from `onSeal`), to verify the chain against. */
export interface SealAnchor {
  seq: number;
  /** Hex SHA-256, as `Seal.digest`. */
  digest: string;
}

/** The arguments of `AuditSealService.seal`. */
export interface SealQuery {
  /** Seal this firm only. Default: every firm with new rows. */
  firmId?: string;
  /** Seal this log only. Default: every log in `seals.logs`. */
  log?: SealableLog;
}

/** The arguments of `AuditSealService.verify`. */
export interface VerifyQuery {
  firmId: string;
  /** The log whose chain is checked. Default: `audit_log`. */
  log?: SealableLog;
  /** Only seals whose range ends at or after this instant. Default: from the first seal. */
  from?: Date;
  /** Only seals whose range starts before this instant. Default: up to the last seal. */
  to?: Date;
  /** Digests published outside the database: each must still be in the chain, unchanged. */
  anchors?: SealAnchor[];
  /**
   * Run digests published outside the database (from `onRun`): each run must still be in the
   * log's chain of runs, unchanged, and the seals must still hold the heads it committed to.
   */
  runAnchors?: SealAnchor[];
}

/**
 * What was found wrong, where it can be known:
 * - `row-edited`: a row of the seal's range differs from when it was sealed;
 * - `row-missing`: rows of the seal are gone (`rows` says how many);
 * - `row-inserted`: rows are in the seal's range, or dated in time a run covered after the firm's
 *   last seal, that were not there when it was sealed and are not late arrivals (`rows` says how
 *   many);
 * - `seal-edited`: the seal's own fields no longer agree with its rows or its neighbours;
 * - `seal-removed`: a seal of the chain, or one published as an anchor, is gone.
 */
export type SealProblemKind =
  | 'row-edited'
  | 'row-missing'
  | 'row-inserted'
  | 'seal-edited'
  | 'seal-removed';

/**
 * The first bad seal of a chain. Rows found after a firm's last seal, in time a run covered, are
 * reported at `seq` = the last seal's seq + 1 (1 with no seal: the position the next seal takes),
 * with `run` the run that covered them. A problem of a run record itself has `seq` 0 and `run`.
 */
export interface SealProblem {
  seq: number;
  /** The run concerned, when the problem is in time a run covered or in a run itself. */
  run?: number;
  kind: SealProblemKind;
  /** For `row-missing` and `row-inserted`: how many rows. */
  rows?: number;
  /** One sentence for the auditor. */
  message: string;
}

/**
 * A change found in a seal's rows that is not tampering: `reference-erased`, the referenced user
 * (`audit_log.user_id`) or project (`llm_usage_log.cma_project_id`) of some of its rows was deleted
 * and its foreign key set their reference to NULL (ON DELETE SET NULL), and nothing else changed.
 * Told apart from tampering for seals of encoding 2 only (docs/tamper-evidence.md); the erased ids
 * are not named.
 */
export interface SealErasure {
  seq: number;
  kind: 'reference-erased';
  /** The column the foreign key set to NULL: `user_id` or `cma_project_id`. */
  column: 'user_id' | 'cma_project_id';
  /** How many rows of the seal had their reference erased. */
  rows: number;
  /** How many deleted users or projects those rows referenced. */
  references: number;
  /** One sentence for the auditor. */
  message: string;
}

/** The verdict of `AuditSealService.verify`. */
export interface SealVerification {
  log: SealableLog;
  firmId: string;
  /** True when every checked seal matches its rows and its neighbours, and every anchor. */
  ok: boolean;
  sealsChecked: number;
  rowsChecked: number;
  /** The last seal of the chain, to publish or compare: null when the firm has none. */
  last: { seq: number; digest: string } | null;
  /** Late arrivals not sealed yet: the next seal takes them in. */
  pendingLate: number;
  /**
   * Rows of the firm in the checked range that no seal holds yet, so that nothing vouches for
   * them: those made after the last seal (every row, for a firm without seals) and the late
   * arrivals waiting for the next seal (`pendingLate`, counted here too). `ok` speaks of the sealed
   * rows only; the next seal takes these in. Rows that appeared in time a run had already sealed
   * are not counted here: they are tampering (`row-inserted`).
   */
  unsealed: number;
  /**
   * Seals checked, up to the first bad one, where a deleted user or project had its reference set
   * to NULL: not tampering, and no reason for `ok` to be false. Empty when there are none.
   */
  erasures: SealErasure[];
  /** The first bad seal; absent when `ok`. */
  problem?: SealProblem;
}
