import { type CallHandler, Logger } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { type Observable, defer, finalize, from, mergeMap } from 'rxjs';
import type { RecordOptions } from '../writer/log-writer.service.js';
import { type AuditContext, runInAuditContext } from '../core/audit-context.js';
import type { AuditRecorder } from './audit-log.service.js';
import { type AuditCall, where } from './audit-call.js';
import {
  type CallAttempts,
  type CallEnd,
  type Settling,
  type WatchOptions,
  argsOf,
  dataOf,
  errorClass,
  httpStatus,
  watchCall,
} from './audit-outcome.js';
import type { AuditArgs, AuditSpec } from './audit-spec.js';
import { AuditConfigurationError, AuditWriteError } from './audit.errors.js';
import { type AuditActor, defaultActorResolver } from './audit.options.js';
import { anonymizeIp, clientIp } from './ip-address.js';
import {
  newRequestId,
  safeRequestId,
  type SystemMetadata,
} from '../core/metadata-policy.js';

/** The UUID rule of the entry classes (`@IsUUID('all')`), which this path does not run again. */
const isUuid = (value: string) => isUUID(value, 'all');

/**
 * The audit of one call, on its description ({@link AuditCall}) alone: the actor, the audit
 * context in force while the handler runs, and the row when the call ends. Nest's plumbing (the
 * metadata, the bindings, the execution context) stays in `AuditInterceptor`.
 */
export class AuditRunner {
  private readonly logger = new Logger('LoggingModule');
  private readonly recordOptions: RecordOptions;

  constructor(private readonly recorder: AuditRecorder) {
    this.recordOptions = { durability: recorder.options.durability };
  }

  /**
   * Audits the call: resolves its actor, runs the handler (`next.handle()`) with the audit context
   * in force and writes one row per run when it ends ({@link watchCall}). A call that cannot be attributed is
   * refused before the handler runs: by a throw when that is known at once, else by the
   * Observable's error.
   * @param attempts the runs of the call, shared by the bindings that see it
   * @throws AuditConfigurationError when the call cannot be attributed
   */
  audit(
    call: AuditCall,
    attempts: CallAttempts,
    next: CallHandler,
  ): Observable<unknown> {
    const actor = this.resolveActor(call);
    if (actor instanceof Promise) {
      return from(actor).pipe(
        mergeMap((resolved) => this.run(call, attempts, resolved, next)),
      );
    }
    return this.run(call, attempts, actor, next);
  }

  private run(
    call: AuditCall,
    attempts: CallAttempts,
    actor: AuditActor | null | undefined,
    next: CallHandler,
  ): Observable<unknown> {
    const ctx = this.contextOf(call, actor);
    if (ctx === null) {
      // run unaudited, and once: the bindings inside see the call under way
      return defer(() => {
        attempts.active = true;
        return next.handle();
      }).pipe(
        finalize(() => {
          attempts.active = false;
        }),
      );
    }
    return watchCall(
      () => next.handle(),
      new AuditedCall(this, call, ctx, attempts),
    );
  }

  /** The firm and user of the call, as `audit.resolveActor` finds them; maybe a promise. */
  private resolveActor(
    call: AuditCall,
  ): ReturnType<AuditRecorder['options']['resolveActor']> {
    const resolve = this.recorder.options.resolveActor;
    const { request } = call;
    if (request.transport !== undefined && resolve === defaultActorResolver) {
      // the handlers found at startup stopped the boot already (audit-startup.ts): this is for
      // the others, if any
      throw new AuditConfigurationError(
        `${where(call)}: the default audit.resolveActor reads request.user of an HTTP ` +
          `request and finds no actor in a message. Set audit.resolveActor to find the firm and ` +
          `user in it (request is { transport: '${request.transport}', ${
            request.transport === 'rpc' ? 'data, context' : 'client, data'
          } })`,
      );
    }
    return resolve(request, call.context);
  }

  /**
   * The audit context of the call, or null to run it unaudited (no firm, `onMissingFirm:
   * 'skip'`).
   * @throws AuditConfigurationError without a firm (`onMissingFirm: 'error'`), or with ids that are
   *   not UUIDs
   */
  private contextOf(
    call: AuditCall,
    actor: AuditActor | null | undefined,
  ): AuditContext | null {
    const firmId = actor?.firmId ?? null;
    const userId = actor?.userId ?? null;
    if (firmId === null) {
      if (this.recorder.options.onMissingFirm === 'skip') {
        this.recorder.counters.skippedNoFirm++;
        return null;
      }
      throw new AuditConfigurationError(
        `${where(call)}: no firm resolved for the request. ` +
          `Authenticate it so that request.user.firmId is set, give LoggingModule an ` +
          `audit.resolveActor, or set audit.onMissingFirm to 'skip'`,
      );
    }
    if (!isUuid(firmId) || (userId !== null && !isUuid(userId))) {
      throw new AuditConfigurationError(
        `${where(call)}: the resolved ` +
          `${isUuid(firmId) ? 'userId' : 'firmId'} is not a UUID; ` +
          `check audit.resolveActor`,
      );
    }
    return {
      firmId,
      userId,
      ipAddress: this.ipAddress(call, actor?.ipAddress),
      requestId: this.requestId(call),
    };
  }

