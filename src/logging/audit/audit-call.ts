import type { ExecutionContext } from '@nestjs/common';
import type { AuditSpec } from './audit-spec.js';
import { AuditConfigurationError } from './audit.errors.js';
import type { AuditRequest, AuditTransportRequest } from './audit.options.js';

/**
 * One audited call as the audit path sees it. `AuditInterceptor` reads it from Nest's
 * `ExecutionContext` once, before the handler runs; the rest of the path (the actor, the context
 * in force, the row) works on it alone and never reads the execution context again.
 */
export interface AuditCall {
  /** What `@Audit` stores on the handler or its controller. */
  readonly spec: AuditSpec;
  /** `context.getType()`: `'http'`, `'rpc'`, `'ws'` or `'graphql'`. */
  readonly transport: string;
  /** `Controller.handler`, for messages. */
  readonly handler: string;
  /** An `@Sse()` route: its values are `MessageEvent`s, what they carry is their `data`. */
  readonly sse: boolean;
  /** What `audit.resolveActor` receives: the HTTP request, or the message of another transport. */
  readonly request: AuditTransportRequest;
  /** The route params of an HTTP request; `{}` on other transports. */
  readonly params: Readonly<Record<string, string | undefined>>;
  /**
   * Nest's execution context of the call, handed as it is to the host's own functions
   * (`resolveActor`, `entityId`, `metadata`), which are promised it; the audit path reads nothing
   * from it.
   */
  readonly context: ExecutionContext;
}

const NO_PARAMS: Readonly<Record<string, string | undefined>> = Object.freeze(
  {},
);

/** What a call's description takes from its handler, the same for every call: read once. */
export type AuditedHandler = Pick<AuditCall, 'spec' | 'handler' | 'sse'>;

/**
 * The description of one call: its transport, handler and request, read from `context` once.
 * @param audited what the handler's calls share: the spec that applies, `Controller.handler`, and
 *   whether it is an `@Sse()` route
 * @throws AuditConfigurationError on a GraphQL resolver whose context holds no request, or a
 *   transport the audit does not know
 */
export function describeCall(
  audited: AuditedHandler,
  context: ExecutionContext,
): AuditCall {
  const { spec, handler, sse } = audited;
  const transport = context.getType<string>();
  const request = transportRequest(spec, transport, handler, context);
  const params =
    (request.transport === undefined ? request.params : undefined) ?? NO_PARAMS;
  return { spec, transport, handler, sse, request, params, context };
}

/** `@Audit('create_project') on ProjectsController.create (transport 'http')`, for messages. */
export function where(
  call: Pick<AuditCall, 'spec' | 'handler' | 'transport'>,
): string {
  return `@Audit('${call.spec.action}') on ${call.handler} (transport '${call.transport}')`;
}

/**
 * What `audit.resolveActor` receives for the call: the HTTP request (HTTP; GraphQL, from the
 * GraphQL context's `req`), or the message of a microservice or WebSocket handler.
 */
function transportRequest(
  spec: AuditSpec,
  transport: string,
  handler: string,
  context: ExecutionContext,
): AuditTransportRequest {
  if (transport === 'http') {
    return context.switchToHttp().getRequest<AuditRequest>();
  }
  if (transport === 'rpc') {
    const rpc = context.switchToRpc();
    return { transport: 'rpc', data: rpc.getData(), context: rpc.getContext() };
  }
  if (transport === 'ws') {
    const ws = context.switchToWs();
    return { transport: 'ws', client: ws.getClient(), data: ws.getData() };
  }
  const at = where({ spec, handler, transport });
  if (transport === 'graphql') {
    // resolver arguments: root, args, the GraphQL context, info
    const gqlContext = context.getArgs()[2] as { req?: unknown } | undefined;
    const req = gqlContext?.req as AuditRequest | undefined;
    if (typeof req?.headers === 'object' && req.headers !== null) return req;
    throw new AuditConfigurationError(
      `${at}: the GraphQL context holds no HTTP request under req, so the ` +
        `action cannot be attributed. Put it there with the GraphQL module's context option ` +
        `(context: ({ req }) => ({ req })), or take the handler out of @Audit`,
    );
  }
  throw new AuditConfigurationError(
    `${at}: this transport is not one the audit knows (http, rpc, ws, ` +
      `graphql), so the action cannot be recorded; audit it with AuditLogService.record instead`,
  );
}
