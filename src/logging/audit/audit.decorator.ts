import { SetMetadata, type Type } from '@nestjs/common';
import { wrapController, wrapHandler } from './audit-handler.js';
import { metadataDeclaration } from './metadata-declaration.js';
import {
  AUDIT_KEY,
  type AuditDecoratorOptions,
  type AuditSpec,
  SKIP_AUDIT_KEY,
} from './audit-spec.js';

export {
  AUDIT_KEY,
  type AuditArgs,
  type AuditDecoratorOptions,
  type AuditEntityIdSource,
  type AuditSpec,
  SKIP_AUDIT_KEY,
} from './audit-spec.js';

const IDENTIFIER = /^[a-z][a-z0-9_]{0,63}$/;

function checkIdentifier(field: string, value: unknown): void {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new TypeError(
      `@Audit(): ${field} must be a lowercase identifier (a letter, then letters, digits or underscores, 64 characters at most), got ${JSON.stringify(value)}`,
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
 * Audits a controller action: after the handler settles, one `audit_log` row records the action,
 * the entity, the firm, the user, the client IP and the outcome. On a class, it audits every
 * handler of the controller; a handler's own `@Audit` or `@SkipAudit` takes precedence.
 *
 * It wraps the handler, so nothing needs mounting and no interceptor runs: routes without `@Audit`
 * run exactly as they would without the module. The wrapper asks Nest for the request in an extra
 * argument (`@Req()`) the handler never sees. Requests refused before the handler (guards, pipes)
 * are not audited; mount `AuditInterceptor` to audit pipe refusals too.
 *
 * @param action e.g. `create_project`, `upload_file`, `run_extraction`, `resolve_review`, `download_cma`
 * @param entityType e.g. `cma_project`
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
  const spec: AuditSpec = Object.freeze({
    action,
    entityType,
    entityId,
    metadata: options.metadata,
    metadataClass: options.metadataClass,
  });
  return (
    target: object,
    key?: string | symbol,
    descriptor?: PropertyDescriptor,
  ): void => {
    if (key === undefined || descriptor === undefined) {
      SetMetadata(AUDIT_KEY, spec)(target as Type);
      wrapController(target as Type, spec);
      return;
    }
    if (typeof descriptor.value !== 'function') {
      throw new TypeError(
        `@Audit('${action}'): ${String(key)} is not a method`,
      );
    }
    descriptor.value = wrapHandler(
      target,
      key,
      descriptor.value as (...args: unknown[]) => unknown,
      spec,
    );
  };
}

/** Exempts a handler (or a whole controller) from auditing, even under a class-level `@Audit`. */
export function SkipAudit(): ClassDecorator & MethodDecorator {
  return SetMetadata(SKIP_AUDIT_KEY, true);
}
