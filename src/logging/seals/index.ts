/**
 * `@cma/logging/seals`: the hash-chained seals over the logs (docs/tamper-evidence.md): the
 * service, its options, the seal and verdict types `onSeal` and `verify` hand over, and the errors
 * its methods throw; and the sealed archives of closed months (docs/archives.md): the service that
 * exports them, the offline verifier and their types.
 *
 * @packageDocumentation
 */
export { AuditSealService } from './audit-seal.service.js';
export { AuditArchiveService } from './audit-archive.service.js';
export { verifyArchive } from './archive-verify.js';
export {
  AuditArchiveError,
  AuditSealQueryError,
  SealPublishError,
} from './seal.errors.js';
export type {
  ArchiveChain,
  ArchiveConfirmation,
  ArchiveConfirmRefusal,
  ArchiveErasure,
  ArchiveExport,
  ArchiveExportQuery,
  ArchiveFile,
  ArchiveFileDigest,
  ArchiveManifest,
  ArchiveProblem,
  ArchiveRefusal,
  ArchiveVerification,
  ArchiveVerifyQuery,
} from './archive.types.js';
export type { SealOptions } from './seal.options.js';
export type { SealableLog } from './seal-encoding.js';
export type {
  Seal,
  SealAnchor,
  SealErasure,
  SealProblem,
  SealProblemKind,
  SealQuery,
  SealRun,
  SealVerification,
  VerifyQuery,
} from './seal.types.js';
