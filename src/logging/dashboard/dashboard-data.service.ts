import {
  BadRequestException,
  ForbiddenException,
  Inject,
  Injectable,
} from '@nestjs/common';
import { isUUID } from 'class-validator';
import type { DataSource } from 'typeorm';
import { LogQueryError } from '../core/entry-validation.js';
import { LLM_USAGE_LOG_TABLE } from '../core/logging.constants.js';
import { toInstant } from '../core/validation-rules.js';
import { AuditLogService } from '../audit/audit-log.service.js';
import {
  AuditTrailService,
  type AuditTrailPage,
  type AuditTrailQuery,
} from '../audit/audit-trail.service.js';
import {
  type ExpensiveCall,
  LlmUsageReportService,
  type UsageSummaryRow,
} from '../llm-usage/llm-usage-report.service.js';
import { csvLine } from './dashboard-csv.js';
import {
  DashboardNamesService,
  type ShownNames,
} from './dashboard-names.service.js';
import {
  DASHBOARD_DATA_SOURCE,
  DASHBOARD_OPTIONS,
  type DashboardFirm,
  type DashboardViewer,
  type LoggingDashboardOptions,
} from './dashboard.options.js';

/** The action of the audit row written when a firm viewer asks for another firm. */
export const DASHBOARD_DENIED_ACTION = 'dashboard_access_denied';

/** Most rows the top-cost and failure lists return. */
export const DASHBOARD_LIST_MAX = 100;

/** A firm and a range, as the page asks for them. */
export interface DashboardRange {
  firmId: string;
  from: string;
  to: string;
}

/** A trail page with the names of its users, as `describe` gave them. */
export interface NamedTrailPage extends AuditTrailPage {
  names: Pick<ShownNames, 'users'>;
}

/** One failed LLM call, its message as stored (scrubbed when it was recorded). */
export interface FailedCall {
  id: string;
  createdAt: Date;
  model: string;
  taskType: string;
  errorMessage: string | null;
}

const TRAIL_CSV_COLUMNS = [
  'created_at',
  'id',
  'firm_id',
  'user_id',
  'action',
  'entity_type',
  'entity_id',
  'ip_address',
  'metadata',
];
const USAGE_CSV_COLUMNS = [
  'day',
  'model',
  'calls',
  'failures',
  'input_tokens',
  'output_tokens',
  'cost_usd',
];

/** A refused report query becomes a 400 naming the bad fields; anything else passes through. */
async function asBadRequest<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LogQueryError) {
      throw new BadRequestException({
        statusCode: 400,
        message: error.message,
        violations: error.violations,
      });
    }
    throw error;
  }
}

/**
 * What the dashboard shows, read through the module's public services (`LlmUsageReportService`,
 * `AuditTrailService`), always for the one firm the viewer may see.
 */
