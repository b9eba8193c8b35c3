import { optionCheck } from '../core/option-check.js';
import type { Durability } from '../writer/writer.options.js';
import {
  type MetadataPolicyOptions,
  type ResolvedMetadataPolicy,
  resolveMetadataPolicy,
} from './metadata-policy.js';

/** The parts of an HTTP request (Express or Fastify) the audit reads. */
export interface AuditRequest {
  /** Set by the host's authentication guard. */
  user?: unknown;
  /** The client address after the framework's trusted-proxy resolution. */
  ip?: string;
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string | undefined>;
}

/** The firm and user an audited request acts for. */
export interface AuditActor {
  firmId?: string | null;
  userId?: string | null;
}

/** Finds the firm and user of a request; may be async. */
export type AuditActorResolver = (
  request: AuditRequest,
) => AuditActor | null | undefined | Promise<AuditActor | null | undefined>;

/** What an audited request does when its successful action's row cannot be written. */
export type AuditWriteErrorPolicy = 'fail' | 'continue';

/** What an audited request without a firm does. */
export type MissingFirmPolicy = 'error' | 'skip';

/** Options of the audit trail, `LoggingModule.forRoot({ audit: {...} })`. */
export interface AuditOptions {
  /**
   * Finds the firm and the user of a request, after the guards ran. Default: `request.user.firmId`
   * and `request.user.id` (or `request.user.sub`).
   */
  resolveActor?: AuditActorResolver;
  /**
   * Header whose value becomes the request id (64 characters of `[A-Za-z0-9._:-]` at most; other
   * values are replaced). `false`: always generate one. Default: `'x-request-id'`.
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
   * Store the client's network instead of its address: IPv4 cut to its /24 (`203.0.113.7` →
   * `203.0.113.0`), IPv6 to its /48 (`2001:db8:85a3::`). Applies to every audit row, from `@Audit`
   * and from `record()` alike. Default: `false` (the address as resolved).
   */
  anonymizeIp?: boolean;
}

export interface ResolvedAuditOptions {
  resolveActor: AuditActorResolver;
  requestIdHeader: string | false;
  durability: Durability | undefined;
  onWriteError: AuditWriteErrorPolicy;
  onMissingFirm: MissingFirmPolicy;
  metadataPolicy: ResolvedMetadataPolicy;
  anonymizeIp: boolean;
}

/** `request.user.firmId`, and `request.user.id` or `request.user.sub`. */
export const defaultActorResolver: AuditActorResolver = (request) => {
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
    requestIdHeader:
      options.requestIdHeader === false
        ? false
        : (options.requestIdHeader ?? 'x-request-id').toLowerCase(),
    durability: options.durability,
    onWriteError: options.onWriteError ?? 'fail',
    onMissingFirm: options.onMissingFirm ?? 'error',
    metadataPolicy: resolveMetadataPolicy(options.metadataPolicy),
    anonymizeIp: options.anonymizeIp ?? false,
  };
  check(
    typeof resolved.resolveActor === 'function',
    'resolveActor',
    'a function',
  );
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
  /** Rows of audited requests written, successes and failures. */
  actionsRecorded: number;
  /** Of those, rows of actions that failed (`metadata.outcome = 'failure'`). */
  failuresRecorded: number;
  /** Rows of audited requests that could not be written (`onWriteError` applied). */
  writeFailures: number;
  /** Audited requests without a firm, run unaudited under `onMissingFirm: 'skip'`. */
  skippedNoFirm: number;
  /** Metadata values the policy dropped, from `@Audit` and from `record()`. */
  metadataDropped: number;
  /** Entity ids resolved for a row that were not UUIDs, stored as null. */
  entityIdsDropped: number;
}
