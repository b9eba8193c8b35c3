import type { Provider } from '@nestjs/common';
import { resolveAuditOptions } from './audit/audit.options.js';
import { LogDigests, resolveDigestKey } from './core/log-digests.js';
import { resolveMetadataPolicy } from './core/metadata-policy.js';
import {
  AUDIT_OPTIONS,
  DATABASE_OPTIONS,
  LEDGER_OPTIONS,
  LOG_DIGESTS,
  PARTITION_OPTIONS,
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
import { resolveDatabaseRoleOptions } from './retention/connection-role.check.js';
import { resolveSealOptions } from './seals/seal.options.js';
import { resolvePartitionOptions } from './partitions/partition.options.js';
import { resolveWriterOptions } from './writer/writer.options.js';

type Slice = readonly [
  provide: symbol,
  resolve: (options: LoggingModuleOptions) => unknown,
];

/** Each feature's slice of the root options, with the defaults merged and checked. */
const FEATURE_OPTION_SLICES: readonly Slice[] = [
  [WRITER_OPTIONS, (options) => resolveWriterOptions(options.writer)],
  [AUDIT_OPTIONS, (options) => resolveAuditOptions(options.audit)],
  [PRICING_OPTIONS, (options) => options.pricing ?? {}],
  // The shape is checked here; whether the API is installed, when the services start (otelFor).
  [
    TELEMETRY_OPTIONS,
    (options): LoggingTelemetryOptions => {
      resolveTelemetryOptions(options.telemetry, true);
      return options.telemetry ?? {};
    },
  ],
  [ROLLUP_OPTIONS, (options) => options.rollups ?? {}],
  [LEDGER_OPTIONS, resolveLedgerOptions],
  [SEAL_OPTIONS, (options) => resolveSealOptions(options.seals)],
  [DATABASE_OPTIONS, (options) => resolveDatabaseRoleOptions(options.database)],
  [PARTITION_OPTIONS, (options) => resolvePartitionOptions(options.partitions)],
  [LOG_DIGESTS, logDigests],
];

/**
 * One provider per feature, each its slice of the root options: a feature's services inject their
 * own slice, never the root options.
 */
export const FEATURE_OPTION_PROVIDERS: Provider[] = FEATURE_OPTION_SLICES.map(
  ([provide, resolve]) => ({
    provide,
    useFactory: resolve,
    inject: [LOGGING_MODULE_OPTIONS],
  }),
);

/**
 * Checks every feature's slice of options known up front, throwing the first error: `forRoot`
 * calls it, so bad options fail at the call, before Nest builds anything or the host connects.
 */
export function checkFeatureOptions(options: LoggingModuleOptions): void {
  for (const [, resolve] of FEATURE_OPTION_SLICES) resolve(options);
}

/** The keyed digests under the root option `digestKey`, or under the process's own key. */
function logDigests(options: LoggingModuleOptions): LogDigests {
  return new LogDigests(resolveDigestKey(options.digestKey));
}

/**
 * The ledger's slice: the audit trail's metadata policy, the ledger's own declarations, and the
 * keyed digests.
 */
export function resolveLedgerOptions(
  options: LoggingModuleOptions,
): ResolvedLedgerOptions {
  return {
    metadataPolicy: resolveMetadataPolicy(options.audit?.metadataPolicy),
    metadata: options.ledger?.metadata ?? {},
    digests: logDigests(options),
  };
}
