import { Injectable } from '@nestjs/common';
import { LogWriter, type RecordOptions } from '../writer/log-writer.service.js';
import type { AuditLogEntry } from './audit-log-entry.js';

/** Writes the audit trail. */
@Injectable()
export class AuditLogService {
  constructor(private readonly writer: LogWriter) {}

  /**
   * Records one auditable action and resolves with the new row's id: after the commit with
   * durability `'await'` (the default), at once with `'buffered'`, inside the caller's transaction
   * with `{ manager }`.
   *
   * @throws LogEntryValidationError naming every bad field; nothing is written
   * @throws LogWriteError when the row could not be written (`'await'` and `manager` only)
   * @throws LogBufferFullError when the buffer is full and `writer.onFullBuffer` is `'reject'`
   * @example
   * await audit.record({ firmId, userId, action: 'create_project', entityType: 'cma_project', entityId });
   */
  async record(entry: AuditLogEntry, options?: RecordOptions): Promise<string> {
    return this.writer.recordAudit(entry, options);
  }
}
