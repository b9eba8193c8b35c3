/**
 * An audited request could not be attributed: no firm could be resolved (with
 * `audit.onMissingFirm: 'error'`), or the resolver returned a firm or user id that is not a UUID.
 * The handler is not run; Nest answers 500.
 */
export class AuditConfigurationError extends Error {
  override readonly name = 'AuditConfigurationError';
}

/**
 * The audit row of a successful action could not be written and `audit.onWriteError` is `'fail'`:
 * the request fails with this error (Nest answers 500) instead of succeeding off the record.
 */
export class AuditWriteError extends Error {
  override readonly name = 'AuditWriteError';

  constructor(
    readonly action: string,
    override readonly cause: unknown,
  ) {
    super(
      `audit_log: the row of action '${action}' could not be written: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
  }
}
