import type { CanActivate, Type } from '@nestjs/common';
import type { DataSource } from 'typeorm';

/** A viewer who sees one firm only: every endpoint answers for `firmId` and refuses any other. */
export interface FirmViewer {
  scope: 'firm';
  firmId: string;
  /** The viewer's user id, written on the audit row of a refused attempt. Default: none. */
  userId?: string | null;
}

/** A viewer who sees every firm, with a firm picker. */
export interface AllFirmsViewer {
  scope: 'all';
  userId?: string | null;
}

/** Who is looking, as the host's `authorize` hook answers. */
export type DashboardViewer = FirmViewer | AllFirmsViewer;

/**
 * The host's authorisation hook, called with the platform's request (Express or Fastify) before
 * every page, asset and endpoint of the dashboard. Answer a viewer, or `null`/`false` to deny
 * (403). It may be async; an error it throws becomes the response.
 */
export type DashboardAuthorize = (
  request: unknown,
) =>
  | DashboardViewer
  | null
  | false
  | undefined
  | Promise<DashboardViewer | null | false | undefined>;

/** A firm in the picker of an `'all'` viewer. */
export interface DashboardFirm {
  id: string;
  /** Shown in the picker; the id when left out. */
  name?: string | null;
}

/** The options of `LoggingDashboardModule.forRoot`. */
export interface LoggingDashboardOptions {
  /**
   * Where the page is mounted, e.g. `'admin/logging'` (leading and trailing slashes ignored); a
   * global prefix of the host app applies on top. Required.
   */
  path: string;
  /**
   * Decides who sees what: see {@link DashboardAuthorize}. One of `authorize`, `guard` or
   * `allowUnauthenticated: true` is required.
   */
  authorize?: DashboardAuthorize;
  /**
   * A Nest guard class (provided by the dashboard module; it may inject the host's global
   * providers) run before `authorize` on every route. With a guard and no `authorize`, a viewer
   * the guard lets through sees every firm.
   */
  guard?: Type<CanActivate>;
  /**
   * Serves the dashboard to anyone, every firm included, and logs a warning at startup. For demos
   * and local development only. Default: `false`.
   */
  allowUnauthenticated?: boolean;
  /**
   * The name of the host's TypeORM connection, as given to `LoggingModule` (its `dataSource`
   * extra). Default: the default connection.
   */
  dataSource?: string;
  /**
   * The firms an `'all'` viewer can pick, given the module's DataSource. Default: the ids of the
   * host's `firms` table, at most 1,000, in id order.
   *
   * @example
   * listFirms: (db) => db.query('SELECT id, name FROM firms ORDER BY name')
   */
  listFirms?: (dataSource: DataSource) => Promise<DashboardFirm[]>;
}

/** The options were refused at `forRoot`: the message names the field and the rule. */
export class DashboardConfigurationError extends Error {
  override readonly name = 'DashboardConfigurationError';
}

/** The DI token of the host's DataSource the dashboard reads. */
export const DASHBOARD_DATA_SOURCE = Symbol('LOGGING_DASHBOARD_DATA_SOURCE');

/** The DI token of the checked options. */
export const DASHBOARD_OPTIONS = Symbol('LOGGING_DASHBOARD_OPTIONS');

const SEGMENT = /^[A-Za-z0-9._~-]+$/;

/** The options checked, with `path` normalised to `a/b`; throws naming the field and the rule. */
export function checkDashboardOptions(
  options: LoggingDashboardOptions,
): LoggingDashboardOptions {
  const fail = (field: string, rule: string): never => {
    throw new DashboardConfigurationError(
      `LoggingDashboardModule option ${field} must be ${rule}`,
    );
  };
  if (typeof options?.path !== 'string') fail('path', 'a string');
  const path = options.path.replace(/^\/+|\/+$/g, '');
  if (path !== '' && !path.split('/').every((s) => SEGMENT.test(s))) {
    fail('path', 'URL path segments of letters, digits, ".", "_", "~" or "-"');
  }
  if (
    options.authorize !== undefined &&
    typeof options.authorize !== 'function'
  ) {
    fail('authorize', 'a function (request) => viewer | null');
  }
  if (options.guard !== undefined && typeof options.guard !== 'function') {
    fail('guard', 'a guard class (implements CanActivate)');
  }
  if (
    options.listFirms !== undefined &&
    typeof options.listFirms !== 'function'
  ) {
    fail('listFirms', 'a function (dataSource) => Promise<DashboardFirm[]>');
  }
  if (
    options.dataSource !== undefined &&
    typeof options.dataSource !== 'string'
  ) {
    fail('dataSource', 'the name of a TypeORM connection');
  }
  const open = options.allowUnauthenticated;
  if (open !== undefined && typeof open !== 'boolean') {
    fail('allowUnauthenticated', 'a boolean');
  }
  if (!options.authorize && !options.guard && open !== true) {
    throw new DashboardConfigurationError(
      'LoggingDashboardModule needs an authorisation hook: give authorize(request) => ' +
        "{ scope: 'firm', firmId } | { scope: 'all' } | null, or guard: a guard class; " +
        'or, for a demo only, allowUnauthenticated: true',
    );
  }
  if (open === true && (options.authorize || options.guard)) {
    fail('allowUnauthenticated', 'left out when authorize or guard is given');
  }
  return { ...options, path };
}

/** The viewer an `authorize` answer names, or undefined for a denial or a malformed answer. */
export function viewerFrom(answer: unknown): DashboardViewer | undefined {
  if (!answer || typeof answer !== 'object') return undefined;
  const viewer = answer as {
    scope?: unknown;
    firmId?: unknown;
    userId?: unknown;
  };
  const userId = typeof viewer.userId === 'string' ? viewer.userId : null;
  if (viewer.scope === 'all') return { scope: 'all', userId };
  if (viewer.scope === 'firm' && typeof viewer.firmId === 'string') {
    return { scope: 'firm', firmId: viewer.firmId.toLowerCase(), userId };
  }
  return undefined;
}
