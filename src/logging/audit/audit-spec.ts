import type { ExecutionContext, Type } from '@nestjs/common';
import type { AuditTransportRequest } from './audit.options.js';

/**
 * Metadata key of `@Audit` and `@SkipAudit`: the handler's or controller's {@link AuditSpec}, or
 * `false` where auditing is skipped. One key, so that `Reflector.getAllAndOverride` lets a
 * handler's own decorator override its controller's.
 */
export const AUDIT_KEY = 'cma-logging:audit';

/** What an entity-id or metadata function of `@Audit` receives. */
export interface AuditArgs {
  readonly outcome: 'success' | 'failure';
  /** What `audit.resolveActor` received: the HTTP request, or the message of another transport. */
  readonly request: AuditTransportRequest;
  /** The route params of an HTTP request; `{}` on other transports. */
  readonly params: Record<string, string | undefined>;
  /** What the handler returned (success only). */
  readonly result?: unknown;
  /** What the handler threw (failure only). */
  readonly error?: unknown;
  /** Nest's execution context of the call (`getType()`, `getArgs()`, `switchToRpc()`...). */
  readonly context: ExecutionContext;
}

/**
 * Where the audited entity's id comes from: a key of the handler's result (`{ result: 'id' }`, the
 * default), a route param (`{ param: 'projectId' }`), or a function. A value that is not a UUID is
 * stored as null and counted in `stats().entityIdsDropped`.
 */
export type AuditEntityIdSource =
  { result: string } | { param: string } | ((args: AuditArgs) => unknown);

/** The options of `@Audit(action, entityType, options)`: where the entity id and metadata come from. */
export interface AuditDecoratorOptions {
  /** Default: `{ result: 'id' }`, so a handler returning the created entity needs nothing. */
  entityId?: AuditEntityIdSource;
  /**
   * Picks the metadata of the row: references and counts, e.g.
   * `({ result }) => ({ fileCount: result.files.length })`. What the metadata policy refuses is
   * dropped and counted (or refused, in strict mode). A function that throws stores no metadata.
   */
  metadata?: (
    args: AuditArgs,
  ) => Record<string, unknown> | null | undefined | void;
  /**
   * The keys the picked metadata may hold, and their kinds: a class whose properties carry
   * class-validator decorators (`@IsUUID()`, `@IsIn([...])`, `@Matches(...)`, `@IsInt() @Max(n)`,
   * `@IsBoolean()`, ...). Every other key is dropped and counted (refused in strict mode). Without
   * one, and without `audit.actions[action]`, the row stores only the keys the module adds.
   */
  metadataClass?: Type;
}

/** What `@Audit` stores on a handler or controller: its options, whole, and its arguments. */
export interface AuditSpec extends AuditDecoratorOptions {
  readonly action: string;
  readonly entityType: string;
  readonly entityId: AuditEntityIdSource;
}
