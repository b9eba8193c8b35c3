import 'reflect-metadata';
import { type ExecutionContext, Req, type Type } from '@nestjs/common';
import {
  PATH_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants.js';
import type { AuditRunner, AuditTarget } from './audit-runner.js';
import { AUDIT_KEY, type AuditSpec, SKIP_AUDIT_KEY } from './audit-spec.js';
import { AuditConfigurationError } from './audit.errors.js';
import type { AuditRequest } from './audit.options.js';

type Handler = (...args: unknown[]) => unknown;
type HttpArgumentsHost = ReturnType<ExecutionContext['switchToHttp']>;
type RpcArgumentsHost = ReturnType<ExecutionContext['switchToRpc']>;
type WsArgumentsHost = ReturnType<ExecutionContext['switchToWs']>;

/** Where `LoggingModule` leaves its `AuditRunner` on the controllers that have audited handlers. */
export const AUDIT_RUNNER = Symbol.for('cma-logging:audit-runner');
/** Marks the handlers `@Audit` wrapped. */
const WRAPPED = Symbol.for('cma-logging:audited-handler');
/** Prototypes that own an audited handler. */
const AUDITED_PROTOTYPES = new WeakSet<object>();

/**
 * Replaces the handler `key` of `prototype` with one that runs it as an audited action, and asks
 * Nest for the request in one more argument (`@Req()`), which the original never sees. Everything
 * other decorators stored on the original (route, guards, pipes...) is copied over, so `@Audit`
 * may come before or after them. Requests reach the audit through Nest's own call of the handler:
 * no interceptor, so none of Nest's interceptor pipeline per request.
 */
export function wrapHandler(
  prototype: object,
  key: string | symbol,
  original: Handler,
  spec: AuditSpec,
): Handler {
  const hidden = requestIndex(prototype, key, original);
  let skipped: boolean | undefined;
  const audited = function (this: unknown, ...args: unknown[]): unknown {
    const request = args[hidden] as AuditRequest | undefined;
    if (args.length > hidden) args.length = hidden;
    skipped ??= Reflect.getMetadata(SKIP_AUDIT_KEY, audited) === true;
    // Called by hand (a unit test, another method), not by Nest for an HTTP request.
    if (request === undefined || request === null || skipped) {
      return original.apply(this, args);
    }
    const instance = this as Record<symbol, unknown> | undefined;
    const runner = instance?.[AUDIT_RUNNER] as AuditRunner | undefined;
    const target = new HandlerTarget(instance, audited, request);
    if (runner === undefined) {
      throw new AuditConfigurationError(
        `@Audit('${spec.action}') on ${target.controller}.${target.handler}: the application ` +
          `serving it does not import LoggingModule.forRoot(), so the action cannot be recorded`,
      );
    }
    return runner.call(spec, target, request, () => original.apply(this, args));
  };
  for (const metadataKey of Reflect.getOwnMetadataKeys(original)) {
    Reflect.defineMetadata(
      metadataKey,
      Reflect.getOwnMetadata(metadataKey, original),
      audited,
    );
  }
  Reflect.defineMetadata(AUDIT_KEY, spec, audited);
  Object.defineProperty(audited, 'name', { value: original.name });
  Object.defineProperty(audited, WRAPPED, { value: original });
  Req()(prototype, key, hidden);
  AUDITED_PROTOTYPES.add(prototype);
  return audited;
}

/**
 * `@Audit` on a class: wraps every route handler of the controller, inherited ones included, that
 * has neither an `@Audit` nor a `@SkipAudit` of its own.
 */
export function wrapController(controller: Type, spec: AuditSpec): void {
  const seen = new Set<string | symbol>(['constructor']);
  for (
    let proto = controller.prototype as object | null;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const key of Reflect.ownKeys(proto)) {
      if (seen.has(key)) continue;
      seen.add(key);
      const descriptor = Object.getOwnPropertyDescriptor(proto, key);
      const handler = descriptor?.value as Handler | undefined;
      if (
        typeof handler !== 'function' ||
        !Reflect.hasOwnMetadata(PATH_METADATA, handler) ||
        WRAPPED in handler ||
        Reflect.getMetadata(SKIP_AUDIT_KEY, handler) === true
      ) {
        continue;
      }
      Object.defineProperty(controller.prototype, key, {
        ...descriptor,
        value: wrapHandler(controller.prototype as object, key, handler, spec),
      });
    }
  }
}

/** Whether instances of `controller` have audited handlers (and so need the runner). */
export function hasAuditedHandlers(controller: Type): boolean {
  for (
    let proto = controller.prototype as object | null;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    if (AUDITED_PROTOTYPES.has(proto)) return true;
  }
  return false;
}

/** One past the last argument the handler takes or Nest fills in. */
function requestIndex(
  prototype: object,
  key: string | symbol,
  original: Handler,
): number {
  const routeArgs =
    (Reflect.getMetadata(ROUTE_ARGS_METADATA, prototype.constructor, key) as
      Record<string, { index: number }> | undefined) ?? {};
  const types =
    (Reflect.getMetadata('design:paramtypes', prototype, key) as
      unknown[] | undefined) ?? [];
  return Math.max(
    original.length,
    types.length,
    ...Object.values(routeArgs).map(({ index }) => index + 1),
  );
}

/** The audited handler of one request, and its execution context on demand. */
class HandlerTarget implements AuditTarget {
  constructor(
    private readonly instance: object | undefined,
    private readonly audited: Handler,
    private readonly request: AuditRequest,
  ) {}

  get controller(): string {
    return (this.instance?.constructor as Type | undefined)?.name ?? 'unknown';
  }

  get handler(): string {
    return this.audited.name;
  }

  context(): ExecutionContext {
    return new HandlerContext(
      (this.instance?.constructor ?? Object) as Type,
      this.audited,
      [this.request, (this.request as { res?: unknown }).res],
    );
  }
}

/** The execution context of an HTTP handler: request, and response where the platform links it. */
class HandlerContext implements ExecutionContext {
  constructor(
    private readonly controller: Type,
    private readonly handler: Handler,
    private readonly args: unknown[],
  ) {}

  getClass<T = unknown>(): Type<T> {
    return this.controller as Type<T>;
  }

  getHandler(): Handler {
    return this.handler;
  }

  getArgs<T extends unknown[] = unknown[]>(): T {
    return this.args as T;
  }

  getArgByIndex<T = unknown>(index: number): T {
    return this.args[index] as T;
  }

  getType<T extends string = 'http'>(): T {
    return 'http' as T;
  }

  switchToHttp(): HttpArgumentsHost {
    const [request, response] = this.args;
    return {
      getRequest: <T>() => request as T,
      getResponse: <T>() => response as T,
      getNext: <T>() => undefined as T,
    };
  }

  switchToRpc(): RpcArgumentsHost {
    return {
      getData: <T>() => this.args[0] as T,
      getContext: <T>() => this.args[1] as T,
    };
  }

  switchToWs(): WsArgumentsHost {
    return {
      getData: <T>() => this.args[0] as T,
      getClient: <T>() => this.args[1] as T,
      getPattern: () => '',
    };
  }
}
