import type { SealableLog } from './seal-encoding.js';
import type { SealAnchor, SealProblemKind } from './seal.types.js';

/** The files of an archive, in its directory (docs/archives.md). */
export type ArchiveFile = 'manifest.json' | 'seals.jsonl' | 'rows.jsonl';

/** The arguments of `AuditArchiveService.export`. */
export interface ArchiveExportQuery {
  /** The UTC month to export, `YYYY-MM`: closed (ended and sealed through its end) and sealed. */
  month: string;
  /** The log whose month is exported. Default: `audit_log`. */
  log?: SealableLog;
  /**
   * The directory the archive's three files are written to: created when missing; it must hold
   * nothing else. Nothing is left in it when the export is refused.
   */
  dir: string;
}

/** The arguments of `AuditArchiveService.verify` and of `verifyArchive`. */
export interface ArchiveVerifyQuery {
  /** The archive's directory. */
  dir: string;
  /**
   * Seal digests published outside the database (`onSeal`'s seals, or `{ firmId, seq, digest }`):
   * those of the archive's log and firms must hold. An anchor of the seal just before a firm's
   * first seal in the archive checks where its chain enters the month. Default: none.
   */
  anchors?: (SealAnchor & { firmId: string; log?: SealableLog })[];
  /** The manifest digest published when the archive was made: the manifest must have it. */
  manifestDigest?: string;
}

/** A file's digest as the manifest records it. */
export interface ArchiveFileDigest {
  /** SHA-256 of the file's bytes, hex. */
  sha256: string;
  bytes: number;
  lines: number;
}

/** One firm's chain in the archive: where it enters the month and its head at the month's end. */
export interface ArchiveChain {
  firmId: string;
  /** The firm's first and last seal in the archive. */
  firstSeq: number;
  lastSeq: number;
  /** The digest the first seal follows (the seal before it, or 64 zeros), hex. */
  prevDigest: string;
  /** Where the first seal's range starts (µs since 1970, decimal); null for a chain's first seal. */
  fromCreatedAt: string | null;
  /** The head: the last seal's digest, hex. */
  digest: string;
  /** Rows of the firm in the archive. */
  rows: number;
}

/** A seal of the archive whose rows lost a reference to ON DELETE SET NULL before the export. */
export interface ArchiveErasure {
  firmId: string;
  seq: number;
  column: 'user_id' | 'cma_project_id';
  rows: number;
  references: number;
}

/** `manifest.json`: what the archive holds, with digests (docs/archives.md, "The manifest"). */
export interface ArchiveManifest {
  format: 'cma-logging-archive';
  formatVersion: 1;
  /** The module that made the archive. */
  module: { name: string; version: string };
  log: SealableLog;
  /** `YYYY-MM`, UTC. */
  month: string;
  /** The month's first microsecond and the next month's, µs since 1970 (decimal). */
  fromCreatedAt: string;
  toCreatedAt: string;
  /** When the archive was made, ISO 8601 UTC. */
  exportedAt: string;
  /** The row keys of `rows.jsonl`, in canonical encoding order. */
  columns: string[];
  /** The run over every firm that had closed the month when it was exported. */
  closedBy: { run: number; upto: string; digest: string };
  files: Record<'rows.jsonl' | 'seals.jsonl', ArchiveFileDigest>;
  rows: {
    /** Rows in `rows.jsonl`: every row the month's seals hold. */
    total: number;
    /** Of them, late arrivals dated before the month (they lie in an earlier month's partition). */
    datedBefore: number;
    /** Rows dated in the month that later seals hold as late arrivals: in the next archives. */
    inLaterSeals: number;
  };
  /** Seals in `seals.jsonl`: every seal of the log whose range ends in the month. */
  seals: number;
  /** One chain per firm with seals in the month, in firm order: the heads to publish. */
  firms: ArchiveChain[];
  erasures: ArchiveErasure[];
  /** SHA-256 of this file's bytes with this value written as 64 zeros, hex. */
  manifestDigest: string;
}

/** The result of `AuditArchiveService.export`: the archive written, and its verification. */
export interface ArchiveExport {
  dir: string;
  manifest: ArchiveManifest;
  /** The files read back and verified offline, as an auditor would. */
  verification: ArchiveVerification;
}

/**
 * What an archive's verification found wrong: the same kinds as `AuditSealService.verify`, with
 * the file (and line) where the change lies. An edit of `manifest.json` is `seal-edited`: the
 * manifest is the archive's own seal.
 */
export interface ArchiveProblem {
  kind: SealProblemKind;
  file: ArchiveFile;
  /** The firm and seal concerned, when known. */
  firmId?: string;
  seq?: number;
  /** The line of the file, from 1, for a line that cannot be read. */
  line?: number;
  /** For `row-missing` and `row-inserted`: how many rows. */
  rows?: number;
  message: string;
}

/** The verdict on an archive, read offline. */
export interface ArchiveVerification {
  ok: boolean;
  log: SealableLog | null;
  month: string | null;
  firms: number;
  sealsChecked: number;
  rowsChecked: number;
  /** The manifest's digest (as recomputed from its bytes): publish it, or compare it. */
  manifestDigest: string;
  /** The seals whose rows lost a reference before the export, as the manifest records them. */
  erasures: ArchiveErasure[];
  /** The first problem; absent when `ok`. */
  problem?: ArchiveProblem;
  /** Every problem found: at most one per firm, then those of the files. */
  problems: ArchiveProblem[];
}

/**
 * Why `AuditArchiveService.export` refused a month:
 * - `not-closed`: the month has not ended, or no run over every firm has sealed it through its
 *   end with a late window that has passed, so rows dated in it could still be sealed;
 * - `not-sealed`: rows dated in the month are held by no seal;
 * - `purged`: seals of the month are tombstones: their rows were purged;
 * - `tampered`: the month's seals no longer match their rows or their neighbours.
 */
export type ArchiveRefusal =
  'not-closed' | 'not-sealed' | 'purged' | 'tampered';

/**
 * Why `AuditArchiveService.confirm` found a month not droppable:
 * - `unverified`: the archive does not verify offline;
 * - `seals-changed`: the database's seals of the month are not the archive's;
 * - `purged`: the month's seals are tombstones already;
 * - `rows-changed`: the database holds other rows dated in the month than the archive (and later
 *   seals) account for;
 * - `held-by-later-seals`: everything agrees, but later seals hold rows of the month
 *   (`heldByLaterSeals`): the rest of the month may leave, those rows must stay apart until the
 *   later month's rows leave (`LogPartitionService.retireMonth` with the archive does exactly that).
 */
export type ArchiveConfirmRefusal =
  | 'unverified'
  | 'seals-changed'
  | 'purged'
  | 'rows-changed'
  | 'held-by-later-seals';

/**
 * The result of `AuditArchiveService.confirm`: whether the archived month's rows may now leave the
 * database (docs/archives.md, "After the export, the month can leave").
 */
export interface ArchiveConfirmation {
  /**
   * True when the archive verifies offline, the database still holds exactly the archive's seals
   * of the month and its rows dated in the month, and no later seal holds a row of the month.
   */
  droppable: boolean;
  /** Why not, in one sentence; absent when `droppable`. */
  reason?: string;
  /** Why not, as a kind; absent when `droppable`. */
  refusal?: ArchiveConfirmRefusal;
  /** The archive's offline verification. */
  verification: ArchiveVerification;
  /**
   * Rows dated in the month that seals of later months hold as late arrivals (they are in the later
   * month's archive): the month is not `droppable` while there are any, since those seals still
   * need them in the database; keep them apart when the rest of the month leaves.
   */
  heldByLaterSeals: number;
}
