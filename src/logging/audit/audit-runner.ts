import { randomUUID } from 'node:crypto';
import {
  type ExecutionContext,
  HttpException,
  Injectable,
  Logger,
} from '@nestjs/common';
import { isUUID } from 'class-validator';
import { Observable, defer, from, isObservable, mergeAll } from 'rxjs';
import type { RecordOptions } from '../writer/log-writer.service.js';
import { type AuditContext, auditContext } from './audit-context.js';
import { AuditRecorder } from './audit-log.service.js';
import type { AuditArgs, AuditSpec } from './audit-spec.js';
import { AuditConfigurationError, AuditWriteError } from './audit.errors.js';
import type { AuditActor, AuditRequest } from './audit.options.js';
import { anonymizeIp, clientIp } from './ip-address.js';

/** The UUID rule of the entry classes (`@IsUUID('all')`), which this path does not run again. */
const isUuid = (value: string) => isUUID(value, 'all');
const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** Requests already being audited, so a handler audited twice over writes one row. */
const AUDITED = new WeakSet<object>();

/** The audited handler: its controller, and its execution context, built when first asked for. */
export interface AuditTarget {
  readonly controller: string;
  readonly handler: string;
  context(): ExecutionContext;
}

/**
 * Audits one request: resolves its actor and context, runs the handler with that context in force
 * (`auditContext`), and writes one `audit_log` row once the handler settles. `@Audit` calls it from
 * the handler it wraps ({@link call}); `AuditInterceptor` from Nest's interceptor pipeline
 * ({@link intercept}).
 */
@Injectable()
export class AuditRunner {
  private readonly logger = new Logger('LoggingModule');
  private readonly recordOptions: RecordOptions;

  constructor(private readonly audit: AuditRecorder) {
    this.recordOptions = { durability: audit.options.durability };
  }

  /**
   * Runs `invoke`, the handler, as the audited action of `request` and returns what it returns;
   * a promise when the row is written after a value, an Observable (watched the same way) when the
   * handler returns one. The handler's error is rethrown unchanged after its row.
   */
  call(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
    invoke: () => unknown,
  ): unknown {
    if (AUDITED.has(request)) return invoke();
    AUDITED.add(request);
    const actor = this.audit.options.resolveActor(request);
    if (actor instanceof Promise) {
      return actor.then((resolved) =>
        this.callAs(spec, target, request, invoke, resolved),
      );
    }
    return this.callAs(spec, target, request, invoke, actor);
  }

  /**
   * The same for a handler reached through Nest's interceptor pipeline: `handle` is `next.handle`,
   * whose Observable `call` watches like any other the handler returns.
   */
  intercept(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
    handle: () => Observable<unknown>,
  ): Observable<unknown> {
    return defer(() => {
      const result = this.call(spec, target, request, handle);
      // an async resolveActor: a promise of the Observable
      return isObservable(result)
        ? result
        : from(result as Promise<Observable<unknown>>).pipe(mergeAll());
    });
  }

