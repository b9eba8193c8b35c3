import {
  type DynamicModule,
  Inject,
  Logger,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  type OnModuleInit,
  type Type,
} from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DashboardAccessGuard } from './dashboard-access.guard.js';
import { loadDashboardAssets } from './dashboard-assets.js';
import {
  DASHBOARD_ASSETS,
  DashboardHeadersMiddleware,
  mountDashboardControllers,
} from './dashboard.controller.js';
import { DashboardDataService } from './dashboard-data.service.js';
import { DashboardNamesService } from './dashboard-names.service.js';
import {
  checkDashboardOptions,
  DASHBOARD_DATA_SOURCE,
  DASHBOARD_OPTIONS,
  type LoggingDashboardOptions,
} from './dashboard.options.js';

/** The controller classes of each mount, by its checked options, for the headers middleware. */
const mounts = new WeakMap<LoggingDashboardOptions, Type[]>();

/**
 * A usage and audit dashboard, mounted at a path of the host's choice behind the host's own
 * authorisation hook: cost per day by model, totals, the most expensive and the failed LLM calls,
 * the audit trail with filters and keyset paging, and CSV exports. Its page, script, styles and
 * chart library are served by the module itself (no CDN) under a strict Content-Security-Policy.
 *
 * It reads through `LlmUsageReportService` and `AuditTrailService`, so `LoggingModule` must be imported too
 * (it is global by default; import it once, in the root module). Refuses to start without
 * `authorize` (a guard alone names no firm), unless `allowUnauthenticated: true`, which logs a
 * warning at startup.
 *
 * @example
 * ```ts
 * LoggingDashboardModule.forRoot({
 *   path: 'admin/logging',
 *   authorize: (request: { user?: { firmId: string; id: string; admin?: boolean } }) =>
 *     request.user?.admin
 *       ? { scope: 'all', userId: request.user.id }
 *       : request.user
 *         ? { scope: 'firm', firmId: request.user.firmId, userId: request.user.id }
 *         : null,
 * });
 * ```
 */
@Module({})
export class LoggingDashboardModule implements NestModule, OnModuleInit {
  private readonly logger = new Logger('LoggingDashboard');

  constructor(
    @Inject(DASHBOARD_OPTIONS)
    private readonly options: LoggingDashboardOptions,
  ) {}

  /**
   * Mounts the dashboard at `options.path`.
   *
   * @throws DashboardConfigurationError without an authorisation hook (a `guard` alone is none), or
   * with a bad option
   */
  static forRoot(options: LoggingDashboardOptions): DynamicModule {
    const checked = checkDashboardOptions(options);
    const guards = checked.guard ? [checked.guard] : [];
    const controllers = mountDashboardControllers(
      checked.path,
      checked.guard,
      checked.clientAuth !== undefined,
    );
    mounts.set(checked, controllers);
    return {
      module: LoggingDashboardModule,
      controllers,
      providers: [
        { provide: DASHBOARD_OPTIONS, useValue: checked },
        {
          provide: DASHBOARD_DATA_SOURCE,
          useExisting: getDataSourceToken(checked.dataSource),
        },
        {
          provide: DASHBOARD_ASSETS,
          useFactory: () => loadDashboardAssets(checked.clientAuth?.module),
        },
        DashboardDataService,
        DashboardNamesService,
        DashboardAccessGuard,
        ...guards,
      ],
    };
  }

  /** The security headers on every response of the mount's routes, set before any guard runs. */
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(DashboardHeadersMiddleware)
      .forRoutes(...(mounts.get(this.options) ?? []));
  }

  onModuleInit(): void {
    if (this.options.allowUnauthenticated) {
      this.logger.warn(
        `The dashboard at /${this.options.path} is served to anyone, every firm's usage and ` +
          'audit trail included (allowUnauthenticated: true). Give authorize or guard outside demos.',
      );
    }
  }
}
