/** How the writer tells a row's own fault from a database that is away for a while. */

/** SQLSTATE of a driver error, whether TypeORM wrapped it or not. */
function sqlState(error: unknown): string | undefined {
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A row's own fault: bad data (class 22) or a broken constraint (class 23). Retrying will not help. */
export function isRowError(error: unknown): boolean {
  const state = sqlState(error);
  return !!state && /^2[23]/.test(state);
}

const TRANSIENT_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

/** The database or the way to it failed, not the rows: worth another try after a pause. */
export function isTransientError(error: unknown): boolean {
  const state = sqlState(error);
  if (state && (state.startsWith('08') || TRANSIENT_STATES.has(state))) {
    return true;
  }
  if (state && TRANSIENT_NODE_CODES.has(state)) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly/i.test(
    message,
  );
}

/**
 * The database answered the statement with an error: it was not committed, and the connection
 * that carried it still works (unless the server ends it, which the driver notices).
 */
export function isAnswer(error: unknown): boolean {
  const e = error as {
    severity?: unknown;
    driverError?: { severity?: unknown };
  };
  return typeof (e?.driverError?.severity ?? e?.severity) === 'string';
}

/** An error's SQLSTATE and message, for the writer's log lines. */
export function describeDatabaseError(error: unknown): string {
  const state = sqlState(error);
  const message = error instanceof Error ? error.message : String(error);
  return state ? `${state}: ${message}` : message;
}
