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
  /** Shown in the picker; the short id (full id on hover) when left out and `describe` names none. */
  name?: string | null;
}

/** The ids a dashboard answer is about to show, for {@link DashboardDescribe} to name. */
export interface DashboardDescribeIds {
  /** Firm ids: the viewer's firm, or the picker's firms that `listFirms` gave no name. */
  firmIds: string[];
  /** User ids of the audit trail page being served (all of the viewer's firm). */
  userIds: string[];
}

/**
 * Display names by id, as {@link DashboardDescribe} answers. An id left out, or named with
 * anything but non-blank text, shows as its short id.
 */
export interface DashboardNames {
  firms?: Readonly<Record<string, string | null | undefined>>;
  users?: Readonly<Record<string, string | null | undefined>>;
}

/** What {@link DashboardDescribe} is told besides the ids. */
export interface DashboardDescribeContext {
  /** Who is looking, as `authorize` answered. */
  viewer: DashboardViewer;
  /** The platform's request (Express or Fastify). */
  request: unknown;
  /** The host's connection the dashboard reads (its `dataSource` option), for name lookups. */
  dataSource: DataSource;
}

/**
 * The host's naming hook: given the firm and user ids a dashboard answer is about to show (only
 * ids the viewer may see: their firm's rows, the picker's firms), answer their display names. It
 * may be async. It is called once per answer that shows ids (the viewer, each trail page), with
 * at most {@link DASHBOARD_DESCRIBE_TIMEOUT_MS} to answer; cache on the host's side if lookups are
 * dear. If it throws, rejects, times out or answers something else than {@link DashboardNames},
 * the page shows ids and the failure is logged (warning, `LoggingDashboard` context). Names are
 * shown as text (markup in a name stays characters), whitespace collapsed, at most
 * {@link DASHBOARD_NAME_MAX} characters.
 */
export type DashboardDescribe = (
  ids: DashboardDescribeIds,
  context: DashboardDescribeContext,
) => DashboardNames | Promise<DashboardNames>;

/** How long {@link DashboardDescribe} may take before the page shows ids instead: 2 s. */
export const DASHBOARD_DESCRIBE_TIMEOUT_MS = 2000;

/** The longest name shown; a longer one is cut, ending with `…`. */
export const DASHBOARD_NAME_MAX = 120;

/**
 * For hosts whose credentials only the page's script can send (a bearer token an app keeps in the
 * browser, not a cookie): a browser ES module of the host, on the dashboard's origin, that the page
 * imports and asks for headers before each of its requests, data and CSV exports alike. The page
 * and its files (which hold no firm's data) are then served without `guard` or `authorize`, since a
 * browser's navigation cannot carry such a header; every data endpoint still runs both.
 */
export interface DashboardClientAuth {
  /**
   * The module's URL path on the dashboard's origin, e.g. `'/static/dashboard-auth.js'`: it must
   * start with one `/` and hold no quote, `<`, `>`, backslash or space. It exports
   * {@link DashboardClientAuthModule.requestHeaders}.
   */
  module: string;
}

/**
 * What the module named by {@link DashboardClientAuth.module} exports, in the browser.
 *
 * @example
 * // public/dashboard-auth.js, served by the host at /static/dashboard-auth.js
 * export function requestHeaders() {
 *   return { authorization: `Bearer ${sessionStorage.getItem('token')}` };
 * }
 */
export interface DashboardClientAuthModule {
  /** The headers of the page's next request; called before each one, so a token may change. */
  requestHeaders(): Record<string, string> | Promise<Record<string, string>>;
}

/**
 * `authorize: 'all-firms'`: every viewer the host's `guard` lets through sees every firm, with the
 * picker. Only with a `guard`.
 */
export type DashboardAllFirms = 'all-firms';

