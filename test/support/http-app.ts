import { type Server, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  FastifyAdapter,
  type NestFastifyApplication,
} from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module.js';
import { configureDemoApp } from '../../src/demo/configure.js';
import { demoDataSourceOptions } from '../../src/demo/database/data-source.js';
import {
  AuditLogService,
  LogWriterService,
  LoggingModule,
  type LoggingModuleOptions,
} from '../../src/logging/index.js';
import {
  FIXTURE_CONTROLLERS,
  HeaderAuthGuard,
} from '../fixtures/audit-fixture.js';
import { SINGLE_ROLE } from './roles.js';

export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

export interface HttpAppOptions {
  /** Peers whose X-Forwarded-For is believed, as each framework takes it. Default: none. */
  trustProxy?: string;
  /** Default: the fixture controllers. */
  controllers?: Type[];
  /** Import LoggingModule. Default: true. */
  logging?: boolean;
}

/**
 * The fixture controllers behind the LoggingModule, listening on a free port of 127.0.0.1 on the
 * chosen HTTP platform.
 */
export async function httpApp(
  platform: Platform,
  url: string,
  options: LoggingModuleOptions = {},
  {
    trustProxy,
    controllers = FIXTURE_CONTROLLERS,
    logging = true,
  }: HttpAppOptions = {},
) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot(demoDataSourceOptions(url)),
      ...(logging
        ? [LoggingModule.forRoot({ ...SINGLE_ROLE, ...options })]
        : []),
    ],
    controllers,
    providers: [{ provide: APP_GUARD, useClass: HeaderAuthGuard }],
  }).compile();
  let app: INestApplication;
  if (platform === 'fastify') {
    const fastify = moduleRef.createNestApplication<NestFastifyApplication>(
      new FastifyAdapter(trustProxy ? { trustProxy } : {}),
      { logger: false },
    );
    app = fastify;
  } else {
    const express = moduleRef.createNestApplication<NestExpressApplication>({
      logger: false,
    });
    if (trustProxy) express.set('trust proxy', trustProxy);
    app = express;
  }
  await app.listen(0, '127.0.0.1');
  const address = (app.getHttpServer() as Server).address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${address.port}`;
  let closing: Promise<void> | undefined;
  /** Sends a request with a JSON body (if any) and returns the status and parsed body. */
  const send = async (
    method: string,
    path: string,
    {
      body,
      headers = {},
    }: { body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const response = await fetch(baseUrl + path, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: (text ? JSON.parse(text) : undefined) as Record<string, unknown>,
    };
  };
  /**
   * `send` on a connection of its own, closed after the response: a server shutting down need not
   * wait for an idle keep-alive connection (Fastify keeps them 72 s).
   */
  const sendOnce = (
    method: string,
    path: string,
    {
      body,
      headers = {},
    }: { body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    new Promise<{ status: number; body: Record<string, unknown> }>(
      (resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const request = httpRequest(
          baseUrl + path,
          {
            method,
            agent: false,
            headers: {
              connection: 'close',
              ...(payload === undefined
                ? {}
                : { 'content-type': 'application/json' }),
              ...headers,
            },
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text += chunk));
            response.on('end', () =>
              resolve({
                status: response.statusCode ?? 0,
                body: (text ? JSON.parse(text) : undefined) as Record<
                  string,
                  unknown
                >,
              }),
            );
          },
        );
        request.on('error', reject);
        request.end(payload);
      },
    );
  return {
    app,
    baseUrl,
    sendOnce,
    dataSource: app.get(DataSource),
    get audit() {
      return app.get(AuditLogService);
    },
    get writer() {
      return app.get(LogWriterService);
    },
    send,
    /** Closes the app once; later calls wait for the same close (Fastify hangs on a second). */
    close: () => (closing ??= app.close()),
  };
}

/** The demo host (`AppModule`, as `main.ts` configures it) listening on a free port of 127.0.0.1. */
export async function demoHttpApp(url: string) {
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forDatabase(url)],
  }).compile();
  const app = configureDemoApp(
    moduleRef.createNestApplication({ logger: false }),
  );
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return {
    app,
    base: `http://127.0.0.1:${port}`,
    dataSource: app.get(DataSource),
  };
}
