import { IsIP, IsOptional, IsUUID, Matches } from 'class-validator';
import { AUDIT_METADATA_MAX_BYTES } from '../core/logging.constants.js';
import {
  HoldsNoIdentity,
  IsBoundedJsonObject,
} from '../core/validation-rules.js';

const IDENTIFIER = /^[a-z][a-z0-9_]{0,63}$/;
const identifier = (field: string) =>
  `${field} must be a lowercase identifier: a letter, then letters, digits or underscores, 64 characters at most`;

/** One auditable action, as given to `AuditLogService.record`. */
export interface AuditLogEntry {
  /** Required, except inside an audited request or `auditContext.run`, which supply it. */
  firmId?: string;
  /** The acting user, if any. Inside an audited request, the request's user when left out. */
  userId?: string | null;
  /** e.g. `create_project`, `upload_file`, `run_extraction`, `resolve_review`, `download_cma`. */
  action: string;
  /** e.g. `cma_project`, `uploaded_file`, `review_item`, `generated_file`. */
  entityType: string;
  entityId?: string | null;
  /** References and counts only, never financial data; a JSON object of at most 8 KiB. */
  metadata?: Record<string, unknown> | null;
  /** IPv4 or IPv6. Inside an audited request, the client's address when left out. */
  ipAddress?: string | null;
}

/** The validation rules of {@link AuditLogEntry}. */
export class AuditLogEntryDto implements AuditLogEntry {
  @IsUUID('all', { message: 'firmId must be a UUID' })
  firmId: string;

  @IsOptional()
  @IsUUID('all', { message: 'userId must be a UUID or null' })
  userId?: string | null;

  @Matches(IDENTIFIER, { message: identifier('action') })
  @HoldsNoIdentity()
  action: string;

  @Matches(IDENTIFIER, { message: identifier('entityType') })
  @HoldsNoIdentity()
  entityType: string;

  @IsOptional()
  @IsUUID('all', { message: 'entityId must be a UUID or null' })
  entityId?: string | null;

  @IsOptional()
  @IsBoundedJsonObject(AUDIT_METADATA_MAX_BYTES)
  metadata?: Record<string, unknown> | null;

  @IsOptional()
  @IsIP(undefined, { message: 'ipAddress must be an IPv4 or IPv6 address' })
  ipAddress?: string | null;
}
