import { AUDIT_LOG_TABLE } from '../core/logging.constants.js';
import type { LogTable } from '../writer/log-table.js';
import { AuditLogEntryDto } from './audit-log-entry.dto.js';

/** How `audit_log` rows are written by the batched writer. */
export const AUDIT_TABLE: LogTable<AuditLogEntryDto> = {
  name: AUDIT_LOG_TABLE,
  entryClass: AuditLogEntryDto,
  columns: [
    ['id', 'uuid'],
    ['firm_id', 'uuid'],
    ['user_id', 'uuid'],
    ['action', 'text'],
    ['entity_type', 'text'],
    ['entity_id', 'uuid'],
    ['metadata', 'jsonb'],
    ['ip_address', 'text'],
    ['created_at', 'timestamptz'],
  ],
  values: (e, id, createdAt) => [
    id,
    e.firmId,
    e.userId ?? null,
    e.action,
    e.entityType,
    e.entityId ?? null,
    e.metadata == null ? null : JSON.stringify(e.metadata),
    e.ipAddress ?? null,
    createdAt,
  ],
};
