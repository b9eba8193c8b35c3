import { HttpException, Logger } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { Observable, from, mergeMap } from 'rxjs';
import type { RecordOptions } from '../writer/log-writer.service.js';
import { type AuditContext, auditContext } from '../core/audit-context.js';
import type { AuditRecorder } from './audit-log.service.js';
import { type AuditCall, where } from './audit-call.js';
import type { AuditArgs, AuditSpec } from './audit-spec.js';
import { AuditConfigurationError, AuditWriteError } from './audit.errors.js';
import { type AuditActor, defaultActorResolver } from './audit.options.js';
import { anonymizeIp, clientIp } from './ip-address.js';
import { newRequestId, safeRequestId } from '../core/metadata-policy.js';

/** The UUID rule of the entry classes (`@IsUUID('all')`), which this path does not run again. */
const isUuid = (value: string) => isUUID(value, 'all');

/**
 * The audit of one call, on its description ({@link AuditCall}) alone: the actor, the audit
 * context in force while the handler runs, and the row once it settled. Nest's plumbing (the
 * metadata, the bindings, the execution context) stays in `AuditInterceptor`.
 */
export class AuditRunner {
  private readonly logger = new Logger('LoggingModule');
  private readonly recordOptions: RecordOptions;

  constructor(private readonly recorder: AuditRecorder) {
    this.recordOptions = { durability: recorder.options.durability };
  }

  /**
   * Audits the call: resolves its actor, runs `handle()` with the audit context in force and
   * writes its row. A call that cannot be attributed is refused before the handler runs, by a
   * throw when that is known at once, else by the Observable's error.
   * @throws AuditConfigurationError when the call cannot be attributed
   */
  audit(
    call: AuditCall,
    handle: () => Observable<unknown>,
  ): Observable<unknown> {
    const actor = this.resolveActor(call);
    if (actor instanceof Promise) {
      return from(actor).pipe(
        mergeMap((resolved) => this.run(call, resolved, handle)),
      );
    }
    return this.run(call, actor, handle);
  }

  private run(
    call: AuditCall,
    actor: AuditActor | null | undefined,
    handle: () => Observable<unknown>,
  ): Observable<unknown> {
    const ctx = this.contextOf(call, actor);
    if (ctx === null) return handle();
    return this.watch(call, ctx, handle);
  }

  /**
   * Subscribes to the handler with the context in force: `handle()` is called inside
   * `auditContext.run`, so Nest's pipeline runs the pipes and the handler in it. One row per call:
   * after the first value, or after the error. Values and completion wait for the row (durability
   * `'await'`), so the response leaves after the commit.
   */
  private watch(
    call: AuditCall,
    ctx: AuditContext,
    handle: () => Observable<unknown>,
  ): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      let recorded = false;
      let settled: Promise<void> | undefined;
      const then = (step: () => void) => {
        settled = settled ? settled.then(step) : Promise.resolve().then(step);
      };
      const success = (value: unknown, emit: boolean) => {
        recorded = true;
        settled = this.recordSuccess(call, ctx, value).then(
          () => {
            if (emit) subscriber.next(value);
          },
          (error: unknown) => subscriber.error(error),
        );
      };
      return auditContext.run(ctx, () =>
        handle().subscribe({
          next: (value) =>
            recorded
              ? then(() => subscriber.next(value))
              : success(value, true),
          error: (error: unknown) => {
            if (recorded) return then(() => subscriber.error(error));
            recorded = true;
            void this.recordFailure(call, ctx, error).then(() =>
              subscriber.error(error),
            );
          },
          complete: () => {
            if (!recorded) success(undefined, false);
            then(() => subscriber.complete());
          },
        }),
      );
    });
  }

  /** The firm and user of the call, as `audit.resolveActor` finds them; maybe a promise. */
  private resolveActor(
    call: AuditCall,
  ): ReturnType<AuditRecorder['options']['resolveActor']> {
    const resolve = this.recorder.options.resolveActor;
    const { request } = call;
    if (request.transport !== undefined && resolve === defaultActorResolver) {
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

  private async recordSuccess(
    call: AuditCall,
    ctx: AuditContext,
    result: unknown,
  ): Promise<void> {
    const args = argsOf(call, 'success', result, undefined);
    try {
      await this.write(call.spec, args, ctx, { outcome: 'success' });
    } catch (error) {
      this.writeFailed(call.spec, error);
      if (this.recorder.options.onWriteError === 'fail') {
        throw new AuditWriteError(call.spec.action, error);
      }
    }
  }

  private async recordFailure(
    call: AuditCall,
    ctx: AuditContext,
    error: unknown,
  ): Promise<void> {
    const args = argsOf(call, 'failure', undefined, error);
    try {
      await this.write(call.spec, args, ctx, {
        outcome: 'failure',
        errorClass: errorClass(error),
        status: httpStatus(error),
      });
      this.recorder.counters.failuresRecorded++;
    } catch (writeError) {
      this.writeFailed(call.spec, writeError); // the handler's error goes on unchanged
    }
  }

  private async write(
    spec: AuditSpec,
    args: AuditArgs,
    ctx: AuditContext,
    system: Record<string, unknown>,
  ): Promise<void> {
    system.requestId = ctx.requestId;
    await this.recorder.recordAction(
      {
        firmId: ctx.firmId as string,
        userId: ctx.userId,
        action: spec.action,
        entityType: spec.entityType,
        entityId: this.entityId(spec, args),
        ipAddress: ctx.ipAddress,
        metadata: this.metadata(spec, args),
      },
      system,
      this.recordOptions,
    );
    this.recorder.counters.actionsRecorded++;
  }

  private entityId(spec: AuditSpec, args: AuditArgs): string | null {
    const source = spec.entityId;
    let value: unknown;
    try {
      if (typeof source === 'function') value = source(args);
      else if ('param' in source) value = args.params[source.param];
      else if (args.result !== null && typeof args.result === 'object') {
        value = (args.result as Record<string, unknown>)[source.result];
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

/** What the entity-id and metadata functions receive. */
function argsOf(
  call: AuditCall,
  outcome: AuditArgs['outcome'],
  result: unknown,
  error: unknown,
): AuditArgs {
  return {
    outcome,
    context: call.context,
    request: call.request,
    params: call.params,
    result,
    error,
  };
}

function errorClass(error: unknown): string {
  const name =
    error instanceof Error
      ? error.constructor.name || error.name
      : typeof error;
  return /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name) ? name : 'Error';
}

function httpStatus(error: unknown): number {
  if (error instanceof HttpException) return error.getStatus();
  const status =
    (error as { status?: unknown; statusCode?: unknown } | null)?.status ??
    (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' &&
    Number.isInteger(status) &&
    status >= 400 &&
    status <= 599
    ? status
    : 500;
}
