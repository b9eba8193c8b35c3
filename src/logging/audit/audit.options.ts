import type { ExecutionContext, Type } from '@nestjs/common';
import { optionCheck } from '../core/option-check.js';
import type { Durability } from '../writer/writer.options.js';
import {
  type MetadataPolicyOptions,
  type ResolvedMetadataPolicy,
  resolveMetadataPolicy,
} from '../core/metadata-policy.js';

/**
 * The parts of an HTTP request (Express or Fastify) the audit reads. It is what `resolveActor`
 * receives on HTTP routes, and on GraphQL resolvers (the request in the GraphQL context's `req`).
 */
export interface AuditRequest {
  /** Absent on an HTTP request: tells it apart from the messages of other transports. */
  transport?: undefined;
  /** Set by the host's authentication guard. */
  user?: unknown;
  /** The client address after the framework's trusted-proxy resolution. */
  ip?: string;
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string | undefined>;
}

/**
 * What `resolveActor` receives on a microservice handler (`@MessagePattern`, `@EventPattern`;
 * `context.getType() === 'rpc'`): the message's payload and the transport's context (`TcpContext`,
 * `NatsContext`, `KafkaContext`...), as `context.switchToRpc()` gives them.
 */
export interface AuditRpcRequest {
  readonly transport: 'rpc';
  /** The payload, as the transport decoded it (before any pipe). */
  readonly data: unknown;
  /** The transport's context: headers, subject, partition..., depending on the transport. */
  readonly context: unknown;
}

/**
 * What `resolveActor` receives on a WebSocket gateway's `@SubscribeMessage` handler
 * (`context.getType() === 'ws'`): the client socket and the message's data, as
 * `context.switchToWs()` gives them.
 */
export interface AuditWsRequest {
  readonly transport: 'ws';
  /** The socket of the client (a `ws` WebSocket, a socket.io `Socket`...). */
  readonly client: unknown;
  /** The message's data (before any pipe). */
  readonly data: unknown;
}

/** What `resolveActor` receives, by transport: tell them apart with `request.transport`. */
export type AuditTransportRequest =
  AuditRequest | AuditRpcRequest | AuditWsRequest;

/** The firm and user an audited request acts for, and where from. */
export interface AuditActor {
  firmId?: string | null;
  userId?: string | null;
  /**
   * The client address, when the resolver knows it. Default: the HTTP request's `ip` (the
   * framework's trusted-proxy resolution); null on microservices and WebSocket gateways.
   */
  ipAddress?: string | null;
}

/**
 * Finds the firm and user of an audited call, after the guards ran; may be async. `request` is
 * the HTTP request (HTTP and GraphQL), or the message of a microservice or WebSocket handler
 * (`request.transport` `'rpc'` or `'ws'`); `context` is Nest's execution context of the call.
 */
export type AuditActorResolver = (
  request: AuditTransportRequest,
  context: ExecutionContext,
) => AuditActor | null | undefined | Promise<AuditActor | null | undefined>;

/** What an audited request does when its successful action's row cannot be written. */
export type AuditWriteErrorPolicy = 'fail' | 'continue';

/** What an audited request without a firm does. */
export type MissingFirmPolicy = 'error' | 'skip';

/** Options of the audit trail, `LoggingModule.forRoot({ audit: {...} })`. */
export interface AuditOptions {
  /**
   * Finds the firm and the user of an audited call, after the guards ran. Default:
   * `request.user.firmId` and `request.user.id` (or `request.user.sub`) of the HTTP request; the
   * default finds no actor in a microservice or WebSocket message, so an application with such a
   * handler under `@Audit` does not start (`AuditConfigurationError`) until a resolver is given.
   * @example
   * resolveActor: (request) =>
   *   request.transport === 'rpc'
   *     ? (request.data as { actor: { firmId: string; userId: string } }).actor
   *     : { firmId: (request.user as Jwt).firm, userId: (request.user as Jwt).sub },
   */
  resolveActor?: AuditActorResolver;
  /**
   * @deprecated It mounts nothing, and a warning at startup says so. `@Audit` binds
   * `AuditInterceptor` wherever it is used, and that binding audits: an app-wide mount would fill
   * in only for audited routes nothing else covers, and there are none. Accepted so that existing
   * configurations start; what is recorded is the same either way. Default: `false`.
   */
  global?: boolean;
  /**
   * Header whose value becomes the request id: a UUID or a ULID, or a token of at most 64
   * characters of `[A-Za-z0-9._:-]`, none of them holding an identity number or an amount; any
   * other value is replaced by a new UUID. `false`: always generate one. Default: `'x-request-id'`.
   */
  requestIdHeader?: string | false;
  /**
   * Durability of the rows of audited handlers. With `'await'` the response leaves only after
   * its audit row is committed. Default: the writer's `durability` (`'await'` unless configured).
   */
  durability?: Durability;
  /**
   * When a successful action's row cannot be written: `'fail'` answers the request with an error
   * (`AuditWriteError`, HTTP 500), so no client is told of an action that is not on record;
   * `'continue'` logs it, counts it in `stats().writeFailures` and sends the response. A failed
   * action's own error is always passed on unchanged. Default: `'fail'`.
   */
  onWriteError?: AuditWriteErrorPolicy;
  /**
   * When an audited request has no firm: `'error'` refuses it with `AuditConfigurationError`
   * before the handler runs; `'skip'` runs it unaudited and counts it in `stats().skippedNoFirm`.
   * Default: `'error'`.
   */
  onMissingFirm?: MissingFirmPolicy;
  /** The metadata policy: what may be stored in `audit_log.metadata`. */
  metadataPolicy?: MetadataPolicyOptions;
  /**
   * The metadata each action may store, for actions recorded with `AuditLogService.record()` (and
   * for `@Audit` actions without a `metadataClass`): action name → a declaration class, whose
   * properties carry class-validator decorators of the kinds the policy knows. Default: `{}`.
   * @example
   * actions: { upload_file: UploadFileMetadata }
   */
  actions?: Readonly<Record<string, Type>>;
  /**
   * Store the client's network instead of its address: IPv4 cut to its /24 (`203.0.113.7` →
   * `203.0.113.0`), IPv6 to its /48 (`2001:db8:85a3::`). Applies to every audit row, from `@Audit`
   * and from `record()` alike. Default: `false` (the address as resolved).
   */
  anonymizeIp?: boolean;
}