  private callAs(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
    invoke: () => unknown,
    actor: AuditActor | null | undefined,
  ): unknown {
    const ctx = this.contextOf(spec, target, request, actor);
    if (ctx === null) return invoke();
    let result: unknown;
    try {
      result = auditContext.run(ctx, invoke);
    } catch (error) {
      return this.failed(spec, target, request, ctx, error);
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => this.succeeded(spec, target, request, ctx, value),
        (error: unknown) => this.failed(spec, target, request, ctx, error),
      );
    }
    if (isObservable(result)) {
      return this.watch(spec, target, request, ctx, () => result);
    }
    return this.succeeded(spec, target, request, ctx, result);
  }

  /**
   * The audit context of the request, or null to run it unaudited (no firm, `onMissingFirm:
   * 'skip'`).
   * @throws AuditConfigurationError without a firm (`onMissingFirm: 'error'`), or with ids that are
   *   not UUIDs
   */
  private contextOf(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
    actor: AuditActor | null | undefined,
  ): AuditContext | null {
    const firmId = actor?.firmId ?? null;
    const userId = actor?.userId ?? null;
    if (firmId === null) {
      if (this.audit.options.onMissingFirm === 'skip') {
        this.audit.counters.skippedNoFirm++;
        return null;
      }
      throw new AuditConfigurationError(
        `@Audit('${spec.action}') on ${route(target)}: no firm resolved for the request. ` +
          `Authenticate it so that request.user.firmId is set, give LoggingModule an ` +
          `audit.resolveActor, or set audit.onMissingFirm to 'skip'`,
      );
    }
    if (!isUuid(firmId) || (userId !== null && !isUuid(userId))) {
      throw new AuditConfigurationError(
        `@Audit('${spec.action}') on ${route(target)}: the resolved ` +
          `${isUuid(firmId) ? 'userId' : 'firmId'} is not a UUID; ` +
          `check audit.resolveActor`,
      );
    }
    return {
      firmId,
      userId,
      ipAddress: this.ipAddress(request),
      requestId: this.requestId(request),
    };
  }

  private async succeeded(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
    ctx: AuditContext,
    value: unknown,
  ): Promise<unknown> {
    await this.recordSuccess(spec, target, request, ctx, value);
    return value;
  }

  private async failed(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
    ctx: AuditContext,
    error: unknown,
  ): Promise<never> {
    await this.recordFailure(spec, target, request, ctx, error);
    throw error;
  }

  /**
   * Subscribes to the handler's Observable with the context in force. One row per request: after
   * the first value, or after the error. Values and completion wait for the row (durability
   * `'await'`), so the response leaves after the commit.
   */
  private watch(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
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
        settled = this.recordSuccess(spec, target, request, ctx, value).then(
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
            void this.recordFailure(spec, target, request, ctx, error).then(
              () => subscriber.error(error),
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

  private async recordSuccess(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
    ctx: AuditContext,
    result: unknown,
  ): Promise<void> {
    const args = new Args('success', target, request, result, undefined);
    try {
      await this.write(spec, args, ctx, { outcome: 'success' });
    } catch (error) {
      this.writeFailed(spec, error);
      if (this.audit.options.onWriteError === 'fail') {
        throw new AuditWriteError(spec.action, error);
      }
    }
  }

  private async recordFailure(
    spec: AuditSpec,
    target: AuditTarget,
    request: AuditRequest,
    ctx: AuditContext,
    error: unknown,
  ): Promise<void> {
    const args = new Args('failure', target, request, undefined, error);
    try {
      await this.write(spec, args, ctx, {
        outcome: 'failure',
        errorClass: errorClass(error),
        status: httpStatus(error),
      });
      this.audit.counters.failuresRecorded++;
    } catch (writeError) {
      this.writeFailed(spec, writeError); // the handler's error goes on unchanged
    }
  }

  private async write(
    spec: AuditSpec,
    args: AuditArgs,
    ctx: AuditContext,
    system: Record<string, unknown>,
  ): Promise<void> {
    system.requestId = ctx.requestId;
    await this.audit.recordAction(
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
    this.audit.counters.actionsRecorded++;
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
      this.audit.counters.entityIdsDropped++;
      return null;
    }
    if (value === undefined || value === null) return null;
    if (typeof value === 'string' && isUuid(value)) return value;
    this.audit.counters.entityIdsDropped++;
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
      this.audit.counters.metadataDropped++;
      return undefined;
    }
  }

  private writeFailed(spec: AuditSpec, error: unknown): void {
    this.audit.counters.writeFailures++;
    this.logger.error(
      `audit_log: the row of action '${spec.action}' could not be written ` +
        `(audit.onWriteError '${this.audit.options.onWriteError}'): ${
          error instanceof Error ? error.message : String(error)
        }`,
    );
  }

  private ipAddress(request: AuditRequest): string | null {
    const ip = clientIp(request.ip);
    return ip !== null && this.audit.options.anonymizeIp ? anonymizeIp(ip) : ip;
  }

  private requestId(request: AuditRequest): string {
    const header = this.audit.options.requestIdHeader;
    if (header !== false) {
      const value = request.headers[header];
      if (typeof value === 'string' && REQUEST_ID.test(value)) return value;
    }
    return randomUUID();
  }
}

/**
 * What the entity-id and metadata functions receive; `context` is built only if read. A class: an
 * object literal with a getter costs more to create than everything else the audit does per row.
 */
class Args implements AuditArgs {
  readonly params: Record<string, string | undefined>;

  constructor(
    readonly outcome: 'success' | 'failure',
    private readonly target: AuditTarget,
    readonly request: AuditRequest,
    readonly result: unknown,
    readonly error: unknown,
  ) {
    this.params = request.params ?? {};
  }

  get context(): ExecutionContext {
    return this.target.context();
  }
}

function route(target: AuditTarget): string {
  return `${target.controller}.${target.handler}`;
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
