import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
} from '@nestjs/common';
import {
  DASHBOARD_OPTIONS,
  type DashboardViewer,
  type LoggingDashboardOptions,
  viewerFrom,
} from './dashboard.options.js';

/** The viewer each request was let in as; a WeakMap, so nothing is written onto the request. */
const viewers = new WeakMap<object, DashboardViewer>();

/** The viewer {@link DashboardAccessGuard} let `request` in as. */
export function viewerOf(request: object): DashboardViewer {
  const viewer = viewers.get(request);
  // Every dashboard route sits behind the guard: a request without a viewer is a wiring bug.
  if (!viewer) throw new ForbiddenException('No dashboard viewer');
  return viewer;
}

/**
 * Runs the host's `authorize` hook on every dashboard data request and remembers its answer;
 * denies (403) when it answers none. With `authorize: 'all-firms'` (after the host's `guard`) or
 * `allowUnauthenticated`, the viewer sees every firm; with neither and no hook, nobody is let in
 * (`forRoot` refuses such options, so this is a second lock).
 */
@Injectable()
export class DashboardAccessGuard implements CanActivate {
  constructor(
    @Inject(DASHBOARD_OPTIONS)
    private readonly options: LoggingDashboardOptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<object>();
    const { authorize } = this.options;
    const viewer =
      typeof authorize === 'function'
        ? viewerFrom(await authorize(request))
        : authorize === 'all-firms' ||
            this.options.allowUnauthenticated === true
          ? ({ scope: 'all', userId: null } as const)
          : undefined;
    if (!viewer)
      throw new ForbiddenException('Not allowed to view the dashboard');
    viewers.set(request, viewer);
    return true;
  }
}
