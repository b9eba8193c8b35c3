/** A method of the seals or archives was called with bad arguments; nothing was written. */
export class AuditSealQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditSealQueryError';
  }
}

/** The seals were made and committed, but the host's `onSeal` callback failed for one of them. */
export class SealPublishError extends Error {
  constructor(
    message: string,
    /** The seals committed in this run, published or not. */
    readonly seals: readonly import('./seal.types.js').Seal[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SealPublishError';
  }
}

/**
 * `AuditArchiveService.export` refused the month, writing nothing: `reason` says why
 * (`ArchiveRefusal`), the message names the month, and for `tampered` and `not-sealed`, `problem`
 * names the firm, the seal and the kind, as `verify` reports them.
 */
export class AuditArchiveError extends Error {
  constructor(
    readonly reason: import('./archive.types.js').ArchiveRefusal,
    message: string,
    /** The first problem found, for `tampered` and `not-sealed`. */
    readonly problem?: import('./seal.types.js').SealProblem & {
      firmId: string;
    },
  ) {
    super(message);
    this.name = 'AuditArchiveError';
  }
}
