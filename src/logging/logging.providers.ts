import type { Provider } from '@nestjs/common';
import { resolveAuditOptions } from './audit/audit.options.js';
import { resolveMetadataPolicy } from './core/metadata-policy.js';
import {
  AUDIT_OPTIONS,
  LEDGER_OPTIONS,
  PRICING_OPTIONS,
  TELEMETRY_OPTIONS,
  ROLLUP_OPTIONS,
  SEAL_OPTIONS,
  WRITER_OPTIONS,
} from './core/logging.constants.js';
import {
  type LoggingTelemetryOptions,
  resolveTelemetryOptions,
} from './core/telemetry.options.js';
import type { ResolvedLedgerOptions } from './ledger/credit-ledger.types.js';
import { LOGGING_MODULE_OPTIONS } from './logging.module-definition.js';
import type { LoggingModuleOptions } from './logging.options.js';
import { resolveSealOptions } from './seals/seal.options.js';
import { resolveWriterOptions } from './writer/writer.options.js';

const slice = <T>(
  provide: symbol,
  resolve: (options: LoggingModuleOptions) => T,
): Provider => ({
  provide,
  useFactory: resolve,
  inject: [LOGGING_MODULE_OPTIONS],
});

/**
 * One provider per feature, each its slice of the root options with the defaults merged and
 * checked: a feature's services inject their own slice, never the root options.
 */
export const FEATURE_OPTION_PROVIDERS: Provider[] = [
  slice(WRITER_OPTIONS, (options) => resolveWriterOptions(options.writer)),
  slice(AUDIT_OPTIONS, (options) => resolveAuditOptions(options.audit)),
  slice(PRICING_OPTIONS, (options) => options.pricing ?? {}),
  // The shape is checked here; whether the API is installed, when the services start (otelFor).
  slice(TELEMETRY_OPTIONS, (options): LoggingTelemetryOptions => {
    resolveTelemetryOptions(options.telemetry, true);
    return options.telemetry ?? {};
  }),
  slice(ROLLUP_OPTIONS, (options) => options.rollups ?? {}),
  slice(LEDGER_OPTIONS, resolveLedgerOptions),
  slice(SEAL_OPTIONS, (options) => resolveSealOptions(options.seals)),
];

/** The ledger's slice: the audit trail's metadata policy and the ledger's own declarations. */
export function resolveLedgerOptions(
  options: LoggingModuleOptions,
): ResolvedLedgerOptions {
  return {
    metadataPolicy: resolveMetadataPolicy(options.audit?.metadataPolicy),
    metadata: options.ledger?.metadata ?? {},
  };
}
