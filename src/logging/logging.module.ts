import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { AuditLogService, AuditRecorder } from './audit/audit-log.service.js';
import { AuditTrailService } from './audit/audit-trail.service.js';
import { AuditInterceptor } from './audit/audit.interceptor.js';
import {
  LOGGING_DATA_SOURCE,
  MONTH_ARCHIVE_CHECK,
} from './core/logging.constants.js';
import { LOGGING_ENTITIES } from './entities/index.js';
import { CreditLedgerService } from './ledger/credit-ledger.service.js';
import { LlmUsageReportService } from './llm-usage/llm-usage-report.service.js';
import { LlmUsageService } from './llm-usage/llm-usage.service.js';
import {
  ModelPricingService,
  resolvePricing,
} from './llm-usage/model-pricing.service.js';
import { UsageRollupService } from './rollups/usage-rollup.service.js';
import { AuditArchiveService } from './seals/audit-archive.service.js';
import { AuditSealService } from './seals/audit-seal.service.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
} from './logging.module-definition.js';
import {
  LOGGING_INSTANCE,
  LOGGING_INSTANCE_PROVIDERS,
  type LoggingInstance,
  loggingInstance,
} from './logging.instance.js';
import {
  checkFeatureOptions,
  FEATURE_OPTION_PROVIDERS,
} from './logging.providers.js';
import { ConnectionRoleCheck } from './retention/connection-role.check.js';
import { LogRetentionService } from './retention/log-retention.service.js';
import { LogPartitionService } from './partitions/log-partition.service.js';
import { LogWriterService } from './writer/log-writer.service.js';

const SERVICES = [
  LogWriterService,
  ModelPricingService,
  AuditLogService,
  LlmUsageService,
  LlmUsageReportService,
  AuditInterceptor,
  AuditTrailService,
  LogRetentionService,
  CreditLedgerService,
  UsageRollupService,
  AuditSealService,
  LogPartitionService,
  AuditArchiveService,
];

/**
 * The LLM usage log and the audit trail for a NestJS app on TypeORM and PostgreSQL.
 *
 * The host owns the connection: it calls `TypeOrmModule.forRoot(...)` itself, lists
 * `LOGGING_ENTITIES` and `loggingMigrations({ after })` in its DataSource, and imports this module
 * once: a second `forRoot` or `forRootAsync` in one application is refused at startup, naming
 * both calls.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     TypeOrmModule.forRoot({ ...dataSourceOptions }),
 *     LoggingModule.forRoot({}),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({
  // AuditLogService reads the @Audit declarations of the application at startup.
  imports: [DiscoveryModule],
  providers: [
    ...FEATURE_OPTION_PROVIDERS,
    ...SERVICES,
    AuditRecorder,
    ConnectionRoleCheck,
    // retiring a month with its archive asks the archives (the partitions never import the seals)
    { provide: MONTH_ARCHIVE_CHECK, useExisting: AuditArchiveService },
  ],
  // AuditRecorder too: the AuditInterceptor that @Audit binds is built in the host's module.
  exports: [...SERVICES, AuditRecorder],
})
export class LoggingModule extends ConfigurableModuleClass {
  /**
   * Registers the module with options known up front. Once per application: a second call imported
   * into the same application fails its startup, naming both calls.
   */
  static forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    const instance = loggingInstance('forRoot');
    // Options known up front fail here, before the host connects; the providers check them again.
    resolvePricing(options.pricing);
    checkFeatureOptions(options);
    return withRepositories(
      super.forRoot(options),
      options.dataSource,
      instance,
    );
  }

  /**
   * Registers the module with options from a factory, class or existing provider. Once per
   * application, as `forRoot`.
   */
  static forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return withRepositories(
      super.forRootAsync(options),
      options.dataSource,
      loggingInstance('forRootAsync'),
    );
  }
}

function withRepositories(
  definition: DynamicModule,
  dataSource: string | undefined,
  instance: LoggingInstance,
): DynamicModule {
  const repositories = TypeOrmModule.forFeature(LOGGING_ENTITIES, dataSource);
  return {
    ...definition,
    imports: [...(definition.imports ?? []), repositories],
    providers: [
      ...(definition.providers ?? []),
      {
        provide: LOGGING_DATA_SOURCE,
        useExisting: getDataSourceToken(dataSource),
      },
      { provide: LOGGING_INSTANCE, useValue: instance },
      ...LOGGING_INSTANCE_PROVIDERS,
    ],
    exports: [...(definition.exports ?? []), repositories],
  };
}
