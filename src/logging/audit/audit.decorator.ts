import 'reflect-metadata';
import {
  SetMetadata,
  type Type,
  UseInterceptors,
  applyDecorators,
} from '@nestjs/common';
import { metadataDeclaration } from '../core/metadata-declaration.js';
import { identityIn } from '../core/validation-rules.js';
import {
  AUDIT_KEY,
  type AuditDecoratorOptions,
  type AuditSpec,
  markSpec,
} from './audit-spec.js';
import {
  AuditControllerInterceptor,
  AuditInterceptor,
} from './audit.interceptor.js';

export {
  AUDIT_KEY,
  type AuditArgs,
  type AuditDecoratorOptions,
  type AuditEntityIdSource,
  type AuditSpec,
} from './audit-spec.js';

const IDENTIFIER = /^[a-z][a-z0-9_]{0,63}$/;

function checkIdentifier(field: string, value: unknown): void {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new TypeError(
      `@Audit(): ${field} must be a lowercase identifier (a letter, then letters, digits or underscores, 64 characters at most), got ${JSON.stringify(value)}`,
    );
  }
  const identity = identityIn(value);
  if (identity !== null) {
    // the value is not echoed: it is what must not be printed
    throw new TypeError(
      `@Audit(): ${field} must hold no identity data (it reads as ${identity}); name what is done, not whose number`,
    );
  }
}

function checkEntityId(source: unknown): void {
  if (typeof source === 'function') return;
  if (typeof source === 'object' && source !== null) {
    const keys = Object.keys(source);
    const key = keys[0];
    const value = (source as Record<string, unknown>)[key];
    if (
      keys.length === 1 &&
      (key === 'result' || key === 'param') &&
      typeof value === 'string' &&
      value !== ''
    ) {
      return;
    }
  }
  throw new TypeError(
    `@Audit(): options.entityId must be { result: '<key>' }, { param: '<name>' } or a function`,
  );
}

/**
 * Refuses a second `@Audit` or `@SkipAudit` on the same handler or class, which would silently
 * replace the first: metadata only, read back with `Reflect.getOwnMetadata`.
 */
function once(decorator: string): ClassDecorator & MethodDecorator {
  return (
    target: object,
    key?: string | symbol,
    descriptor?: PropertyDescriptor,
  ): void => {
    const holder: unknown =
      descriptor === undefined ? target : descriptor.value;
    if (typeof holder !== 'function') {
      throw new TypeError(`${decorator}: ${String(key)} is not a method`);
    }
    if (Reflect.getOwnMetadata(AUDIT_KEY, holder) !== undefined) {
      const where =
        key === undefined
          ? (holder as { name: string }).name
          : `${(target as { constructor: { name: string } }).constructor.name}.${String(key)}`;
      throw new TypeError(
        `${decorator} on ${where}: it already has @Audit or @SkipAudit; keep one`,
      );
    }
  };
}

/**
 * Audits a controller action: when the call ends, one `audit_log` row records the action, the
 * entity, the firm, the user, the client IP and the outcome (`success` with the last value,
 * `failure`, or `cancelled` when the caller left first). On a class, it audits every
 * handler of the controller (inherited ones too); a handler's own `@Audit` or `@SkipAudit` takes
 * precedence.
 *
 * Metadata and nothing else: it stores the spec under {@link AUDIT_KEY} and binds
 * {@link AuditInterceptor} with `UseInterceptors`, which reads the spec through `Reflector` and
 * does the work. The binding of the `@Audit` that applies to a call audits it: a handler's own
 * rather than its controller's, so that the row sees the handler's answer through the interceptors
 * bound inside it, whatever else is bound around. It works on HTTP (Express and Fastify), microservice, WebSocket and GraphQL
 * handlers: each call writes its row or is refused with `AuditConfigurationError`. Requests a
 * pipe refuses are recorded as failures (interceptors run before pipes); requests a guard refuses
 * are not (guards run before interceptors).
 *
 * @param action e.g. `create_project`, `upload_file`, `run_extraction`, `resolve_review`, `download_cma`
 * @param entityType e.g. `cma_project`
 * @param options passed through whole to the interceptor, checked here
 * @example
 * @Post(':projectId/files')
 * @Audit('upload_file', 'cma_project', {
 *   entityId: { param: 'projectId' },
 *   metadata: ({ result }) => ({ fileId: result.id, pages: result.pages }),
 *   metadataClass: UploadFileMetadata, // @IsUUID() fileId; @IsInt() @Max(5000) pages
 * })
 * upload(...) {}
 */
export function Audit(
  action: string,
  entityType: string,
  options: AuditDecoratorOptions = {},
): ClassDecorator & MethodDecorator {
  checkIdentifier('action', action);
  checkIdentifier('entityType', entityType);
  const entityId = options.entityId ?? { result: 'id' };
  checkEntityId(entityId);
  if (
    options.metadata !== undefined &&
    typeof options.metadata !== 'function'
  ) {
    throw new TypeError('@Audit(): options.metadata must be a function');
  }
  if (options.metadataClass !== undefined) {
    if (typeof options.metadataClass !== 'function') {
      throw new TypeError('@Audit(): options.metadataClass must be a class');
    }
    metadataDeclaration(options.metadataClass); // a bad declaration fails here, at load
  }
  const spec: AuditSpec = Object.freeze(
    markSpec({ ...options, action, entityType, entityId }),
  );
  const check = once(`@Audit('${action}')`);
  const metadata = SetMetadata(AUDIT_KEY, spec);
  // on a handler, AuditInterceptor; on a controller, its subclass, which leaves the handlers that
  // have an @Audit of their own to the binding that one makes
  const onHandler = applyDecorators(
    metadata,
    UseInterceptors(AuditInterceptor),
  );
  const onController = applyDecorators(
    metadata,
    UseInterceptors(AuditControllerInterceptor),
  );
  return (
    target: object,
    key?: string | symbol,
    descriptor?: PropertyDescriptor,
  ): void => {
    if (descriptor === undefined || key === undefined) {
      check(target as Type);
      onController(target as Type);
    } else {
      check(target, key, descriptor);
      onHandler(target, key, descriptor);
    }
  };
}

/** Exempts a handler (or a whole controller) from auditing, even under a class-level `@Audit`. */
export function SkipAudit(): ClassDecorator & MethodDecorator {
  return applyDecorators(once('@SkipAudit()'), SetMetadata(AUDIT_KEY, false));
}