@Injectable()
export class DashboardDataService {
  constructor(
    private readonly reports: LlmUsageReportService,
    private readonly trail: AuditTrailService,
    private readonly audit: AuditLogService,
    private readonly names: DashboardNamesService,
    @Inject(DASHBOARD_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(DASHBOARD_OPTIONS)
    private readonly options: LoggingDashboardOptions,
  ) {}

  /**
   * The firm `viewer` may read for a request naming `requested`: its own firm for a firm viewer
   * (who may leave it out); a firm viewer naming another firm is refused with 403, and the attempt
   * is written to the audit trail of the viewer's own firm first.
   */
  async firmFor(
    viewer: DashboardViewer,
    requested: string | undefined,
  ): Promise<string> {
    if (viewer.scope === 'all') {
      if (!requested) {
        throw new BadRequestException('firmId is required: pick a firm');
      }
      return requested;
    }
    if (requested === undefined || requested.toLowerCase() === viewer.firmId) {
      return viewer.firmId;
    }
    await this.audit.record({
      firmId: viewer.firmId,
      userId: viewer.userId ?? null,
      action: DASHBOARD_DENIED_ACTION,
      entityType: 'firm',
      entityId: isUUID(requested, 'all') ? requested : null,
      metadata: null,
    });
    throw new ForbiddenException('This viewer may not see that firm');
  }

  /**
   * The firms the viewer may pick (a firm viewer: their own), each with its name: the one
   * `listFirms` gave, else the one `describe` gives, else none (the page shows the short id).
   */
  async firms(
    viewer: DashboardViewer,
    request: unknown,
  ): Promise<DashboardFirm[]> {
    const listed: DashboardFirm[] =
      viewer.scope === 'firm'
        ? [{ id: viewer.firmId, name: null }]
        : this.options.listFirms
          ? await this.options.listFirms(this.dataSource)
          : await this.dataSource.query<DashboardFirm[]>(
              'SELECT id::text AS id FROM firms ORDER BY id LIMIT 1000',
            );
    const unnamed = listed.filter((firm) => !firm.name).map((firm) => firm.id);
    const { firms } = await this.names.names(
      { firmIds: unnamed, userIds: [] },
      viewer,
      request,
    );
    return listed.map((firm) => ({
      id: firm.id,
      name: firm.name || firms[firm.id] || null,
    }));
  }

  /** Totals over the range and the per-day, per-model rows the chart stacks. */
  usage(
    range: DashboardRange,
  ): Promise<{ totals: UsageSummaryRow; daily: UsageSummaryRow[] }> {
    return asBadRequest(async () => {
      const [[totals], daily] = await Promise.all([
        this.reports.summary(range),
        this.reports.summary({ ...range, groupBy: ['day', 'model'] }),
      ]);
      return { totals, daily };
    });
  }

  /** The most expensive calls of the range. */
  expensive(range: DashboardRange, limit: number): Promise<ExpensiveCall[]> {
    return asBadRequest(() => this.reports.mostExpensive({ ...range, limit }));
  }

  /** The newest failed calls of the range, with their stored (scrubbed) error messages. */
  async failures(range: DashboardRange, limit: number): Promise<FailedCall[]> {
    const from = toInstant(range.from);
    const to = toInstant(range.to);
    if (!isUUID(range.firmId, 'all') || !from || !to || to <= from) {
      throw new BadRequestException(
        'firmId must be a UUID, and from and to ISO dates with to later than from',
      );
    }
    return this.dataSource.query<FailedCall[]>(
      `SELECT id, created_at AS "createdAt", model, task_type AS "taskType",
              error_message AS "errorMessage"
         FROM ${LLM_USAGE_LOG_TABLE}
        WHERE firm_id = $1 AND created_at >= $2 AND created_at < $3 AND success = false
        ORDER BY created_at DESC, id DESC
        LIMIT $4`,
      [range.firmId, from.toISOString(), to.toISOString(), limit],
    );
  }

  /** One page of the firm's audit trail. */
  trailPage(query: AuditTrailQuery): Promise<AuditTrailPage> {
    return asBadRequest(() => this.trail.trail(query));
  }

  /** One page of the firm's audit trail, with the names `describe` gives its users. */
  async namedTrailPage(
    query: AuditTrailQuery,
    viewer: DashboardViewer,
    request: unknown,
  ): Promise<NamedTrailPage> {
    const page = await this.trailPage(query);
    const { users } = await this.names.names(
      { firmIds: [], userIds: page.items.map((entry) => entry.userId ?? '') },
      viewer,
      request,
    );
    return { ...page, names: { users } };
  }

  /**
   * The trail as CSV, every page of the query, newest first. The first page is read before the
   * response starts, so a bad query is a 400, not a broken download.
   */
  async trailCsv(
    query: Omit<AuditTrailQuery, 'after' | 'limit'>,
  ): Promise<AsyncIterable<string>> {
    const first = await this.trailPage({ ...query, limit: 1000 });
    const trail = this.trail;
    return (async function* () {
      yield csvLine(TRAIL_CSV_COLUMNS);
      for (let page: AuditTrailPage | undefined = first; page;) {
        let chunk = '';
        for (const e of page.items) {
          chunk += csvLine([
            e.createdAt,
            e.id,
            e.firmId,
            e.userId,
            e.action,
            e.entityType,
            e.entityId,
            e.ipAddress,
            e.metadata,
          ]);
        }
        yield chunk;
        page = page.next
          ? await trail.trail({ ...query, limit: 1000, after: page.next })
          : undefined;
      }
    })();
  }

  /** The cost summary as CSV: one record per day and model, then the range's total. */
  async usageCsv(range: DashboardRange): Promise<Iterable<string>> {
    const { totals, daily } = await this.usage(range);
    return (function* () {
      yield csvLine(USAGE_CSV_COLUMNS);
      for (const row of [...daily, { ...totals, day: 'total', model: '' }]) {
        yield csvLine([
          row.day,
          row.model,
          row.calls,
          row.failures,
          row.inputTokens,
          row.outputTokens,
          row.costUsd,
        ]);
      }
    })();
  }
}
