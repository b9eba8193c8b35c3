import { AsyncLocalStorage } from 'node:async_hooks';
import { newRequestId, safeRequestId } from './metadata-policy.js';

/**
 * Who is acting, for whom and from where: set by `@Audit` (and `AuditInterceptor`) for each audited request and
 * read by `AuditLogService.record` and `LlmUsageService.record`, which fill `firmId`, `userId` and
 * `ipAddress` from it when an entry leaves them out.
 */
export interface AuditContext {
  readonly firmId: string | null;
  readonly userId: string | null;
  /** The client address as the HTTP framework's trusted-proxy settings resolve it. */
  readonly ipAddress: string | null;
  /**
   * From the request id header, or generated. Audit rows store its keyed digest as `requestId`,
   * never the id itself (`AuditTrailService.trail({ requestId })` finds them). Under the rules of
   * the request id header (1 to 200 visible ASCII characters): `run()` replaces any other value by
   * a new UUID, so the rows of one run still share one id.
   */
  readonly requestId: string | null;
}

const storage = new AsyncLocalStorage<AuditContext>();

/**
 * The audit context of the current async call chain. Outside HTTP (queues, cron jobs), run work
 * under a context of your own so its log rows are attributed too.
 *
 * @example
 * await auditContext.run({ firmId, userId: null, ipAddress: null, requestId: job.id }, () =>
 *   extraction.process(job),
 * );
 */
export const auditContext = {
  /** The context in force, if any. */
  current(): AuditContext | undefined {
    return storage.getStore();
  },
  /**
   * Calls `fn` with `context` in force for everything it starts, synchronously or not. A
   * `requestId` that is not 1 to 200 visible ASCII characters is replaced by a new UUID for the
   * run; `null` stays null.
   */
  run<T>(context: AuditContext, fn: () => T): T {
    const requestId = context.requestId;
    if (requestId === null || safeRequestId(requestId) !== null) {
      return storage.run(context, fn);
    }
    return storage.run({ ...context, requestId: newRequestId() }, fn);
  },
};

/**
 * `auditContext.run` for a context whose request id already obeys the rules (the audit of a call
 * made it so): not checked again. Not part of the package's API.
 */
export function runInAuditContext<T>(context: AuditContext, fn: () => T): T {
  return storage.run(context, fn);
}
