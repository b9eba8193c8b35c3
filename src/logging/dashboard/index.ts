/** The usage and audit dashboard, imported from `@cma/logging/dashboard`. */
export { LoggingDashboardModule } from './logging-dashboard.module.js';
export {
  type AllFirmsViewer,
  DASHBOARD_DESCRIBE_TIMEOUT_MS,
  DASHBOARD_NAME_MAX,
  type DashboardAllFirms,
  type DashboardAuthorize,
  type DashboardClientAuth,
  type DashboardClientAuthModule,
  DashboardConfigurationError,
  type DashboardDescribe,
  type DashboardDescribeContext,
  type DashboardDescribeIds,
  type DashboardFirm,
  type DashboardNames,
  type DashboardViewer,
  type FirmViewer,
  type LoggingDashboardOptions,
} from './dashboard.options.js';
export { DASHBOARD_DENIED_ACTION } from './dashboard-data.service.js';
