import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { AuditRunner } from './audit-runner.js';
import { AUDIT_KEY, type AuditSpec, SKIP_AUDIT_KEY } from './audit-spec.js';
import type { AuditRequest } from './audit.options.js';

type Handler = (...args: unknown[]) => unknown;

/**
 * Audits handlers decorated with `@Audit` from Nest's interceptor pipeline, the way `@Audit`
 * itself does from the handler it wraps; handlers without `@Audit` pass through untouched.
 *
 * `@Audit` needs no interceptor. Mount this one (`@UseInterceptors(AuditInterceptor)`, or app-wide)
 * to audit from further out, so that a request refused by a pipe is on record too; a request is
 * still audited once. App-wide, it costs every route Nest's interceptor pipeline. HTTP only.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly specs = new WeakMap<
    Handler,
    Map<object, AuditSpec | null>
  >();

  constructor(
    private readonly reflector: Reflector,
    private readonly runner: AuditRunner,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const spec = this.specOf(context);
    if (spec === null) return next.handle();
    return this.runner.intercept(
      spec,
      {
        controller: context.getClass().name,
        handler: context.getHandler().name,
        context: () => context,
      },
      context.switchToHttp().getRequest<AuditRequest>(),
      () => next.handle(),
    );
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
}
