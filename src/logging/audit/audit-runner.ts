import { type ExecutionContext, HttpException, Logger } from '@nestjs/common';
import { isUUID } from 'class-validator';
import type { RecordOptions } from '../writer/log-writer.service.js';
import type { AuditContext } from '../core/audit-context.js';
import type { AuditRecorder } from './audit-log.service.js';
import type { AuditArgs, AuditSpec } from './audit-spec.js';
import { AuditConfigurationError, AuditWriteError } from './audit.errors.js';
import {
  type AuditActor,
  type AuditTransportRequest,
  defaultActorResolver,
} from './audit.options.js';
import { anonymizeIp, clientIp } from './ip-address.js';
import { newRequestId, safeRequestId } from '../core/metadata-policy.js';

/** The UUID rule of the entry classes (`@IsUUID('all')`), which this path does not run again. */
const isUuid = (value: string) => isUUID(value, 'all');

/**
 * The audit of one call, apart from Nest's plumbing (which is `AuditInterceptor`'s): the call's
 * audit context from its actor, and its row once the handler settled.
 */
export class AuditRunner {
  private readonly logger = new Logger('LoggingModule');
  private readonly recordOptions: RecordOptions;

  constructor(private readonly audit: AuditRecorder) {
    this.recordOptions = { durability: audit.options.durability };
  }

  /** The firm and user of the call, as `audit.resolveActor` finds them; maybe a promise. */
  resolveActor(
    spec: AuditSpec,
    context: ExecutionContext,
    request: AuditTransportRequest,
  ): ReturnType<AuditRecorder['options']['resolveActor']> {
    const resolve = this.audit.options.resolveActor;
    if (request.transport !== undefined && resolve === defaultActorResolver) {
      throw new AuditConfigurationError(
        `${where(spec, context)}: the default audit.resolveActor reads request.user of an HTTP ` +
          `request and finds no actor in a message. Set audit.resolveActor to find the firm and ` +
          `user in it (request is { transport: '${request.transport}', ${
            request.transport === 'rpc' ? 'data, context' : 'client, data'
          } })`,
      );
    }
    return resolve(request, context);
  }

  /**
   * The audit context of the call, or null to run it unaudited (no firm, `onMissingFirm:
   * 'skip'`).
   * @throws AuditConfigurationError without a firm (`onMissingFirm: 'error'`), or with ids that are
   *   not UUIDs
   */
  contextOf(
    spec: AuditSpec,
    context: ExecutionContext,
    request: AuditTransportRequest,
    actor: AuditActor | null | undefined,
  ): AuditContext | null {
    const firmId = actor?.firmId ?? null;
    const userId = actor?.userId ?? null;
    if (firmId === null) {
      if (this.audit.options.onMissingFirm === 'skip') {
        this.audit.counters.skippedNoFirm++;
        return null;
      }
      throw new AuditConfigurationError(
        `${where(spec, context)}: no firm resolved for the request. ` +
          `Authenticate it so that request.user.firmId is set, give LoggingModule an ` +
          `audit.resolveActor, or set audit.onMissingFirm to 'skip'`,
      );
    }
    if (!isUuid(firmId) || (userId !== null && !isUuid(userId))) {
      throw new AuditConfigurationError(
        `${where(spec, context)}: the resolved ` +
          `${isUuid(firmId) ? 'userId' : 'firmId'} is not a UUID; ` +
          `check audit.resolveActor`,
      );
    }
    return {
      firmId,
      userId,
      ipAddress: this.ipAddress(request, actor?.ipAddress),
      requestId: this.requestId(request),
    };
  }

  async recordSuccess(
    spec: AuditSpec,
    context: ExecutionContext,
    request: AuditTransportRequest,
    ctx: AuditContext,
    result: unknown,
  ): Promise<void> {
    const args = new Args('success', context, request, result, undefined);
    try {
      await this.write(spec, args, ctx, { outcome: 'success' });
    } catch (error) {
      this.writeFailed(spec, error);
      if (this.audit.options.onWriteError === 'fail') {
        throw new AuditWriteError(spec.action, error);
      }
    }
  }

  async recordFailure(
    spec: AuditSpec,
    context: ExecutionContext,
    request: AuditTransportRequest,
    ctx: AuditContext,
    error: unknown,
  ): Promise<void> {
    const args = new Args('failure', context, request, undefined, error);
    try {
      await this.write(spec, args, ctx, {
        outcome: 'failure',
        errorClass: errorClass(error),
        status: httpStatus(error),
      });
      this.audit.counters.failuresRecorded++;
    } catch (writeError) {
      this.writeFailed(spec, writeError); // the handler's error goes on unchanged
    }
  }

