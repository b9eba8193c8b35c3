/** The usage and audit dashboard, imported from `@cma/logging/dashboard`. */
export { LoggingDashboardModule } from './logging-dashboard.module.js';
export {
  type AllFirmsViewer,
  type DashboardAuthorize,
  DashboardConfigurationError,
  type DashboardFirm,
  type DashboardViewer,
  type FirmViewer,
  type LoggingDashboardOptions,
} from './dashboard.options.js';
export { DASHBOARD_DENIED_ACTION } from './dashboard-data.service.js';
