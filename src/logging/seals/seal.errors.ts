/** `seal`, `verify` or `purge` was called with bad arguments; nothing was written. */
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