export interface ResolvedAuditOptions {
  resolveActor: AuditActorResolver;
  global: boolean;
  requestIdHeader: string | false;
  durability: Durability | undefined;
  onWriteError: AuditWriteErrorPolicy;
  onMissingFirm: MissingFirmPolicy;
  metadataPolicy: ResolvedMetadataPolicy;
  actions: Readonly<Record<string, Type>>;
  anonymizeIp: boolean;
}

/** `request.user.firmId`, and `request.user.id` or `request.user.sub`. */
export const defaultActorResolver: AuditActorResolver = (request) => {
  if (request.transport !== undefined) return undefined;
  const user = request.user as
    { firmId?: unknown; id?: unknown; sub?: unknown } | null | undefined;
  if (typeof user !== 'object' || user === null) return undefined;
  const userId = user.id ?? user.sub;
  return {
    firmId: typeof user.firmId === 'string' ? user.firmId : null,
    userId: typeof userId === 'string' ? userId : null,
  };
};

const check = optionCheck('audit');

/** Merges the defaults and checks every value, naming the field and the rule it breaks. */
export function resolveAuditOptions(
  options: AuditOptions = {},
): ResolvedAuditOptions {
  const resolved: ResolvedAuditOptions = {
    resolveActor: options.resolveActor ?? defaultActorResolver,
    global: options.global ?? false,
    requestIdHeader:
      options.requestIdHeader === false
        ? false
        : (options.requestIdHeader ?? 'x-request-id').toLowerCase(),
    durability: options.durability,
    onWriteError: options.onWriteError ?? 'fail',
    onMissingFirm: options.onMissingFirm ?? 'error',
    metadataPolicy: resolveMetadataPolicy(options.metadataPolicy),
    actions: options.actions ?? {},
    anonymizeIp: options.anonymizeIp ?? false,
  };
  check(
    typeof resolved.actions === 'object' &&
      resolved.actions !== null &&
      Object.entries(resolved.actions).every(
        ([action, type]) =>
          /^[a-z][a-z0-9_]{0,63}$/.test(action) && typeof type === 'function',
      ),
    'actions',
    'an object of action names (lowercase identifiers) to declaration classes',
  );
  check(
    typeof resolved.resolveActor === 'function',
    'resolveActor',
    'a function',
  );
  check(typeof resolved.global === 'boolean', 'global', 'a boolean');
  check(
    resolved.requestIdHeader === false ||
      /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(resolved.requestIdHeader),
    'requestIdHeader',
    'a header name or false',
  );
  check(
    resolved.durability === undefined ||
      ['await', 'buffered'].includes(resolved.durability),
    'durability',
    `'await' or 'buffered'`,
  );
  check(
    ['fail', 'continue'].includes(resolved.onWriteError),
    'onWriteError',
    `'fail' or 'continue'`,
  );
  check(typeof resolved.anonymizeIp === 'boolean', 'anonymizeIp', 'a boolean');
  check(
    ['error', 'skip'].includes(resolved.onMissingFirm),
    'onMissingFirm',
    `'error' or 'skip'`,
  );
  return resolved;
}

/** Counters of the audit trail, read with `AuditLogService.stats()`. They only grow. */
export interface AuditStats {
  /** Rows of audited requests written, whatever their outcome. */
  actionsRecorded: number;
  /** Of those, rows of actions that failed (`metadata.outcome = 'failure'`). */
  failuresRecorded: number;
  /**
   * Of those, rows of calls the subscriber left before they completed (`metadata.outcome =
   * 'cancelled'`): an SSE client disconnecting, a `timeout()` upstream.
   */
  cancelledRecorded: number;
  /** Rows of audited requests that could not be written (`onWriteError` applied). */
  writeFailures: number;
  /** Audited requests without a firm, run unaudited under `onMissingFirm: 'skip'`. */
  skippedNoFirm: number;
  /** Metadata values the policy dropped, from `@Audit` and from `record()`, system keys included. */
  metadataDropped: number;
  /**
   * Rows of audited handlers whose picked metadata the strict policy (`metadataPolicy.strict`)
   * refused: written with the system keys and `metadataRefused: true`, without the picked metadata.
   * Apart from `writeFailures`: these rows are in the database.
   */
  metadataRefused: number;
  /** Entity ids resolved for a row that were not UUIDs, stored as null. */
  entityIdsDropped: number;
}
