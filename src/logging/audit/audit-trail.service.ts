import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  Min,
} from 'class-validator';
import type { DataSource } from 'typeorm';
import { LogDigests } from '../core/log-digests.js';
import {
  AUDIT_LOG_TABLE,
  LOG_DIGESTS,
  LOGGING_DATA_SOURCE,
} from '../core/logging.constants.js';
import {
  type EntryViolation,
  LogQueryError,
  queryViolations,
} from '../core/entry-validation.js';
import {
  CURSOR_TIME_SQL,
  type CursorPosition,
  decodeCursor,
  inKeysetOrder,
  keysetOrder,
  keysetPage,
} from '../core/keyset-cursor.js';
import { IsInstant, IsLaterThan, toInstant } from '../core/validation-rules.js';
import { layoutOf, queryOf } from '../core/log-partitions.js';

/** Most entries one `trail()` page holds. */
export const AUDIT_TRAIL_MAX_LIMIT = 1000;
/** Entries per `trail()` page when `limit` is left out. */
export const AUDIT_TRAIL_DEFAULT_LIMIT = 100;

/** `AuditTrailService.trail`: one firm's audit trail, newest first, narrowed by any of the filters. */
export interface AuditTrailQuery {
  /** Required: a trail is one firm's. */
  firmId: string;
  /** Entries created at or after: a `Date`, an ISO date (midnight UTC) or a zoned date-time. */
  from?: Date | string;
  /** Entries created before. */
  to?: Date | string;
  action?: string;
  entityType?: string;
  entityId?: string;
  userId?: string;
  /**
   * The request id as the client sent it (the request id header) or the module generated it: the
   * rows whose `metadata.requestId` is its keyed digest. Under the process's own key (no
   * `digestKey` configured), only rows written by this process since it started match.
   */
  requestId?: string;
  /** 1 to 1,000. Default: 100. */
  limit?: number;
  /** The `next` cursor of the previous page; left out for the first (newest) page. */
  after?: string;
}

/** One audit row, as stored. */
export interface AuditTrailEntry {
  id: string;
  firmId: string;
  userId: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  metadata: Record<string, unknown> | null;
  ipAddress: string | null;
  /** Null only on a row the table's owner wrote without one (docs/auditing.md, "Reading the audit trail"). */
  createdAt: Date | null;
}

/** One page of `AuditTrailService.trail()`: its entries and the cursor of the next page. */
export interface AuditTrailPage {
  items: AuditTrailEntry[];
  /** The cursor of the next (older) page; null on the last page. */
  next: string | null;
}

/**
 * A trail query broke one or more rules. Nothing was queried. `violations` names every bad field
 * with the rule it broke; values are never echoed.
 */
export class AuditTrailQueryError extends LogQueryError {
  override readonly name = 'AuditTrailQueryError';

  constructor(violations: readonly EntryViolation[]) {
    super('audit trail', violations);
  }
}

const IDENTIFIER = /^[a-z][a-z0-9_]{0,63}$/;
const LIMIT_RULE = `limit must be an integer from 1 to ${AUDIT_TRAIL_MAX_LIMIT}`;
const AFTER_RULE = 'after must be a cursor returned by trail() as next';

/** @internal The validation rules of {@link AuditTrailQuery}. */
export class AuditTrailQueryDto implements AuditTrailQuery {
  @IsUUID('all', { message: 'firmId must be a UUID' })
  firmId: string;

  @IsOptional()
  @IsInstant()
  from?: Date | string;

  @IsOptional()
  @IsInstant()
  @IsLaterThan('from')
  to?: Date | string;

  @IsOptional()
  @Matches(IDENTIFIER, { message: 'action must be a lowercase identifier' })
  action?: string;

  @IsOptional()
  @Matches(IDENTIFIER, { message: 'entityType must be a lowercase identifier' })
  entityType?: string;

  @IsOptional()
  @IsUUID('all', { message: 'entityId must be a UUID' })
  entityId?: string;

  @IsOptional()
  @IsUUID('all', { message: 'userId must be a UUID' })
  userId?: string;

  @IsOptional()
  @Matches(/^[\x21-\x7e]{1,200}$/, {
    message: 'requestId must be 1 to 200 visible ASCII characters',
  })
  requestId?: string;

  @IsOptional()
  @IsInt({ message: LIMIT_RULE })
  @Min(1, { message: LIMIT_RULE })
  @Max(AUDIT_TRAIL_MAX_LIMIT, { message: LIMIT_RULE })
  limit?: number;

  @IsOptional()
  @IsString({ message: AFTER_RULE })
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: AFTER_RULE })
  after?: string;
}

interface Row {
  id: string;
  firm_id: string;
  user_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  metadata: Record<string, unknown> | null;
  ip_address: string | null;
  created_at: Date | null;
  cursor_at: string | null;
}

const COLUMNS = `id, firm_id, user_id, action, entity_type, entity_id, metadata, ip_address,
              created_at, ${CURSOR_TIME_SQL} AS cursor_at`;