  /**
   * Writes the row of the call's end: nothing comes back when it is written at once (a
   * `'buffered'` row taken into the queue), else a promise of the write. Only a success's row can
   * fail the call (`onWriteError: 'fail'`): a failed action's error goes on unchanged, and a
   * cancelled call has no one waiting.
   * @throws AuditWriteError when a success's row written at once could not be
   */
  record(call: AuditCall, ctx: AuditContext, end: CallEnd): Settling {
    const { outcome, values, attempt } = end;
    const system: SystemMetadata = { outcome };
    if (outcome === 'failure') {
      system.errorClass = errorClass(end.error);
      system.status = httpStatus(end.error);
    }
    // the count of values, where it tells more than a single answer (or a failure before any)
    if (values !== (outcome === 'success' ? 1 : 0) || outcome === 'cancelled') {
      system.values = values;
    }
    if (attempt > 1) system.attempt = attempt;
    let written: string | Promise<string>;
    try {
      written = this.write(call, end, ctx, system);
    } catch (error) {
      return this.unwritten(call, outcome, error);
    }
    if (typeof written === 'string') return this.recorded(outcome);
    return written.then(
      () => this.recorded(outcome),
      (error: unknown) => this.unwritten(call, outcome, error),
    );
  }

  private recorded(outcome: CallEnd['outcome']): void {
    const { counters } = this.recorder;
    counters.actionsRecorded++;
    if (outcome === 'failure') counters.failuresRecorded++;
    if (outcome === 'cancelled') counters.cancelledRecorded++;
  }

  /** @throws AuditWriteError for a success's row with `onWriteError: 'fail'` */
  private unwritten(
    call: AuditCall,
    outcome: CallEnd['outcome'],
    error: unknown,
  ): void {
    this.writeFailed(call.spec, error);
    if (
      outcome === 'success' &&
      this.recorder.options.onWriteError === 'fail'
    ) {
      throw new AuditWriteError(call.spec.action, error);
    }
  }

  private write(
    call: AuditCall,
    end: CallEnd,
    ctx: AuditContext,
    system: SystemMetadata,
  ): string | Promise<string> {
    const { spec } = call;
    // what the host's functions receive, made only when there is one to call
    const args =
      typeof spec.entityId === 'function' || spec.metadata
        ? argsOf(call, end)
        : undefined;
    system.requestId = ctx.requestId;
    return this.recorder.recordAction(
      {
        firmId: ctx.firmId as string,
        userId: ctx.userId,
        action: spec.action,
        entityType: spec.entityType,
        entityId: this.entityId(call, end, args),
        ipAddress: ctx.ipAddress,
        metadata: args && this.metadata(spec, args),
      },
      system,
      this.recordOptions,
    );
  }

  private entityId(
    call: AuditCall,
    end: CallEnd,
    args: AuditArgs | undefined,
  ): string | null {
    const { spec } = call;
    const source = spec.entityId;
    let value: unknown;
    try {
      if (typeof source === 'function') value = source(args!);
      else if ('param' in source) value = call.params[source.param];
      else {
        // an SSE event's own id numbers the event: the entity is in what it carries
        const result = call.sse ? dataOf(end.value) : end.value;
        if (result !== null && typeof result === 'object') {
          value = (result as Record<string, unknown>)[source.result];
        }
      }
    } catch (error) {
      this.logger.warn(
        `@Audit('${spec.action}'): the entityId function threw (${errorClass(error)}); stored null`,
      );
      this.recorder.counters.entityIdsDropped++;
      return null;
    }
    if (value === undefined || value === null) return null;
    if (typeof value === 'string' && isUuid(value)) return value;
    this.recorder.counters.entityIdsDropped++;
    return null;
  }

  private metadata(
    spec: AuditSpec,
    args: AuditArgs,
  ): Record<string, unknown> | undefined {
    if (!spec.metadata) return undefined;
    try {
      return spec.metadata(args) ?? undefined;
    } catch (error) {
      this.logger.warn(
        `@Audit('${spec.action}'): the metadata function threw (${errorClass(error)}); stored none`,
      );
      this.recorder.counters.metadataDropped++;
      return undefined;
    }
  }

  private writeFailed(spec: AuditSpec, error: unknown): void {
    this.recorder.counters.writeFailures++;
    this.logger.error(
      `audit_log: the row of action '${spec.action}' could not be written ` +
        `(audit.onWriteError '${this.recorder.options.onWriteError}'): ${
          error instanceof Error ? error.message : String(error)
        }`,
    );
  }

  /** The resolver's address if it gave one, else the HTTP request's; null for messages. */
  private ipAddress(
    call: AuditCall,
    resolved: string | null | undefined,
  ): string | null {
    const { request } = call;
    const ip =
      resolved !== undefined
        ? clientIp(resolved ?? undefined)
        : request.transport === undefined
          ? clientIp(request.ip)
          : null;
    return ip !== null && this.recorder.options.anonymizeIp
      ? anonymizeIp(ip)
      : ip;
  }

  private requestId(call: AuditCall): string {
    const header = this.recorder.options.requestIdHeader;
    const { request } = call;
    if (header !== false && request.transport === undefined) {
      const value = safeRequestId(request.headers[header]);
      if (value !== null) return value;
    }
    return newRequestId();
  }
}

/**
 * The options of {@link watchCall} for one audited call, in one object: the audit context put in
 * force around the handler, and its row written when it ends.
 */
class AuditedCall implements WatchOptions {
  constructor(
    private readonly runner: AuditRunner,
    private readonly call: AuditCall,
    private readonly ctx: AuditContext,
    readonly attempts: CallAttempts,
  ) {}

  /** Nest's pipeline (pipes, the handler) runs inside the subscription, with the context. */
  enter<R>(subscribe: () => R): R {
    return runInAuditContext(this.ctx, subscribe);
  }

  settle(end: CallEnd): Settling {
    return this.runner.record(this.call, this.ctx, end);
  }
}
