import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication, Provider, Type } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  FastifyAdapter,
  type NestFastifyApplication,
} from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { demoDataSourceOptions } from '../../src/demo/database/data-source.js';
import {
  LoggingDashboardModule,
  type LoggingDashboardOptions,
} from '../../src/logging/dashboard/index.js';
import {
  AuditTrailService,
  LlmUsageReportService,
  LoggingModule,
} from '../../src/logging/index.js';
import type { Platform } from './http-app.js';
import { SINGLE_ROLE } from './roles.js';

/** What a test host adds of its own: controllers (its files), providers (a global guard). */
export interface HostExtras {
  controllers?: Type[];
  providers?: Provider[];
}

/**
 * A host of the LoggingModule and the dashboard at `options.path`, listening on a free port of
 * 127.0.0.1 on the chosen platform.
 */
export async function dashboardApp(
  url: string,
  options: LoggingDashboardOptions,
  platform: Platform = 'express',
  extras: HostExtras = {},
) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot(demoDataSourceOptions(url)),
      LoggingModule.forRoot(SINGLE_ROLE),
      LoggingDashboardModule.forRoot(options),
    ],
    controllers: extras.controllers ?? [],
    providers: extras.providers ?? [],
  }).compile();
  const app: INestApplication =
    platform === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(
          // The page is at `<path>/`: Fastify tells `/a` and `/a/` apart unless told not to.
          new FastifyAdapter({ routerOptions: { ignoreTrailingSlash: true } }),
          { logger: false },
        )
      : moduleRef.createNestApplication<NestExpressApplication>({
          logger: false,
        });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    app,
    base,
    dataSource: app.get(DataSource),
    reports: app.get(LlmUsageReportService),
    trail: app.get(AuditTrailService),
    url: (path: string) => base + path,
    /** GET `path` under the app, with `headers`. */
    get: (path: string, headers: Record<string, string> = {}) =>
      fetch(base + path, { headers, redirect: 'manual' }),
    close: () => app.close(),
  };
}

/** Parses RFC 4180 CSV: records of fields, quotes undone. Throws on anything malformed. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endField = () => {
    record.push(field);
    field = '';
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else {
        quoted = false;
        if (!/^(,|\r\n)/.test(text.slice(i + 1, i + 3))) {
          throw new Error(`text after a closing quote at ${i}`);
        }
      }
      i++;
    } else if (c === '"') {
      if (field !== '') throw new Error(`stray quote at ${i}`);
      quoted = true;
      i++;
    } else if (c === ',') {
      endField();
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      endField();
      records.push(record);
      record = [];
      i += 2;
    } else if (c === '\n' || c === '\r') {
      throw new Error(`bare line break at ${i}`);
    } else {
      field += c;
      i++;
    }
  }
  if (quoted || field !== '' || record.length) {
    throw new Error('last record unterminated');
  }
  return records;
}
