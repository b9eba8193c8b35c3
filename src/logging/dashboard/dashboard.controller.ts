import {
  type CanActivate,
  Controller,
  Get,
  Inject,
  Injectable,
  type NestMiddleware,
  NotFoundException,
  Param,
  Query,
  Req,
  Res,
  StreamableFile,
  type Type,
  UseGuards,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Readable } from 'node:stream';
import type { AuditTrailQuery } from '../audit/audit-trail.service.js';
import { DashboardAccessGuard, viewerOf } from './dashboard-access.guard.js';
import {
  DASHBOARD_SECURITY_HEADERS,
  type DashboardAsset,
} from './dashboard-assets.js';
import {
  DASHBOARD_LIST_MAX,
  DashboardDataService,
  type DashboardRange,
} from './dashboard-data.service.js';

/** The DI token of the files the dashboard serves. */
export const DASHBOARD_ASSETS = Symbol('LOGGING_DASHBOARD_ASSETS');

type Params = Record<string, string | string[] | undefined>;

const one = (value: string | string[] | undefined): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** A positive integer query value as a number; anything else as given, for the rules to refuse. */
function limitOf(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
}

/**
 * Sets the security headers (and `Cache-Control: no-store`) on every response of the dashboard's
 * routes. A middleware, so it runs before any guard, the host's global ones included: a 401 or 403,
 * a 400, a 404 and an error carry them as well as a 200. Express and Fastify both hand middleware
 * a response with `setHeader` (Fastify the raw Node response, whose headers it keeps).
 */
@Injectable()
export class DashboardHeadersMiddleware implements NestMiddleware {
  use(_request: unknown, response: unknown, next: () => void): void {
    const target = response as { setHeader(name: string, value: string): void };
    for (const [name, value] of Object.entries(DASHBOARD_SECURITY_HEADERS)) {
      target.setHeader(name, value);
    }
    target.setHeader('Cache-Control', 'no-store');
    next();
  }
}

/**
 * The page and its files (script, styles, chart library): no firm's data. Mounted at the host's
 * path by {@link mountDashboardControllers}, behind the host's hook unless `clientAuth` is given.
 */
export class DashboardShellController {
  // Every parameter names its token: the mounted subclass inherits them.
  constructor(
    @Inject(DASHBOARD_ASSETS)
    private readonly assets: Map<string, DashboardAsset>,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** The page. Without a trailing slash, redirected to one, so its relative URLs resolve. */
  @Get()
  page(@Req() request: unknown, @Res() response: unknown): void {
    const adapter = this.adapterHost.httpAdapter;
    const url = String(adapter.getRequestUrl(request));
    const [path, search] = url.split(/\?(.*)/s, 2);
    if (!path.endsWith('/')) {
      adapter.redirect(response, 308, `${path}/${search ? `?${search}` : ''}`);
      return;
    }
    const page = this.assets.get('index.html')!;
    adapter.setHeader(response, 'Content-Type', page.type);
    adapter.reply(response, page.body.toString('utf8'), 200);
  }

  @Get('assets/:name')
  asset(@Param('name') name: string): StreamableFile {
    const asset = name === 'index.html' ? undefined : this.assets.get(name);
    if (!asset) throw new NotFoundException();
    return new StreamableFile(asset.body, { type: asset.type });
  }
}

/**
 * The JSON and CSV endpoints, always behind the host's hook. Mounted at the host's path by
 * {@link mountDashboardControllers}.
 */
export class DashboardController {
  // Every parameter names its token: the mounted subclass inherits them.
  constructor(
    @Inject(DashboardDataService) private readonly data: DashboardDataService,
  ) {}

  /** Who is looking, and the firms they may pick. */
  @Get('api/viewer')
  async viewer(@Req() request: object) {
    const viewer = viewerOf(request);
    return {
      scope: viewer.scope,
      firmId: viewer.scope === 'firm' ? viewer.firmId : null,
      firms: await this.data.firms(viewer, request),
    };
  }

  /** Totals of the range, exact as `LlmUsageReportService.summary` gives them, and per day and model. */
  @Get('api/usage')
  async usage(@Req() request: object, @Query() query: Params) {
    return this.data.usage(await this.range(request, query));
  }

  @Get('api/expensive')
  async expensive(@Req() request: object, @Query() query: Params) {
    const range = await this.range(request, query);
    return this.data.expensive(range, this.listLimit(query));
  }

  @Get('api/failures')
  async failures(@Req() request: object, @Query() query: Params) {
    const range = await this.range(request, query);
    return this.data.failures(range, this.listLimit(query));
  }

  /** One page of the trail; `after` is the previous page's `next`. */
  @Get('api/trail')
  async trail(@Req() request: object, @Query() query: Params) {
    const filters = await this.trailQuery(request, query);
    return this.data.namedTrailPage(
      {
        ...filters,
        limit: limitOf(one(query.limit), 50),
        after: one(query.after),
      },
      viewerOf(request),
      request,
    );
  }

  @Get('api/trail.csv')
  async trailCsv(@Req() request: object, @Query() query: Params) {
    const filters = await this.trailQuery(request, query);
    return this.csv(await this.data.trailCsv(filters), 'audit-trail');
  }

  @Get('api/usage.csv')
  async usageCsv(@Req() request: object, @Query() query: Params) {
    const range = await this.range(request, query);
    return this.csv(await this.data.usageCsv(range), 'llm-cost-summary');
  }

  private async range(request: object, query: Params): Promise<DashboardRange> {
    const firmId = await this.data.firmFor(
      viewerOf(request),
      one(query.firmId),
    );
    return { firmId, from: one(query.from) ?? '', to: one(query.to) ?? '' };
  }

  private listLimit(query: Params): number {
    return Math.min(limitOf(one(query.limit), 10), DASHBOARD_LIST_MAX);
  }

  private async trailQuery(
    request: object,
    query: Params,
  ): Promise<AuditTrailQuery> {
    const firmId = await this.data.firmFor(
      viewerOf(request),
      one(query.firmId),
    );
    return {
      firmId,
      from: one(query.from),
      to: one(query.to),
      action: one(query.action),
      userId: one(query.userId),
      entityType: one(query.entityType),
      entityId: one(query.entityId),
    };
  }

  private csv(
    lines: Iterable<string> | AsyncIterable<string>,
    name: string,
  ): StreamableFile {
    return new StreamableFile(Readable.from(lines), {
      type: 'text/csv; charset=utf-8',
      disposition: `attachment; filename="${name}.csv"`,
    });
  }
}

/**
 * The controller classes of one mount, at `path`: the shell (page and files) and the endpoints.
 * The endpoints sit behind the host's guard (if any), then {@link DashboardAccessGuard}; the shell
 * too, unless `openShell` (for `clientAuth`, whose credentials a navigation cannot carry). Classes
 * of their own per mount, so the decorators are never applied to a shared class.
 */
export function mountDashboardControllers(
  path: string,
  guard: Type<CanActivate> | undefined,
  openShell: boolean,
): [Type<DashboardShellController>, Type<DashboardController>] {
  class LoggingDashboardShellController extends DashboardShellController {}
  class LoggingDashboardController extends DashboardController {}
  const guards = guard ? [guard, DashboardAccessGuard] : [DashboardAccessGuard];
  if (!openShell) UseGuards(...guards)(LoggingDashboardShellController);
  UseGuards(...guards)(LoggingDashboardController);
  Controller(path)(LoggingDashboardShellController);
  Controller(path)(LoggingDashboardController);
  return [LoggingDashboardShellController, LoggingDashboardController];
}
