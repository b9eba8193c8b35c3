/** Rows could not be written: the database refused them or stayed unreachable past the retries. */
export class LogWriteError extends Error {
  override readonly name = 'LogWriteError';

  constructor(
    readonly table: string,
    readonly rows: number,
    override readonly cause: unknown,
  ) {
    super(
      `${table}: ${rows} row(s) could not be written: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
  }
}

/** The writer's buffer is full and `onFullBuffer` is `'reject'`: the row was not accepted. */
export class LogBufferFullError extends Error {
  override readonly name = 'LogBufferFullError';

  constructor(
    readonly table: string,
    readonly bufferSize: number,
  ) {
    super(
      `${table}: the write buffer holds its limit of ${bufferSize} rows (writer.bufferSize) ` +
        `and writer.onFullBuffer is 'reject': the row was not accepted`,
    );
  }
}

/**
 * The application is shutting down: the writer accepts no more rows. With `shutdownTimeoutMs`, the
 * cause of a `LogWriteError`: the shutdown deadline passed before the rows were written.
 */
export class LogWriterClosedError extends Error {
  override readonly name = 'LogWriterClosedError';

  constructor(
    readonly table: string,
    readonly shutdownTimeoutMs?: number,
  ) {
    super(
      shutdownTimeoutMs === undefined
        ? `${table}: the log writer is shut down and accepts no more rows`
        : `${table}: the log writer shut down before writing them: its deadline, ` +
            `writer.shutdownTimeoutMs (${shutdownTimeoutMs} ms), passed`,
    );
  }
}

/**
 * An INSERT of the writer got no answer within `writer.statementTimeoutMs`: the connection is taken
 * for dead (half-open, or too slow to wait for) and the batch is retried.
 */
export class LogStatementTimeoutError extends Error {
  override readonly name = 'LogStatementTimeoutError';
  /** Classed with the other ways a connection fails, so the batch is retried. */
  readonly code = 'ETIMEDOUT';

  constructor(readonly timeoutMs: number) {
    super(
      `no answer from the database within ${timeoutMs} ms (writer.statementTimeoutMs)`,
    );
  }
}