  private async write(
    spec: AuditSpec,
    args: AuditArgs,
    ctx: AuditContext,
    system: Record<string, unknown>,
  ): Promise<void> {
    system.requestId = ctx.requestId;
    await this.audit.recordAction(
      {
        firmId: ctx.firmId as string,
        userId: ctx.userId,
        action: spec.action,
        entityType: spec.entityType,
        entityId: this.entityId(spec, args),
        ipAddress: ctx.ipAddress,
        metadata: this.metadata(spec, args),
      },
      system,
      this.recordOptions,
    );
    this.audit.counters.actionsRecorded++;
  }

  private entityId(spec: AuditSpec, args: AuditArgs): string | null {
    const source = spec.entityId;
    let value: unknown;
    try {
      if (typeof source === 'function') value = source(args);
      else if ('param' in source) value = args.params[source.param];
      else if (args.result !== null && typeof args.result === 'object') {
        value = (args.result as Record<string, unknown>)[source.result];
      }
    } catch (error) {
      this.logger.warn(
        `@Audit('${spec.action}'): the entityId function threw (${errorClass(error)}); stored null`,
      );
      this.audit.counters.entityIdsDropped++;
      return null;
    }
    if (value === undefined || value === null) return null;
    if (typeof value === 'string' && isUuid(value)) return value;
    this.audit.counters.entityIdsDropped++;
    return null;
  }

  private metadata(
    spec: AuditSpec,
    args: AuditArgs,
  ): Record<string, unknown> | undefined {
    if (!spec.metadata) return undefined;
    try {
      return spec.metadata(args) ?? undefined;
    } catch (error) {
      this.logger.warn(
        `@Audit('${spec.action}'): the metadata function threw (${errorClass(error)}); stored none`,
      );
      this.audit.counters.metadataDropped++;
      return undefined;
    }
  }

  private writeFailed(spec: AuditSpec, error: unknown): void {
    this.audit.counters.writeFailures++;
    this.logger.error(
      `audit_log: the row of action '${spec.action}' could not be written ` +
        `(audit.onWriteError '${this.audit.options.onWriteError}'): ${
          error instanceof Error ? error.message : String(error)
        }`,
    );
  }

  /** The resolver's address if it gave one, else the HTTP request's; null for messages. */
  private ipAddress(
    request: AuditTransportRequest,
    resolved: string | null | undefined,
  ): string | null {
    const ip =
      resolved !== undefined
        ? clientIp(resolved ?? undefined)
        : request.transport === undefined
          ? clientIp(request.ip)
          : null;
    return ip !== null && this.audit.options.anonymizeIp ? anonymizeIp(ip) : ip;
  }

  private requestId(request: AuditTransportRequest): string {
    const header = this.audit.options.requestIdHeader;
    if (header !== false && request.transport === undefined) {
      const value = safeRequestId(request.headers[header]);
      if (value !== null) return value;
    }
    return newRequestId();
  }
}

/** What the entity-id and metadata functions receive. */
class Args implements AuditArgs {
  readonly params: Record<string, string | undefined>;

  constructor(
    readonly outcome: 'success' | 'failure',
    readonly context: ExecutionContext,
    readonly request: AuditTransportRequest,
    readonly result: unknown,
    readonly error: unknown,
  ) {
    this.params =
      (request.transport === undefined ? request.params : undefined) ?? {};
  }
}

/** `@Audit('create_project') on ProjectsController.create (transport 'http')`, for messages. */
export function where(spec: AuditSpec, context: ExecutionContext): string {
  return `@Audit('${spec.action}') on ${context.getClass().name}.${
    context.getHandler().name
  } (transport '${context.getType()}')`;
}

function errorClass(error: unknown): string {
  const name =
    error instanceof Error
      ? error.constructor.name || error.name
      : typeof error;
  return /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name) ? name : 'Error';
}

function httpStatus(error: unknown): number {
  if (error instanceof HttpException) return error.getStatus();
  const status =
    (error as { status?: unknown; statusCode?: unknown } | null)?.status ??
    (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' &&
    Number.isInteger(status) &&
    status >= 400 &&
    status <= 599
    ? status
    : 500;
}
