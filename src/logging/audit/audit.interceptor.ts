import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import {
  type CallHandler,
  type ExecutionContext,
  HttpException,
  Injectable,
  Logger,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isUUID } from 'class-validator';
import { Observable, from, mergeMap, throwError } from 'rxjs';
import type { RecordOptions } from '../writer/log-writer.service.js';
import { type AuditContext, auditContext } from './audit-context.js';
import { AuditLogService } from './audit-log.service.js';
import {
  AUDIT_KEY,
  type AuditArgs,
  type AuditSpec,
  SKIP_AUDIT_KEY,
} from './audit-spec.js';
import { AuditConfigurationError, AuditWriteError } from './audit.errors.js';
import type { AuditActor, AuditRequest } from './audit.options.js';

/** The UUID rule of the entry classes (`@IsUUID('all')`), which this path does not run again. */
const isUuid = (value: string) => isUUID(value, 'all');
const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** Requests already being audited, so an interceptor mounted twice writes once. */
const AUDITED = new WeakSet<object>();

type Handler = (...args: unknown[]) => unknown;

/**
 * Writes one `audit_log` row for every handler decorated with `@Audit`, after it settles, with the
 * request's firm, user, client IP and request id, and puts that context in force for everything
 * the handler calls (`auditContext`). Handlers without `@Audit` pass through untouched.
 *
 * `@Audit` mounts it on the handlers (or controllers) it decorates; mounting it again with
 * `@UseInterceptors(AuditInterceptor)` or app-wide does no harm (a request is audited once), but
 * app-wide costs every undecorated route Nest's interceptor pipeline. HTTP only.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly logger = new Logger('LoggingModule');
  private readonly specs = new WeakMap<
    Handler,
    Map<object, AuditSpec | null>
  >();
  private readonly recordOptions: RecordOptions;

  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditLogService,
  ) {
    this.recordOptions = { durability: audit.options.durability };
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const spec = this.specOf(context);
    if (spec === null) return next.handle();
    const request = context.switchToHttp().getRequest<AuditRequest>();
    if (AUDITED.has(request)) return next.handle();
    AUDITED.add(request);

    let actor;
    try {
      actor = this.audit.options.resolveActor(request);
    } catch (error) {
      return throwError(() => error);
    }
    if (actor instanceof Promise) {
      return from(actor).pipe(
        mergeMap((resolved) =>
          this.audited(spec, context, next, request, resolved),
        ),
      );
    }
    return this.audited(spec, context, next, request, actor);
  }

  private audited(
    spec: AuditSpec,
    context: ExecutionContext,
    next: CallHandler,
    request: AuditRequest,
    actor: AuditActor | null | undefined,
  ): Observable<unknown> {
    const firmId = actor?.firmId ?? null;
    const userId = actor?.userId ?? null;
    if (firmId === null) {
      if (this.audit.options.onMissingFirm === 'skip') {
        this.audit.counters.skippedNoFirm++;
        return next.handle();
      }
      return throwError(
        () =>
          new AuditConfigurationError(
            `@Audit('${spec.action}') on ${this.route(context)}: no firm resolved for the request. ` +
              `Authenticate it so that request.user.firmId is set, give LoggingModule an ` +
              `audit.resolveActor, or set audit.onMissingFirm to 'skip'`,
          ),
      );
    }
    if (!isUuid(firmId) || (userId !== null && !isUuid(userId))) {
      return throwError(
        () =>
          new AuditConfigurationError(
            `@Audit('${spec.action}') on ${this.route(context)}: the resolved ` +
              `${isUuid(firmId) ? 'userId' : 'firmId'} is not a UUID; ` +
              `check audit.resolveActor`,
          ),
      );
    }
    const ctx: AuditContext = {
      firmId,
      userId,
      ipAddress: clientIp(request.ip),
      requestId: this.requestId(request),
    };
    return new Observable<unknown>((subscriber) => {
      // One row per request: after the first value, or after the error. Values and completion
      // wait for the row (durability 'await'), so the response leaves after the commit.
      let recorded = false;
      let settled: Promise<void> | undefined;
      const then = (step: () => void) => {
        settled = settled ? settled.then(step) : Promise.resolve().then(step);
      };
      const success = (value: unknown, emit: boolean) => {
        recorded = true;
        settled = this.recordSuccess(spec, context, request, ctx, value).then(
          () => {
            if (emit) subscriber.next(value);
          },
          (error: unknown) => subscriber.error(error),
        );
      };
      return auditContext.run(ctx, () =>
        next.handle().subscribe({
          next: (value) =>
            recorded
              ? then(() => subscriber.next(value))
              : success(value, true),
          error: (error: unknown) => {
            if (recorded) return then(() => subscriber.error(error));
            recorded = true;
            void this.recordFailure(spec, context, request, ctx, error).then(
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
    context: ExecutionContext,
    request: AuditRequest,
    ctx: AuditContext,
    result: unknown,
  ): Promise<void> {
    const args: AuditArgs = {
      outcome: 'success',
      request,
      params: request.params ?? {},
      result,
      context,
    };
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
    context: ExecutionContext,
    request: AuditRequest,
    ctx: AuditContext,
    error: unknown,
  ): Promise<void> {
    const args: AuditArgs = {
      outcome: 'failure',
      request,
      params: request.params ?? {},
      error,
      context,
    };
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

  private requestId(request: AuditRequest): string {
    const header = this.audit.options.requestIdHeader;
    if (header !== false) {
      const value = request.headers[header];
      if (typeof value === 'string' && REQUEST_ID.test(value)) return value;
    }
    return randomUUID();
  }

  /** `@Audit`/`@SkipAudit` of the handler, else of its controller; cached per handler. */
  private specOf(context: ExecutionContext): AuditSpec | null {
    const handler = context.getHandler() as Handler;
    const controller = context.getClass();
    let byClass = this.specs.get(handler);
    if (byClass === undefined) {
      byClass = new Map();
      this.specs.set(handler, byClass);
    }
    let spec = byClass.get(controller);
    if (spec === undefined) {
      spec = this.resolveSpec(handler, controller);
      byClass.set(controller, spec);
    }
    return spec;
  }

  private resolveSpec(handler: Handler, controller: object): AuditSpec | null {
    const get = <T>(key: string, target: object) =>
      this.reflector.get<T | undefined>(key, target as Handler);
    if (get<boolean>(SKIP_AUDIT_KEY, handler)) return null;
    const own = get<AuditSpec>(AUDIT_KEY, handler);
    if (own) return own;
    if (get<boolean>(SKIP_AUDIT_KEY, controller)) return null;
    return get<AuditSpec>(AUDIT_KEY, controller) ?? null;
  }

  private route(context: ExecutionContext): string {
    return `${context.getClass().name}.${context.getHandler().name}`;
  }
}

/**
 * The client address to store: `::ffff:203.0.113.7` (an IPv4 client on an IPv6 socket) as
 * `203.0.113.7`, and null for anything that is not an IP address (a trusted proxy passes
 * `X-Forwarded-For` on as written).
 */
function clientIp(ip: string | undefined): string | null {
  if (!ip) return null;
  const address =
    ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  return isIP(address) === 0 ? null : address;
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