/** The options of `LoggingDashboardModule.forRoot`. */
export interface LoggingDashboardOptions {
  /**
   * Where the page is mounted, e.g. `'admin/logging'` (leading and trailing slashes ignored); a
   * global prefix of the host app applies on top. Required.
   */
  path: string;
  /**
   * Decides who sees what: a {@link DashboardAuthorize} hook, or `'all-firms'` (with a `guard`
   * only) to let every viewer the guard admits see every firm. One of `authorize` or
   * `allowUnauthenticated: true` is required; a `guard` alone is refused at startup, since it
   * names no firm and every request would be denied.
   */
  authorize?: DashboardAuthorize | DashboardAllFirms;
  /**
   * A Nest guard class (provided by the dashboard module; it may inject the host's global
   * providers) run before `authorize` on every route. Needs `authorize`: a function, or
   * `'all-firms'`.
   */
  guard?: Type<CanActivate>;
  /**
   * Serves the dashboard to anyone, every firm included, and logs a warning at startup. For demos
   * and local development only. Default: `false`.
   */
  allowUnauthenticated?: boolean;
  /**
   * Names the firms and users the page shows: see {@link DashboardDescribe}. Default: none; the
   * page shows short ids (the first 8 characters), the full id on hover.
   *
   * @example
   * describe: async ({ firmIds, userIds }, { dataSource }) => ({
   *   firms: Object.fromEntries(
   *     (await dataSource.getRepository(Firm).findBy({ id: In(firmIds) }))
   *       .map((f) => [f.id, f.name]),
   *   ),
   *   users: Object.fromEntries(
   *     (await dataSource.getRepository(User).findBy({ id: In(userIds) }))
   *       .map((u) => [u.id, u.fullName]),
   *   ),
   * })
   */
  describe?: DashboardDescribe;
  /**
   * How the page authenticates its own requests when a cookie cannot: see
   * {@link DashboardClientAuth}. Default: none; the page's requests carry what the browser sends
   * by itself (cookies, HTTP authentication).
   */
  clientAuth?: DashboardClientAuth;
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
/** A same-origin URL path safe to write into the page's markup. */
const CLIENT_MODULE = /^\/(?!\/)[^\s"'<>\\`]*$/;

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
  const { authorize, guard } = options;
  if (
    authorize !== undefined &&
    typeof authorize !== 'function' &&
    authorize !== 'all-firms'
  ) {
    fail('authorize', "a function (request) => viewer | null, or 'all-firms'");
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
  if (
    options.describe !== undefined &&
    typeof options.describe !== 'function'
  ) {
    fail('describe', 'a function ({ firmIds, userIds }) => { firms?, users? }');
  }
  if (options.clientAuth !== undefined) {
    const module: unknown = (options.clientAuth as { module?: unknown })
      ?.module;
    if (typeof module !== 'string' || !CLIENT_MODULE.test(module)) {
      fail(
        'clientAuth.module',
        "a URL path on the dashboard's origin, starting with one '/', without quotes, '<', '>', '\\' or spaces",
      );
    }
  }
  const open = options.allowUnauthenticated;
  if (open !== undefined && typeof open !== 'boolean') {
    fail('allowUnauthenticated', 'a boolean');
  }
  if (open === true && (authorize || guard)) {
    fail('allowUnauthenticated', 'left out when authorize or guard is given');
  }
  if (guard && !authorize) {
    // A guard admits or refuses a request; it names no firm. Without authorize no viewer would
    // have a firm and every request would be refused: refused here, at startup, instead.
    throw new DashboardConfigurationError(
      'LoggingDashboardModule option authorize must be given with guard: a guard names no firm, ' +
        'so every request would be refused. Give authorize(request) => ' +
        "{ scope: 'firm', firmId } | { scope: 'all' } | null, or authorize: 'all-firms' to let " +
        'everyone the guard admits see every firm',
    );
  }
  if (authorize === 'all-firms' && !guard) {
    fail(
      'authorize',
      "given as 'all-firms' with a guard only (the guard decides who is let in); " +
        'for a demo, allowUnauthenticated: true',
    );
  }
  if (!authorize && open !== true) {
    throw new DashboardConfigurationError(
      'LoggingDashboardModule needs an authorisation hook: give authorize(request) => ' +
        "{ scope: 'firm', firmId } | { scope: 'all' } | null (with or without a guard), or " +
        "guard and authorize: 'all-firms'; or, for a demo only, allowUnauthenticated: true",
    );
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
