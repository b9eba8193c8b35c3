import type { Type } from '@nestjs/common';
import type { AuditOptions } from './audit/audit.options.js';
import type { CreditOperation } from './core/logging.constants.js';
import type { PricingOptions } from './llm-usage/model-pricing.service.js';
import type { LoggingTelemetryOptions } from './core/telemetry.options.js';
import type { UsageRollupOptions } from './rollups/usage-rollup.types.js';
import type { SealOptions } from './seals/seal.options.js';
import type { PartitionOptions } from './partitions/partition.options.js';
import type { DatabaseRoleOptions } from './retention/connection-role.check.js';
import type { LogWriterOptions } from './writer/writer.options.js';

/**
 * Options of {@link LoggingModule}, given to `LoggingModule.forRoot(options)` or produced by the
 * factory of `LoggingModule.forRootAsync(...)`. Every field is optional; each documents its default.
 */
export interface LoggingModuleOptions {
  /** The batched writer both logs share: batch size, delay, buffer, durability, retries. */
  writer?: LogWriterOptions;
  /** The audit trail: `@Audit`'s policies, how a request's firm and user are found, the metadata policy. */
  audit?: AuditOptions;
  /** The price table of LLM models: prices and aliases over the built-in ones. */
  pricing?: PricingOptions;
  /**
   * Spans and metrics through the host's OpenTelemetry (`@opentelemetry/api`, optional): on by
   * default when the API is installed. See docs/telemetry.md.
   */
  telemetry?: LoggingTelemetryOptions;
  /** The credit ledger. */
  ledger?: LedgerOptions;
  /** The daily rollups: how often their deltas are compacted. */
  rollups?: UsageRollupOptions;
  /** Hash-chained seals over the logs: background interval, settle and late windows, `onSeal`. */
  seals?: SealOptions;
  /** How the module treats the database role it connects as. */
  database?: DatabaseRoleOptions;
  /**
   * The partitioned layout, for logs converted with `partitionLogs()`: months made ahead, how
   * often, and the lock wait of a month's retirement. See docs/partitions.md.
   */
  partitions?: PartitionOptions;
  /**
   * The secret key of the digests the module stores instead of values it must not store as given
   * (docs/metadata-policy.md, "Keyed digests"): the request id of audit rows, and the ledger's
   * digest of metadata the policy dropped. A string or Buffer of at least 32 bytes, kept out of the
   * database (for example `openssl rand -base64 32`, from the host's secret store). Default: a key
   * drawn once per process, so that a request's rows can be found by its id only in the process
   * that wrote them, and digests of two processes or two runs never match.
   */
  digestKey?: string | Buffer;
}

/** Options of the credit ledger, `LoggingModule.forRoot({ ledger: {...} })`. */
export interface LedgerOptions {
  /**
   * The metadata each operation may store: operation → a declaration class, as for
   * `audit.actions`. An operation without one stores no metadata in the declared mode (the
   * heuristic rules in `audit.metadataPolicy.mode: 'heuristic'`). Default: `{}`.
   * @example
   * metadata: { deduct: DocumentDeductMetadata }
   */
  metadata?: Readonly<Partial<Record<CreditOperation, Type>>>;
}

/**
 * Options of `forRoot`/`forRootAsync` that shape the module itself. They sit beside the options (or
 * beside `useFactory`) and never reach the injected options.
 */
export interface LoggingModuleExtras {
  /**
   * Register the module globally, so its exports are injectable everywhere without importing it
   * again. Default: `true`.
   */
  isGlobal?: boolean;
  /**
   * Name of the host's TypeORM DataSource the logs live in, as given to
   * `TypeOrmModule.forRoot(options, name)`. Default: the host's default DataSource.
   */
  dataSource?: string;
}
