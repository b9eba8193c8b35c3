import type { ExecutionContext, Type } from '@nestjs/common';
import type { AuditTransportRequest } from './audit.options.js';

/**
 * Metadata key of `@Audit` and `@SkipAudit`: the handler's or controller's {@link AuditSpec}, or
 * `false` where auditing is skipped. One key, so that `Reflector.getAllAndOverride` lets a
 * handler's own decorator override its controller's.
 */
export const AUDIT_KEY = 'cma-logging:audit';

/**
 * Where a spec tells which copy of the package made it. Two installed copies in one application
 * share {@link AUDIT_KEY} (a string) and this key (from the global symbol registry); each puts its
 * own {@link THIS_COPY} under it, so that each can tell the other's specs from its own.
 */
const SPEC_COPY = Symbol.for('cma-logging:audit-copy');

/** This copy of the package: one object per loaded copy, and where it was loaded from. */
export const THIS_COPY: { readonly loadedFrom: string } = Object.freeze({
  loadedFrom: new URL('..', import.meta.url).pathname,
});

/** Marks `spec` as made by this copy (a property that is neither enumerable nor writable). */
export function markSpec<T extends object>(spec: T): T {
  return Object.defineProperty(spec, SPEC_COPY, { value: THIS_COPY });
}

/**
 * The copy of the package that made `spec`: {@link THIS_COPY}, another copy's, or undefined for a
 * spec made by a copy from before the mark.
 */
export function copyOf(
  spec: object,
): { readonly loadedFrom?: unknown } | undefined {
  return (spec as { [SPEC_COPY]?: { readonly loadedFrom?: unknown } })[
    SPEC_COPY
  ];
}

/**
 * What an entity-id or metadata function of `@Audit` receives, once the call has ended.
 */
export interface AuditArgs {
  /**
   * How the call ended: `'success'` (the handler completed), `'failure'` (it threw or errored,
   * after values or not), `'cancelled'` (the subscriber left before it completed: an SSE client
   * disconnecting, a `timeout()` upstream).
   */
  readonly outcome: 'success' | 'failure' | 'cancelled';
  /** What `audit.resolveActor` received: the HTTP request, or the message of another transport. */
  readonly request: AuditTransportRequest;
  /** The route params of an HTTP request; `{}` on other transports. */
  readonly params: Record<string, string | undefined>;
  /**
   * The last value the handler emitted: on success, the one the client received last (Nest answers
   * HTTP with it; an SSE stream's last event); on failure or cancellation, the last before the
   * end, if any. Undefined when it emitted none.
   */
  readonly result?: unknown;
  /** How many values the handler emitted: 1 for a handler returning a value or a promise. */
  readonly values: number;
  /** What the handler threw (failure only). */
  readonly error?: unknown;
  /** Nest's execution context of the call (`getType()`, `getArgs()`, `switchToRpc()`...). */
  readonly context: ExecutionContext;
}

/**
 * Where the audited entity's id comes from: a key of the handler's result (`{ result: 'id' }`, the
 * default; on an `@Sse()` handler, a key of the last event's `data`, never the event's own `id`),
 * a route param (`{ param: 'projectId' }`), or a function. A value that is not a UUID is stored as
 * null and counted in `stats().entityIdsDropped`.
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
   * dropped and counted (in strict mode, the whole is left out and the row says
   * `metadataRefused: true`). A function that throws stores no metadata.
   */
  metadata?: (
    args: AuditArgs,
  ) => Record<string, unknown> | null | undefined | void;
  /**
   * The keys the picked metadata may hold, and their kinds: a class whose properties carry
   * class-validator decorators (`@IsUUID()`, `@IsIn([...])`, `@Matches(...)`, `@IsInt() @Max(n)`,
   * `@IsBoolean()`, ...). Every other key is dropped and counted (in strict mode, refused). Without
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
