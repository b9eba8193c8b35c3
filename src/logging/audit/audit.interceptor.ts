import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  Optional,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Observable, from, mergeMap } from 'rxjs';
import { type AuditContext, auditContext } from '../core/audit-context.js';
import { AuditRecorder } from './audit-log.service.js';
import { AuditRunner, where } from './audit-runner.js';
import { AUDIT_KEY, type AuditSpec } from './audit-spec.js';
import { AuditConfigurationError } from './audit.errors.js';
import type {
  AuditActor,
  AuditRequest,
  AuditTransportRequest,
} from './audit.options.js';

/**
 * The argument lists (`context.getArgs()`) of the calls being audited. Nest runs every interceptor
 * bound to a handler (controller and handler `@Audit`, the global mount) with one execution context
 * per call: the first audits the call, the others see its arguments here and pass it through.
 */
const AUDITING = new WeakSet<object>();

/**
 * Audits the handlers `@Audit` marks, reading the spec through `Reflector` (a handler's own
 * `@Audit` or `@SkipAudit` overrides its controller's). `@Audit` binds it with `UseInterceptors`;
 * `audit.global: true` mounts it app-wide as well. Calls without a spec pass through untouched.
 *
 * For each audited call it resolves the actor (`audit.resolveActor(request, context)`), runs the
 * handler with the audit context in force (`auditContext`) and writes one `audit_log` row once the
 * handler settles: after its first value, or after its error, which then goes on unchanged. A call
 * it cannot attribute is refused with `AuditConfigurationError`, before the handler runs.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly runner: AuditRunner;

  constructor(
    private readonly reflector: Reflector,
    @Optional() audit?: AuditRecorder,
  ) {
    if (audit === undefined) {
      throw new AuditConfigurationError(
        'AuditInterceptor (bound by @Audit) finds no AuditLogService: import ' +
          'LoggingModule.forRoot() in the application (global by default), or import LoggingModule ' +
          'into the module of the audited controller',
      );
    }
    this.runner = new AuditRunner(audit);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = this.reflector.getAllAndOverride<
      AuditSpec | false | undefined
    >(AUDIT_KEY, [context.getHandler(), context.getClass()]);
    if (!spec) return next.handle();
    const args = context.getArgs();
    if (AUDITING.has(args)) return next.handle();
    AUDITING.add(args);
    const request = transportRequest(spec, context);
    const actor = this.runner.resolveActor(spec, context, request);
    if (actor instanceof Promise) {
      return from(actor).pipe(
        mergeMap((resolved) =>
          this.run(spec, context, request, resolved, next),
        ),
      );
    }
    return this.run(spec, context, request, actor, next);
  }

  private run(
    spec: AuditSpec,
    context: ExecutionContext,
    request: AuditTransportRequest,
    actor: AuditActor | null | undefined,
    next: CallHandler,
  ): Observable<unknown> {
    const ctx = this.runner.contextOf(spec, context, request, actor);
    if (ctx === null) return next.handle();
    return this.watch(spec, context, request, ctx, next);
  }

  /**
   * Subscribes to the handler with the context in force: `next.handle()` is called inside
   * `auditContext.run`, so Nest's pipeline runs the pipes and the handler in it. One row per call:
   * after the first value, or after the error. Values and completion wait for the row (durability
   * `'await'`), so the response leaves after the commit.
   */
  private watch(
    spec: AuditSpec,
    context: ExecutionContext,
    request: AuditTransportRequest,
    ctx: AuditContext,
    next: CallHandler,
  ): Observable<unknown> {
    const runner = this.runner;
    return new Observable<unknown>((subscriber) => {
      let recorded = false;
      let settled: Promise<void> | undefined;
      const then = (step: () => void) => {
        settled = settled ? settled.then(step) : Promise.resolve().then(step);
      };
      const success = (value: unknown, emit: boolean) => {
        recorded = true;
        settled = runner.recordSuccess(spec, context, request, ctx, value).then(
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
            void runner
              .recordFailure(spec, context, request, ctx, error)
              .then(() => subscriber.error(error));
          },
          complete: () => {
            if (!recorded) success(undefined, false);
            then(() => subscriber.complete());
          },
        }),
      );
    });
  }
}

/**
 * What `audit.resolveActor` receives for the call: the HTTP request (HTTP; GraphQL, from the
 * GraphQL context's `req`), or the message of a microservice or WebSocket handler.
 * @throws AuditConfigurationError on a GraphQL resolver whose context holds no request, or a
 *   transport the audit does not know
 */
function transportRequest(
  spec: AuditSpec,
  context: ExecutionContext,
): AuditTransportRequest {
  const type = context.getType<string>();
  if (type === 'http') return context.switchToHttp().getRequest<AuditRequest>();
  if (type === 'rpc') {
    const rpc = context.switchToRpc();
    return { transport: 'rpc', data: rpc.getData(), context: rpc.getContext() };
  }
  if (type === 'ws') {
    const ws = context.switchToWs();
    return { transport: 'ws', client: ws.getClient(), data: ws.getData() };
  }
  if (type === 'graphql') {
    // resolver arguments: root, args, the GraphQL context, info
    const gqlContext = context.getArgs()[2] as { req?: unknown } | undefined;
    const req = gqlContext?.req as AuditRequest | undefined;
    if (typeof req?.headers === 'object' && req.headers !== null) return req;
    throw new AuditConfigurationError(
      `${where(spec, context)}: the GraphQL context holds no HTTP request under req, so the ` +
        `action cannot be attributed. Put it there with the GraphQL module's context option ` +
        `(context: ({ req }) => ({ req })), or take the handler out of @Audit`,
    );
  }
  throw new AuditConfigurationError(
    `${where(spec, context)}: this transport is not one the audit knows (http, rpc, ws, ` +
      `graphql), so the action cannot be recorded; audit it with AuditLogService.record instead`,
  );
}
