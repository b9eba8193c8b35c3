import {
  Inject,
  Injectable,
  Logger,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import {
  AUDIT_OPTIONS,
  LOG_DIGESTS,
  TELEMETRY_OPTIONS,
} from '../core/logging.constants.js';
import { LogDigests } from '../core/log-digests.js';
import { warnLooseIdentifiers } from '../core/metadata-canaries.js';
import { otelFor } from '../core/otel.js';
import type { LoggingTelemetryOptions } from '../core/telemetry.options.js';
import { AuditMetrics } from './audit.telemetry.js';
import {
  LogWriterService,
  type RecordOptions,
  type TableWriter,
} from '../writer/log-writer.service.js';
import { AUDIT_TABLE } from './audit-log.table.js';
import { auditContext } from '../core/audit-context.js';
import type { AuditLogEntry, AuditLogEntryDto } from './audit-log-entry.dto.js';
import type { AuditStats, ResolvedAuditOptions } from './audit.options.js';
import { markMeasuredJson } from '../core/validation-rules.js';
import { anonymizeIp } from './ip-address.js';
import { ActionDeclarations, discoverAudited } from './audit-declarations.js';
import { refuseOtherCopies, refuseUnservedHandlers } from './audit-startup.js';
import {
  AuditMetadataError,
  type MetadataDrop,
  sanitizeMetadata,
  safeRequestId,
  storedMetadata,
  type SystemMetadata,
} from '../core/metadata-policy.js';

/**
 * The audit trail's write path, shared by {@link AuditLogService} (entries from the host) and
 * `AuditRunner` (audited handlers): fills entries from the request context, passes metadata
 * through the policy under each action's declaration, writes the row and keeps the counters. Not
 * part of the package's API.
 */
@Injectable()
export class AuditRecorder implements OnModuleInit {
  private readonly logger = new Logger('LoggingModule');
  private readonly table: TableWriter<AuditLogEntryDto>;
  /** The metadata declarations per action. */
  readonly declarations = new ActionDeclarations();
  /** Counted here and by `AuditRunner`; the host reads a copy with `AuditLogService.stats()`. */
  readonly counters: AuditStats = {
    actionsRecorded: 0,
    failuresRecorded: 0,
    cancelledRecorded: 0,
    metadataRefused: 0,
    writeFailures: 0,
    skippedNoFirm: 0,
    metadataDropped: 0,
    entityIdsDropped: 0,
  };

  private metrics: AuditMetrics | undefined;

  constructor(
    writer: LogWriterService,
    /** The audit options in force, defaults merged. */
    @Inject(AUDIT_OPTIONS) readonly options: ResolvedAuditOptions,
    @Optional()
    @Inject(TELEMETRY_OPTIONS)
    private readonly telemetry?: LoggingTelemetryOptions,
    @Optional() private readonly discovery?: DiscoveryService,
    @Optional() private readonly scanner?: MetadataScanner,
    @Optional() private readonly reflector?: Reflector,
    @Optional()
    @Inject(LOG_DIGESTS)
    private readonly digests: LogDigests = new LogDigests(),
  ) {
    this.table = writer.register(AUDIT_TABLE);
    for (const [action, type] of Object.entries(this.options.actions)) {
      this.declarations.add(action, type, `audit.actions.${action}`);
    }
  }

  /**
   * Refuses to start an application whose handlers carry `@Audit` of another copy of the package,
   * or whose audited handlers the configured `resolveActor` cannot serve (audit-startup.ts). Reads the declarations of `@Audit(..., { metadataClass })` and warns,
   * once, of the audited actions that have none, and of declared identifier patterns that admit
   * identity data or amounts (metadata-canaries.ts); starts the audit metrics when the host's
   * OpenTelemetry is on.
   * @throws AuditConfigurationError naming the handlers that could never be audited
   */
  async onModuleInit(): Promise<void> {
    await this.startMetrics();
    if (!this.discovery || !this.scanner || !this.reflector) {
      this.warnLooseIdentifiers();
      return;
    }
    const { actions, methods } = discoverAudited(
      this.discovery,
      this.scanner,
      this.reflector,
    );
    refuseOtherCopies(actions);
    await refuseUnservedHandlers(methods, this.options);
    if (this.options.global) {
      this.logger.warn(
        'audit.global: true mounts nothing: @Audit binds AuditInterceptor wherever it is used, ' +
          'and that binding audits, so there is no route for an app-wide mount to fill in. ' +
          'Remove the option',
      );
    }
    for (const { action, metadataClass, where } of actions) {
      if (metadataClass) this.declarations.add(action, metadataClass, where);
    }
    this.warnLooseIdentifiers();
    const undeclared = new Map<string, string[]>();
    for (const { action, where } of actions) {
      if (this.declarations.has(action)) continue;
      undeclared.set(action, [...(undeclared.get(action) ?? []), where]);
    }
    if (undeclared.size === 0) return;
    const heuristic = this.options.metadataPolicy.mode === 'heuristic';
    this.logger.warn(
      `audit_log: ${undeclared.size} audited action(s) have no metadata declaration and ${
        heuristic
          ? 'fall back to the heuristic key-word rules'
          : 'store only the system keys'
      }: ${[...undeclared].map(([action, where]) => `${action} (${where.join(', ')})`).join('; ')}. ` +
        `Declare their keys with @Audit(..., { metadataClass }) or audit.actions`,
    );
  }

  /** One warning per declared identifier whose pattern admits a canary. */
  private warnLooseIdentifiers(): void {
    warnLooseIdentifiers(this.logger, 'audit_log', this.declarations.all());
  }

  /** Starts the audit metrics when the host's OpenTelemetry is on. */
  private async startMetrics(): Promise<void> {
    const otel = await otelFor(this.telemetry);
    this.metrics = otel && new AuditMetrics(otel, this.counters);
  }

  /**
   * Records one auditable action and resolves with the new row's id: after the commit with
   * durability `'await'` (the default), at once with `'buffered'`, inside the caller's transaction
   * with `{ manager }`.
   *
   * Inside an audited request (or `auditContext.run`), `firmId`, `userId` and `ipAddress` left out
   * of the entry come from the context, and the request id is added to the metadata. The metadata
   * passes the metadata policy: what it refuses is dropped and counted, or refused with
   * `AuditMetadataError` in strict mode.
   *
   * @throws LogEntryValidationError naming every bad field; nothing is written
   * @throws AuditMetadataError when the strict metadata policy refuses a value; nothing is written
   * @throws LogWriteError when the row could not be written (`'await'` and `manager` only)
   * @throws LogBufferFullError when the buffer is full and `writer.onFullBuffer` is `'reject'`
   * @example
   * await audit.record({ firmId, userId, action: 'create_project', entityType: 'cma_project', entityId });
   */
  async record(entry: AuditLogEntry, options?: RecordOptions): Promise<string> {
    const filled = this.fill(entry);
    const id = await this.table.record(filled, options);
    const row = filled as AuditLogEntry;
    this.metrics?.audited(
      String(row.action),
      row.metadata?.outcome,
      row.firmId,
    );
    return id;
  }

  /**
   * The path of audited handlers (`AuditRunner`). Every field of `entry` is already checked: firm, user and
   * entity ids are UUIDs or null, the IP is an address or null, action and entity type were checked
   * by `@Audit`. The picked metadata passes the policy here, under the action's declaration;
   * `system` holds the keys the module sets itself (`outcome`, `requestId`, ...), which take
   * precedence over the picked metadata and are checked by their own rules; the whole is bounded
   * in size as stored. Metadata the strict policy refuses is left out, and the row is written with
   * the system keys and `metadataRefused: true` (counted in `metadataRefused`): the action has run,
   * and its row must not be lost to its metadata.
   */
  recordAction(
    entry: AuditLogEntryDto,
    system: SystemMetadata,
    options?: RecordOptions,
  ): string | Promise<string> {
    const picked = entry.metadata;
    let declared: Record<string, unknown> | undefined;
    if (
      picked !== null &&
      typeof picked === 'object' &&
      !Array.isArray(picked)
    ) {
      try {
        declared = this.sanitize(picked, entry);
      } catch (error) {
        if (!(error instanceof AuditMetadataError)) throw error;
        // The action has run: its row is written without the metadata, saying so.
        system.metadataRefused = true;
        this.counters.metadataRefused++;
      }
    }
    entry.metadata = this.store(declared, system, entry);
    // a 'buffered' row taken at once gives its id at once: the call ends in the same turn
    const written = this.table.take(entry, options);
    const metrics = this.metrics;
    if (!metrics) return written;
    if (typeof written === 'string') {
      metrics.audited(entry.action, system.outcome, entry.firmId);
      return written;
    }
    return written.then((id) => {
      metrics.audited(entry.action, system.outcome, entry.firmId);
      return id;
    });
  }

  /**
   * The metadata as stored: the system keys checked, and the whole within the size bound. `system`
   * is the row's own: its request id is replaced by the id's keyed digest.
   */
  private store(
    declared: Record<string, unknown> | undefined,
    system: SystemMetadata,
    entry: AuditLogEntry,
  ): Record<string, unknown> {
    // the request id is never stored as given: its keyed digest is (docs/metadata-policy.md)
    const requestId = safeRequestId(system.requestId);
    if (requestId !== null)
      system.requestId = this.digests.requestId(requestId);
    const { metadata, dropped } = storedMetadata(declared, system);
    if (dropped.length > 0) this.dropped(entry, dropped, 'trimmed');
    return markMeasuredJson(metadata);
  }

  private fill(entry: AuditLogEntry): unknown {
    if (typeof entry !== 'object' || entry === null) return entry; // refused by validation
    const context = auditContext.current();
    let metadata: unknown = entry.metadata;
    if (metadata !== null && typeof metadata === 'object') {
      // arrays and other non-objects are left for validation to refuse
      if (!Array.isArray(metadata)) metadata = this.sanitize(metadata, entry);
    }
    const ipAddress =
      this.options.anonymizeIp && typeof entry.ipAddress === 'string'
        ? anonymizeIp(entry.ipAddress)
        : entry.ipAddress;
    if (context === undefined) {
      return metadata === entry.metadata && ipAddress === entry.ipAddress
        ? entry
        : { ...entry, metadata, ipAddress };
    }
    if (context.requestId !== null) {
      if (metadata === null || metadata === undefined) metadata = {};
      if (typeof metadata === 'object' && !Array.isArray(metadata)) {
        metadata = this.store(
          metadata as Record<string, unknown>,
          { requestId: context.requestId },
          entry,
        );
      }
    }
    return {
      ...entry,
      firmId: entry.firmId === undefined ? context.firmId : entry.firmId,
      userId: entry.userId === undefined ? context.userId : entry.userId,
      ipAddress: ipAddress === undefined ? context.ipAddress : ipAddress,
      metadata,
    };
  }

  private sanitize(
    metadata: object,
    entry: AuditLogEntry,
  ): Record<string, unknown> {
    try {
      const { metadata: clean, dropped } = sanitizeMetadata(
        metadata,
        this.options.metadataPolicy,
        this.declarations.get(entry.action),
      );
      if (dropped.length > 0) this.dropped(entry, dropped, 'trimmed');
      return markMeasuredJson(clean);
    } catch (error) {
      if (error instanceof AuditMetadataError) {
        this.dropped(entry, error.dropped, 'refused');
      }
      throw error;
    }
  }

  private dropped(
    entry: AuditLogEntry,
    drops: readonly MetadataDrop[],
    verdict: 'trimmed' | 'refused',
  ): void {
    this.counters.metadataDropped += drops.length;
    this.logger.warn(
      `audit_log: metadata of action '${String(entry.action)}' ${verdict} by the policy: ${drops
        .map((d) => `${d.path || '(root)'} (${d.rule})`)
        .join(', ')}`,
    );
  }
}

/** Writes the audit trail: entries the host records itself, beside those `@Audit` writes. */
@Injectable()
export class AuditLogService {
  constructor(private readonly recorder: AuditRecorder) {}

  /**
   * Records one auditable action and resolves with the new row's id: after the commit with
   * durability `'await'` (the default), at once with `'buffered'`, inside the caller's transaction
   * with `{ manager }`.
   *
   * Inside an audited request (or `auditContext.run`), `firmId`, `userId` and `ipAddress` left out
   * of the entry come from the context, and the request id is added to the metadata. The metadata
   * passes the metadata policy under the action's declaration.
   *
   * @throws LogEntryValidationError naming every bad field; nothing is written
   * @throws AuditMetadataError when the policy refuses a value in strict mode; nothing is written
   * @throws LogWriteError when the row could not be written (`'await'` and `manager` only)
   * @throws LogBufferFullError when the buffer is full and `writer.onFullBuffer` is `'reject'`
   * @example
   * await audit.record({ firmId, userId, action: 'create_project', entityType: 'cma_project', entityId });
   */
  record(entry: AuditLogEntry, options?: RecordOptions): Promise<string> {
    return this.recorder.record(entry, options);
  }

  /** A snapshot of the counters of the audit trail, `@Audit`'s rows included. */
  stats(): Readonly<AuditStats> {
    return { ...this.recorder.counters };
  }
}
