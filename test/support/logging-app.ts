import type { ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { demoDataSourceOptions } from '../../src/demo/database/data-source.js';
import {
  AuditLogService,
  LlmUsageService,
  LogWriterService,
  LoggingModule,
  type LoggingModuleOptions,
} from '../../src/logging/index.js';
import { SINGLE_ROLE } from './roles.js';

/** The host connection and the LoggingModule on a test database, with `metadata` beside them. */
export function loggingModuleRef(
  url: string,
  options: LoggingModuleOptions = {},
  metadata: Omit<ModuleMetadata, 'imports'> = {},
): Promise<TestingModule> {
  return Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot(demoDataSourceOptions(url)),
      LoggingModule.forRoot({ ...SINGLE_ROLE, ...options }),
    ],
    ...metadata,
  }).compile();
}

/** A host app of just the host connection and the LoggingModule, on a test database. */
export async function loggingApp(
  url: string,
  options: LoggingModuleOptions = {},
) {
  const moduleRef = await loggingModuleRef(url, options);
  await moduleRef.init();
  return {
    moduleRef,
    dataSource: moduleRef.get(DataSource),
    audit: moduleRef.get(AuditLogService),
    usage: moduleRef.get(LlmUsageService),
    writer: moduleRef.get(LogWriterService),
    close: () => moduleRef.close(),
  };
}
