import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  type CallHandler,
  Controller,
  type ExecutionContext,
  type INestMicroservice,
  Injectable,
  type NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import { IsIn } from 'class-validator';
import {
  ClientProxyFactory,
  MessagePattern,
  type MicroserviceOptions,
  RpcException,
  TcpContext,
  Transport,
} from '@nestjs/microservices';
import {
  type Observable,
  concat,
  interval,
  lastValueFrom,
  map,
  mergeMap,
  of,
  take,
  throwError,
  timeout,
  timer,
} from 'rxjs';
import { DataSource } from 'typeorm';
import type { AuditActorResolver } from '../src/logging/audit/audit.options.js';
import {
  Audit,
  AuditConfigurationError,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import { capturedLogger } from './support/captured-logger.js';
import { loggingModuleRef } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';
import { eventually } from './support/streams.js';
import { databaseSuite } from './support/suite.js';
import { plainUuid } from './support/ids.js';

/** What a `view_document` row may store: the message pattern. */
class ViewDocumentMetadata {
  @IsIn(['view_document']) pattern: string;
}

/** @Audit on microservice handlers over TCP on 127.0.0.1, read back from audit_log. */

interface Message {
  actor?: { firmId: string; userId: string };
  name?: string;
  documentId?: string;
}

/** Gives up on a call after 50 ms, as a host's timeout interceptor would. */
@Injectable()
class TimeoutInterceptor implements NestInterceptor {
  intercept(_: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(timeout(50));
  }
}

@Controller()
class RpcProjectsController {
  static calls = 0;

  /** Takes its payload as an undecorated argument. */
  @MessagePattern('create_project')
  @Audit('create_project', 'cma_project')
  create(message: Message) {
    RpcProjectsController.calls++;
    return { id: plainUuid(), name: message.name };
  }

  @MessagePattern('view_document')
  @Audit('view_document', 'document', {
    entityId: ({ request }) =>
      request.transport === 'rpc'
        ? (request.data as Message).documentId
        : undefined,
    metadata: ({ context }) => ({
      pattern: context.switchToRpc().getContext<TcpContext>().getPattern(),
    }),
    metadataClass: ViewDocumentMetadata,
  })
  view(message: Message) {
    RpcProjectsController.calls++;
    return message;
  }

  /** Three values, 10 ms apart: an RPC stream. */
  @MessagePattern('watch_document')
  @Audit('watch_document', 'document') // the default entity id: the last value's id
  watch(message: Message) {
    return interval(10).pipe(
      take(3),
      map((step) => ({ id: message.documentId, step })),
    );
  }

  /** A value, then the error. */
  @MessagePattern('broken_stream')
  @Audit('stream_document', 'document')
  broken() {
    return concat(
      of({ step: 1 }),
      timer(5).pipe(
        mergeMap(() =>
          throwError(
            () => new RpcException({ status: 'error', message: 'moved' }),
          ),
        ),
      ),
    );
  }

  /** Answers after 300 ms, behind a 50 ms timeout outside the audit. */
  @MessagePattern('slow')
  @Audit('run_extraction', 'document')
  @UseInterceptors(TimeoutInterceptor)
  async slow() {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { done: true };
  }

  @MessagePattern('resolve_review')
  @Audit('resolve_review', 'review_item')
  resolve(): never {
    RpcProjectsController.calls++;
    throw new RpcException({ status: 'error', message: 'no such review' });
  }
}

/** The actor the sender put in the message, seen only on the rpc transport. */
const fromMessage: AuditActorResolver = (request, context) =>
  request.transport === 'rpc' &&
  context.getType() === 'rpc' &&
  request.context instanceof TcpContext
    ? (request.data as Message).actor
    : undefined;

describe('@Audit on a microservice over TCP', () => {
  const suite = databaseSuite();

  async function start(options: LoggingModuleOptions = {}) {
    const { logger, errors } = capturedLogger();
    const moduleRef = await loggingModuleRef(suite.url, options, {
      controllers: [RpcProjectsController],
    });
    const app: INestMicroservice =
      moduleRef.createNestMicroservice<MicroserviceOptions>({
        transport: Transport.TCP,
        options: { host: '127.0.0.1', port: 0 },
        logger,
      });
    await app.listen();
    const { port } = app.unwrap<Server>().address() as AddressInfo;
    const client = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port },
    });
    await client.connect();
    const dataSource = app.get(DataSource);
    const firm = await seedFirm(dataSource, `firm-${plainUuid()}`);
    suite.own({
      close: async () => {
        client.close();
        await app.close();
      },
    });
    const send = <T>(pattern: string, message: Message) =>
      lastValueFrom(client.send<T, Message>(pattern, message));
    /** Every value the handler sends back, in order, and the error it ends with, if any. */
    const stream = (pattern: string, message: Message) =>
      new Promise<{ values: unknown[]; error?: unknown }>((resolve) => {
        const values: unknown[] = [];
        client.send<unknown, Message>(pattern, message).subscribe({
          next: (value) => values.push(value),
          error: (error: unknown) => resolve({ values, error }),
          complete: () => resolve({ values }),
        });
      });
    return { ...firm, send, stream, errors };
  }

  async function rows(firmId: string) {
    const result = await suite.reader.query<{
      user_id: string | null;
      action: string;
      entity_id: string | null;
      ip_address: string | null;
      metadata: Record<string, unknown>;
    }>(
      `SELECT user_id, action, entity_id, ip_address, metadata FROM audit_log
        WHERE firm_id = $1 ORDER BY created_at, action`,
      [firmId],
    );
    return result.rows;
  }

  it('writes one row per message with a resolveActor reading the message, and the handler gets its payload', async () => {
    const { send, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    const actor = { firmId, userId };
    const created = await send<{ id: string; name: string }>('create_project', {
      actor,
      name: 'Acme CMA',
    });
    expect(created).toEqual({ id: expect.any(String), name: 'Acme CMA' });
    const documentId = plainUuid();
    // the undecorated argument is the payload, whole
    expect(await send('view_document', { actor, documentId })).toEqual({
      actor,
      documentId,
    });
    expect(await rows(firmId)).toEqual([
      {
        user_id: userId,
        action: 'create_project',
        entity_id: created.id,
        ip_address: null,
        metadata: { outcome: 'success', requestId: expect.any(String) },
      },
      {
        user_id: userId,
        action: 'view_document',
        entity_id: documentId,
        ip_address: null,
        metadata: {
          outcome: 'success',
          pattern: 'view_document',
          requestId: expect.any(String),
        },
      },
    ]);
  });

  it('records a handler that throws as a failure and passes its error to the client', async () => {
    const { send, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    await expect(
      send('resolve_review', { actor: { firmId, userId } }),
    ).rejects.toEqual({ status: 'error', message: 'no such review' });
    expect(await rows(firmId)).toMatchObject([
      {
        action: 'resolve_review',
        metadata: { outcome: 'failure', errorClass: 'RpcException' },
      },
    ]);
  });

  it('records a stream of values in one row at its end, with the last value and the count', async () => {
    const { stream, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    const documentId = plainUuid();
    expect(
      await stream('watch_document', { actor: { firmId, userId }, documentId }),
    ).toEqual({
      values: [0, 1, 2].map((step) => ({ id: documentId, step })),
    });
    expect(await rows(firmId)).toEqual([
      {
        user_id: userId,
        action: 'watch_document',
        entity_id: documentId,
        ip_address: null,
        metadata: {
          outcome: 'success',
          values: 3,
          requestId: expect.any(String),
        },
      },
    ]);
  });

  it('records an error after a value as a failure, and the client gets the value and the error', async () => {
    const { stream, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    expect(
      await stream('broken_stream', { actor: { firmId, userId } }),
    ).toEqual({
      values: [{ step: 1 }],
      error: { status: 'error', message: 'moved' },
    });
    expect(await rows(firmId)).toMatchObject([
      {
        action: 'stream_document',
        metadata: {
          outcome: 'failure',
          errorClass: 'RpcException',
          values: 1,
        },
      },
    ]);
  });

  it('records a call a timeout outside the audit gives up on as cancelled', async () => {
    const { send, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    await expect(send('slow', { actor: { firmId, userId } })).rejects.toEqual(
      expect.objectContaining({ status: 'error' }),
    );
    const stored = await eventually(
      () => rows(firmId),
      (found) => found.length > 0,
    );
    expect(stored).toMatchObject([
      {
        action: 'run_extraction',
        metadata: { outcome: 'cancelled', values: 0 },
      },
    ]);
  });

  it.each([{}, { onMissingFirm: 'skip' as const }])(
    'refuses to start with the default resolveActor and audited message handlers (audit %j), naming each handler, its transport and the option',
    async (audit) => {
      const { logger } = capturedLogger();
      const moduleRef = await loggingModuleRef(
        suite.url,
        { audit },
        { controllers: [RpcProjectsController] },
      );
      const app = moduleRef.createNestMicroservice<MicroserviceOptions>({
        transport: Transport.TCP,
        options: { host: '127.0.0.1', port: 0 },
        logger,
      });
      suite.own({ close: () => app.close() });
      const boot = app.listen();
      await expect(boot).rejects.toThrow(AuditConfigurationError);
      const { message } = (await boot.catch((error: Error) => error)) as Error;
      for (const handler of [
        "@Audit('create_project') on RpcProjectsController.create (transport 'rpc')",
        "@Audit('view_document') on RpcProjectsController.view (transport 'rpc')",
        "@Audit('watch_document') on RpcProjectsController.watch (transport 'rpc')",
        "@Audit('resolve_review') on RpcProjectsController.resolve (transport 'rpc')",
      ]) {
        expect(message).toContain(
          `${handler}: the default audit.resolveActor reads request.user`,
        );
      }
      expect(message).toContain(
        "(request is { transport: 'rpc', data, context })",
      );
      expect(message).toContain('set audit.resolveActor');
    },
  );

  it('refuses a message whose resolver finds no firm, and writes every message it does attribute', async () => {
    const { send, firmId, userId, errors } = await start({
      audit: { resolveActor: fromMessage },
    });
    const calls = RpcProjectsController.calls;
    await expect(send('create_project', { name: 'anonymous' })).rejects.toEqual(
      { status: 'error', message: 'Internal server error' },
    );
    expect(RpcProjectsController.calls).toBe(calls);
    expect(errors).toEqual([
      expect.stringContaining(
        "@Audit('create_project') on RpcProjectsController.create (transport 'rpc'): no firm resolved",
      ),
    ]);
    await send('create_project', { actor: { firmId, userId }, name: 'a' });
    expect(RpcProjectsController.calls).toBe(calls + 1);
    expect((await rows(firmId)).map((row) => row.action)).toEqual([
      'create_project',
    ]);
  });
});
