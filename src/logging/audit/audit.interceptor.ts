import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  Optional,
  type Type,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { AuditRecorder } from './audit-log.service.js';
import { type AuditedHandler, describeCall } from './audit-call.js';
import type { CallAttempts } from './audit-outcome.js';
import { AuditRunner } from './audit-runner.js';
import { AUDIT_KEY, type AuditSpec, THIS_COPY, copyOf } from './audit-spec.js';
import { SSE_KEYS, carries } from './audit-transports.js';
import { AuditConfigurationError } from './audit.errors.js';

/**
 * The runs of the calls being audited, by argument list (`context.getArgs()`, one per call). Nest
 * runs every interceptor bound to a handler with the call's execution context, the controller's
 * first: the first that audits the call marks it under way here, and those inside it pass it
 * through. An outer `retry()` runs the chain again once the run before ended: that run is audited
 * again, as the call's next attempt.
 */
const CALLS = new WeakMap<object, CallAttempts>();

/**
 * Audits the handlers `@Audit` marks, reading the spec through `Reflector` (a handler's own
 * `@Audit` or `@SkipAudit` overrides its controller's). `@Audit` binds it with `UseInterceptors`;
 * calls without a spec pass through untouched.
 *
 * The binding of the `@Audit` that applies does the work: on a handler with an `@Audit` of its
 * own, the one that `@Audit` makes on the handler, not its controller's. So the row sees what the
 * handler answers through the interceptors bound inside that binding, and nothing bound around it
 * changes it.
 *
 * For an audited call it reads, once, what the audit needs of the execution context (an
 * `AuditCall`: transport, handler, request), and hands that to the audit of the call: the actor
 * (`audit.resolveActor(request, context)`), the handler run with the audit context in force
 * (`auditContext`), and one `audit_log` row when the call ends: on completion with the last value
 * (`success`), on error (`failure`, the error going on unchanged), or when the subscriber leaves
 * first (`cancelled`). A call it cannot attribute is refused with `AuditConfigurationError`, before
 * the handler runs.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly runner: AuditRunner;
  /**
   * What each handler's calls share, by handler and controller (an inherited handler serves more
   * than one), read once: the spec that applies and the handler's name, or null for calls this
   * binding passes through.
   */
  private readonly handlers = new WeakMap<
    object,
    Map<object, AuditedHandler | null>
  >();

  constructor(
    private readonly reflector: Reflector,
    @Optional() audit?: AuditRecorder,
  ) {
    if (audit === undefined) {
      throw new AuditConfigurationError(
        'AuditInterceptor (bound by @Audit) finds no AuditLogService: import ' +
          'LoggingModule.forRoot() in the application (global by default), or import LoggingModule ' +
          'into the module of the audited controller. Where it is imported, this @Audit comes from ' +
          'another installed copy of @cma/logging than that LoggingModule: install one ' +
          `(this copy: ${THIS_COPY.loadedFrom})`,
      );
    }
    this.runner = new AuditRunner(audit);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const audited = this.audited(context.getHandler(), context.getClass());
    if (audited === null) return next.handle();
    const args = context.getArgs();
    let attempts = CALLS.get(args);
    if (attempts === undefined) {
      attempts = { count: 0, active: false };
      CALLS.set(args, attempts);
    } else if (attempts.active) {
      return next.handle();
    }
    return this.runner.audit(describeCall(audited, context), attempts, next);
  }

  /**
   * Bound by a controller's `@Audit`: it leaves a handler with an `@Audit` of its own to the
   * binding that one makes, inside it.
   */
  protected get onController(): boolean {
    return false;
  }

  /** What the calls of `handler` in `controller` share, or null to pass them through; read once. */
  private audited(handler: object, controller: object): AuditedHandler | null {
    let byController = this.handlers.get(handler);
    if (byController === undefined) {
      byController = new Map();
      this.handlers.set(handler, byController);
    }
    let audited = byController.get(controller);
    if (audited === undefined) {
      audited = this.read(handler as Type, controller as Type);
      byController.set(controller, audited);
    }
    return audited;
  }

  private read(handler: Type, controller: Type): AuditedHandler | null {
    const own = this.reflector.get<AuditSpec | false | undefined>(
      AUDIT_KEY,
      handler,
    );
    const spec =
      own ??
      this.reflector.get<AuditSpec | false | undefined>(AUDIT_KEY, controller);
    // another copy's @Audit is that copy's to audit (two copies are refused at startup)
    if (!spec || copyOf(spec) !== THIS_COPY) return null;
    if (own && this.onController) return null;
    return {
      spec,
      handler: `${controller.name}.${handler.name}`,
      sse: carries(handler, SSE_KEYS),
    };
  }
}

/** What a controller's `@Audit` binds: {@link AuditInterceptor}, for the handlers it covers. */
@Injectable()
export class AuditControllerInterceptor extends AuditInterceptor {
  protected override get onController(): boolean {
    return true;
  }
}
