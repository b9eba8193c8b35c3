import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUDIT_OPTIONS } from '../core/logging.constants.js';
import {
  LogWriterService,
  type RecordOptions,
  type TableWriter,
} from '../writer/log-writer.service.js';
import { AUDIT_TABLE } from './audit-log.table.js';
import { auditContext } from './audit-context.js';
import type { AuditLogEntry, AuditLogEntryDto } from './audit-log-entry.dto.js';
import type { AuditStats, ResolvedAuditOptions } from './audit.options.js';
import { markMeasuredJson } from '../core/validation-rules.js';
import { anonymizeIp } from './ip-address.js';
import { AuditMetadataError, sanitizeMetadata } from './metadata-policy.js';

/**
 * The audit trail's write path, shared by {@link AuditLogService} (entries from the host) and
 * `AuditRunner` (audited handlers): fills entries from the request context, passes metadata
 * through the policy, writes the row and keeps the counters. Not part of the package's API.
 */
@Injectable()
export class AuditRecorder {
  private readonly logger = new Logger('LoggingModule');
  private readonly table: TableWriter<AuditLogEntryDto>;
  /** Counted here and by `AuditRunner`; the host reads a copy with `AuditLogService.stats()`. */
  readonly counters: AuditStats = {
    actionsRecorded: 0,
    failuresRecorded: 0,
    writeFailures: 0,
    skippedNoFirm: 0,
    metadataDropped: 0,
    entityIdsDropped: 0,
  };

  constructor(
    writer: LogWriterService,
    /** The audit options in force, defaults merged. */
    @Inject(AUDIT_OPTIONS) readonly options: ResolvedAuditOptions,
  ) {
    this.table = writer.register(AUDIT_TABLE);
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
    return this.table.record(this.fill(entry), options);
  }

  /**
   * The path of audited handlers (`AuditRunner`). Every field of `entry` is already checked: firm, user and
   * entity ids are UUIDs or null, the IP is an address or null, action and entity type were checked
   * by `@Audit`. The picked metadata passes the policy here; `system` holds the keys the module
   * sets itself (`outcome`, `requestId`, ...), bounded in size, which take precedence over the
   * picked metadata and are not subject to the policy.
   */
  recordAction(
    entry: AuditLogEntryDto,
    system: Record<string, unknown>,
    options?: RecordOptions,
  ): Promise<string> {
    const picked = entry.metadata;
    const metadata =
      picked !== null && typeof picked === 'object' && !Array.isArray(picked)
        ? this.sanitize(picked, entry)
        : {};
    entry.metadata = Object.assign(metadata, system);
    return this.table.write(entry, options);
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
      if (metadata === null || metadata === undefined) {
        metadata = markMeasuredJson({});
      }
      if (typeof metadata === 'object' && !Array.isArray(metadata)) {
        (metadata as Record<string, unknown>).requestId = context.requestId;
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
      );
      if (dropped.length > 0) this.dropped(dropped.length, entry, dropped);
      return markMeasuredJson(clean);
    } catch (error) {
      if (error instanceof AuditMetadataError) {
        this.dropped(error.dropped.length, entry, error.dropped);
      }
      throw error;
    }
  }

  private dropped(
    count: number,
    entry: AuditLogEntry,
    drops: readonly { path: string; rule: string }[],
  ): void {
    this.counters.metadataDropped += count;
    this.logger.warn(
      `audit_log: metadata of action '${String(entry.action)}' ${
        this.options.metadataPolicy.strict ? 'refused' : 'trimmed'
      } by the policy: ${drops.map((d) => `${d.path || '(root)'} (${d.rule})`).join(', ')}`,
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
  record(entry: AuditLogEntry, options?: RecordOptions): Promise<string> {
    return this.recorder.record(entry, options);
  }

  /** A snapshot of the counters of the audit trail, `@Audit`'s rows included. */
  stats(): Readonly<AuditStats> {
    return { ...this.recorder.counters };
  }
}
