import { type DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { AuditLogService } from './audit/audit-log.service.js';
import { AuditTrail } from './audit/audit-trail.service.js';
import { AuditInterceptor } from './audit/audit.interceptor.js';
import { LOGGING_ENTITIES } from './entities/index.js';
import { LlmUsageReports } from './llm-usage/llm-usage-reports.service.js';
import { CreditLedgerService } from './ledger/credit-ledger.service.js';
import { LlmUsageService } from './llm-usage/llm-usage.service.js';
import { LogRetention } from './retention/log-retention.service.js';
import { UsageRollupService } from './rollups/usage-rollup.service.js';
import { AuditSealService } from './seals/audit-seal.service.js';
import { ModelPricing, resolvePricing } from './llm-usage/model-pricing.js';
import { LOGGING_DATA_SOURCE } from './logging.constants.js';
import type { LoggingModuleOptions } from './logging.options.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  LOGGING_MODULE_OPTIONS,
  OPTIONS_TYPE,
} from './logging.module-definition.js';
import { LogWriter } from './writer/log-writer.service.js';

const SERVICES = [
  LogWriter,
  ModelPricing,
  AuditLogService,
  LlmUsageService,
  LlmUsageReports,
  AuditInterceptor,
  AuditTrail,
  LogRetention,
  CreditLedgerService,
  UsageRollupService,
  AuditSealService,
];

/**
 * The LLM usage log and the audit trail for a NestJS app on TypeORM and PostgreSQL.
 *
 * The host owns the connection: it calls `TypeOrmModule.forRoot(...)` itself, lists
 * `LOGGING_ENTITIES` and `LOGGING_MIGRATIONS` in its DataSource, and imports this module once.
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
    ...SERVICES,
    {
      // `audit.global: true`: AuditInterceptor on every route; otherwise nothing (Nest skips a
      // global enhancer whose factory returns null), and @Audit binds it where it is used.
      provide: APP_INTERCEPTOR,
      useFactory: (
        options: LoggingModuleOptions,
        interceptor: AuditInterceptor,
      ) => (options.audit?.global === true ? interceptor : null),
      inject: [LOGGING_MODULE_OPTIONS, AuditInterceptor],
    },
  ],
  exports: SERVICES,
})
export class LoggingModule extends ConfigurableModuleClass {
  /** Registers the module with options known up front. */
  static forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    // Options known up front fail here, before the host connects; ModelPricing checks them again.
    resolvePricing(options.pricing);
    return withRepositories(super.forRoot(options), options.dataSource);
  }

  /** Registers the module with options from a factory, class or existing provider. */
  static forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return withRepositories(super.forRootAsync(options), options.dataSource);
  }
}

function withRepositories(
  definition: DynamicModule,
  dataSource: string | undefined,
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
    ],
    exports: [...(definition.exports ?? []), repositories],
  };
}