/** Reads the audit trail: always one firm's, never another's. */
@Injectable()
export class AuditTrailService {
  /** Whether audit_log is partitioned by month: its pages are then read by logging_audit_page(). */
  private readonly partitioned: () => Promise<boolean>;

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
    @Optional()
    @Inject(LOG_DIGESTS)
    private readonly digests: LogDigests = new LogDigests(),
  ) {
    this.partitioned = layoutOf(queryOf(dataSource), AUDIT_LOG_TABLE);
  }

  /**
   * What audit rows store as `metadata.requestId` for request id `requestId`: its keyed digest
   * under the module's `digestKey` (docs/metadata-policy.md, "Keyed digests"), for a host's own
   * queries; `trail({ requestId })` uses it.
   *
   * @example
   * await dataSource.query(`SELECT * FROM audit_log WHERE metadata->>'requestId' = $1`, [
   *   trail.requestIdDigest(requestId),
   * ]);
   */
  requestIdDigest(requestId: string): string {
    return this.digests.requestId(requestId);
  }

  /**
   * One firm's audit trail, newest first, `limit` entries a page, with keyset pagination on
   * `(created_at, id)`: pass `next` as `after` for the following page.
   *
   * @throws AuditTrailQueryError naming every bad field; nothing is queried
   * @example
   * const { items, next } = await trail.trail({ firmId, action: 'download_cma', from: '2026-11-01' });
   */
  async trail(query: AuditTrailQuery): Promise<AuditTrailPage> {
    const { instance, violations } = queryViolations(AuditTrailQueryDto, query);
    const cursor =
      instance.after === undefined ? undefined : decodeCursor(instance.after);
    if (instance.after !== undefined && cursor === undefined) {
      violations.push({
        field: 'after',
        rule: 'isCursor',
        message: AFTER_RULE,
      });
    }
    if (violations.length) throw new AuditTrailQueryError(violations);

    const limit = instance.limit ?? AUDIT_TRAIL_DEFAULT_LIMIT;
    const rows = (await this.partitioned())
      ? await this.monthsPage(instance, cursor, limit)
      : await this.page(instance, cursor, limit);
    return keysetPage(rows, limit, (row) => ({
      id: row.id,
      firmId: row.firm_id,
      userId: row.user_id,
      action: row.action,
      entityType: row.entity_type,
      entityId: row.entity_id,
      metadata: row.metadata,
      ipAddress: row.ip_address,
      createdAt: row.created_at,
    }));
  }

  /** The page from the one table of the unpartitioned layout. */
  private page(
    instance: AuditTrailQueryDto,
    cursor: CursorPosition | undefined,
    limit: number,
  ): Promise<Row[]> {
    const parameters: unknown[] = [instance.firmId, limit + 1];
    const where = ['firm_id = $1'];
    const add = (sql: string, value: unknown) => {
      parameters.push(value);
      where.push(sql.replace('?', `$${parameters.length}`));
    };
    if (instance.from !== undefined) {
      add('created_at >= ?', toInstant(instance.from)!.toISOString());
    }
    if (instance.to !== undefined) {
      add('created_at < ?', toInstant(instance.to)!.toISOString());
    }
    if (instance.action !== undefined) add('action = ?', instance.action);
    if (instance.entityType !== undefined) {
      add('entity_type = ?', instance.entityType);
    }
    if (instance.entityId !== undefined)
      add('entity_id = ?', instance.entityId);
    if (instance.userId !== undefined) add('user_id = ?', instance.userId);
    if (instance.requestId !== undefined) {
      add(
        `metadata->>'requestId' = ?`,
        this.digests.requestId(instance.requestId),
      );
    }
    if (cursor?.t === null) {
      // after a row with no date: the others with none and a smaller id, then every dated row
      parameters.push(cursor.id);
      where.push(
        `(created_at IS NOT NULL OR id < $${parameters.length}::uuid)`,
      );
    } else if (cursor) {
      parameters.push(cursor.t, cursor.id);
      where.push(
        `(created_at, id) < ($${parameters.length - 1}::timestamptz, $${parameters.length}::uuid)`,
      );
    }
    return this.dataSource.query<Row[]>(
      `SELECT ${COLUMNS}
         FROM audit_log
        WHERE ${where.join(' AND ')}
        ORDER BY created_at DESC, id DESC
        LIMIT $2`,
      parameters,
    );
  }

  /**
   * The page from the partitioned layout: logging_audit_page() reads back from the page's end a
   * month at a time, then wider, only the partitions whose ids can hold those dates
   * (docs/partitions.md, "Reading a few months"). It returns its rows in the trail's order, window
   * after window; they are taken as they come, and sorted here only if they ever do not come in
   * order (a sort of the function's rows in the statement costs more than the page's reads).
   */
  private async monthsPage(
    instance: AuditTrailQueryDto,
    cursor: CursorPosition | undefined,
    limit: number,
  ): Promise<Row[]> {
    const instant = (value: Date | string | undefined) =>
      value === undefined ? null : toInstant(value)!.toISOString();
    const rows = await this.dataSource.query<Row[]>(
      `SELECT *
         FROM logging_audit_page($1::uuid, $2::timestamptz, $3::timestamptz, $4::timestamptz,
                                 $5::uuid, $6::text, $7::text, $8::uuid, $9::uuid, $10::text, $11::int)`,
      [
        instance.firmId,
        instant(instance.from),
        instant(instance.to),
        cursor?.t ?? null,
        cursor?.id ?? null,
        instance.action ?? null,
        instance.entityType ?? null,
        instance.entityId ?? null,
        instance.userId ?? null,
        instance.requestId === undefined
          ? null
          : this.digests.requestId(instance.requestId),
        limit + 1,
      ],
    );
    return inKeysetOrder(rows) ? rows : rows.sort(keysetOrder);
  }
}
