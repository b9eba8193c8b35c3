import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  Optional,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { AuditRecorder } from './audit-log.service.js';
import { describeCall } from './audit-call.js';
import { AuditRunner } from './audit-runner.js';
import { AUDIT_KEY, type AuditSpec } from './audit-spec.js';
import { AuditConfigurationError } from './audit.errors.js';

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
 * For an audited call it reads, once, what the audit needs of the execution context (an
 * `AuditCall`: transport, handler, request), and hands that to the audit of the call: the actor
 * (`audit.resolveActor(request, context)`), the handler run with the audit context in force
 * (`auditContext`), and one `audit_log` row once the handler settles: after its first value, or
 * after its error, which then goes on unchanged. A call it cannot attribute is refused with
 * `AuditConfigurationError`, before the handler runs.
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
    return this.runner.audit(describeCall(spec, context), () => next.handle());
  }
}
