/**
 * `@cma/logging/seals`: the hash-chained seals over the logs (docs/tamper-evidence.md): the
 * service, its options, the seal and verdict types `onSeal` and `verify` hand over, and the errors
 * its methods throw.
 *
 * @packageDocumentation
 */
export { AuditSealService } from './audit-seal.service.js';
export { AuditSealQueryError, SealPublishError } from './seal.errors.js';
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
