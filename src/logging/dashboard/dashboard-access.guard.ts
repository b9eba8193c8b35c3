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
 * Runs the host's `authorize` hook on every dashboard request and remembers its answer; denies
 * (403) when it answers none. After a host `guard` without `authorize`, or with
 * `allowUnauthenticated`, the viewer sees every firm.
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
    const viewer = authorize
      ? viewerFrom(await authorize(request))
      : ({ scope: 'all', userId: null } as const);
    if (!viewer)
      throw new ForbiddenException('Not allowed to view the dashboard');
    viewers.set(request, viewer);
    return true;
  }
}
