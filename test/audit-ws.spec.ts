import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { WsAdapter } from '@nestjs/platform-ws';
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
  type WsResponse,
} from '@nestjs/websockets';
import {
  type Observable,
  concat,
  interval,
  map,
  mergeMap,
  of,
  take,
  throwError,
  timer,
} from 'rxjs';
import { DataSource } from 'typeorm';
import { WebSocket } from 'ws';
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

/** @Audit on a WebSocket gateway (@nestjs/platform-ws) on 127.0.0.1, read back from audit_log. */

interface Message {
  actor?: { firmId: string; userId: string };
  name?: string;
  documentId?: string;
  count?: number;
}

/** The actor the sender put in the message. */
const fromMessage: AuditActorResolver = (request, context) =>
  request.transport === 'ws' && context.getType() === 'ws'
    ? (request.data as Message).actor
    : undefined;

@WebSocketGateway()
class ProjectsGateway {
  static calls = 0;

  @SubscribeMessage('create_project')
  @Audit('create_project', 'cma_project', {
    entityId: ({ result }) => (result as WsResponse<{ id: string }>).data.id,
  })
  create(@MessageBody() _message: Message): WsResponse<{ id: string }> {
    ProjectsGateway.calls++;
    return { event: 'created', data: { id: plainUuid() } };
  }

  /** A message, then the error. */
  @SubscribeMessage('broken_stream')
  @Audit('stream_document', 'document')
  broken(): Observable<WsResponse<{ step: number }>> {
    return concat(
      of({ event: 'step', data: { step: 1 } }),
      timer(5).pipe(mergeMap(() => throwError(() => new WsException('moved')))),
    );
  }

  /** `count` messages 20 ms apart: a stream. */
  @SubscribeMessage('watch_document')
  @Audit('watch_document', 'document', {
    entityId: ({ result }) =>
      (result as WsResponse<{ id: string }> | undefined)?.data.id,
  })
  watch(
    @MessageBody() message: Message,
  ): Observable<WsResponse<{ id?: string; step: number }>> {
    return interval(20).pipe(
      take(message.count ?? 3),
      map((step) => ({
        event: 'step',
        data: { id: message.documentId, step },
      })),
    );
  }
}

describe('@Audit on a WebSocket gateway', () => {
  const suite = databaseSuite();

  async function start(options: LoggingModuleOptions = {}) {
    const { logger, errors } = capturedLogger();
    const moduleRef = await loggingModuleRef(suite.url, options, {
      providers: [ProjectsGateway],
    });
    const app = moduleRef.createNestApplication({ logger });
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, '127.0.0.1');
    const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
    const socket = new WebSocket(`ws://127.0.0.1:${port}`);
    await once(socket, 'open');
    suite.own({
      close: async () => {
        socket.close();
        await app.close();
      },
    });
    const firm = await seedFirm(app.get(DataSource), `firm-${plainUuid()}`);
    /** Sends one message and returns the next one the server sends back. */
    const send = async (event: string, data: Message) => {
      const reply = once(socket, 'message');
      socket.send(JSON.stringify({ event, data }));
      const [raw] = (await reply) as [Buffer];
      return JSON.parse(raw.toString()) as { event: string; data: unknown };
    };
    /** Sends one message and returns the next `count` the server sends back. */
    const receive = (event: string, data: Message, count: number) =>
      new Promise<unknown[]>((resolve) => {
        const received: unknown[] = [];
        const onMessage = (raw: Buffer) => {
          received.push(JSON.parse(raw.toString()));
          if (received.length < count) return;
          socket.off('message', onMessage);
          resolve(received);
        };
        socket.on('message', onMessage);
        socket.send(JSON.stringify({ event, data }));
      });
    return { ...firm, send, receive, socket, errors };
  }

  async function rows(firmId: string) {
    const result = await suite.reader.query<{
      action: string;
      user_id: string | null;
      entity_id: string | null;
      ip_address: string | null;
      metadata: Record<string, unknown>;
    }>(
      'SELECT action, user_id, entity_id, ip_address, metadata FROM audit_log WHERE firm_id = $1',
      [firmId],
    );
    return result.rows;
  }

  it('writes one row per message with a resolveActor reading the message', async () => {
    const { send, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    const reply = await send('create_project', {
      actor: { firmId, userId },
      name: 'p',
    });
    expect(reply).toEqual({
      event: 'created',
      data: { id: expect.any(String) },
    });
    expect(await rows(firmId)).toEqual([
      {
        action: 'create_project',
        user_id: userId,
        entity_id: (reply.data as { id: string }).id,
        ip_address: null,
        metadata: { outcome: 'success', requestId: expect.any(String) },
      },
    ]);
  });

  it('records a stream of messages in one row at its end, with the last one and the count', async () => {
    const { receive, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    const documentId = plainUuid();
    const received = await receive(
      'watch_document',
      { actor: { firmId, userId }, documentId },
      3,
    );
    expect(received).toEqual(
      [0, 1, 2].map((step) => ({
        event: 'step',
        data: { id: documentId, step },
      })),
    );
    // the last message leaves after the row is committed
    expect(await rows(firmId)).toMatchObject([
      {
        action: 'watch_document',
        entity_id: documentId,
        metadata: { outcome: 'success', values: 3 },
      },
    ]);
  });

  it('records an error after a message as a failure, and the client gets the message and the error', async () => {
    const { receive, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    const received = await receive(
      'broken_stream',
      { actor: { firmId, userId } },
      2,
    );
    expect(received).toEqual([
      { event: 'step', data: { step: 1 } },
      {
        event: 'exception',
        data: expect.objectContaining({ status: 'error', message: 'moved' }),
      },
    ]);
    expect(await rows(firmId)).toMatchObject([
      {
        action: 'stream_document',
        metadata: { outcome: 'failure', errorClass: 'WsException', values: 1 },
      },
    ]);
  });

  it('records a stream whose client disconnects before the end as cancelled', async () => {
    const { receive, socket, firmId, userId } = await start({
      audit: { resolveActor: fromMessage },
    });
    const documentId = plainUuid();
    await receive(
      'watch_document',
      { actor: { firmId, userId }, documentId, count: 1000 },
      2,
    );
    socket.close();
    const stored = await eventually(
      () => rows(firmId),
      (found) => found.length > 0,
    );
    expect(stored).toMatchObject([
      {
        action: 'watch_document',
        entity_id: documentId,
        metadata: { outcome: 'cancelled' },
      },
    ]);
    expect(stored[0].metadata.values).toBeGreaterThanOrEqual(2);
  });

  it('refuses to start with the default resolveActor and an audited gateway handler, naming the handler, its transport and the option', async () => {
    const { logger } = capturedLogger();
    const moduleRef = await loggingModuleRef(
      suite.url,
      {},
      { providers: [ProjectsGateway] },
    );
    const app = moduleRef.createNestApplication({ logger });
    app.useWebSocketAdapter(new WsAdapter(app));
    suite.own({ close: () => app.close() });
    const boot = app.listen(0, '127.0.0.1');
    await expect(boot).rejects.toThrow(AuditConfigurationError);
    await expect(boot).rejects.toThrow(
      "@Audit('create_project') on ProjectsGateway.create (transport 'ws'): the default audit.resolveActor reads request.user",
    );
    await expect(boot).rejects.toThrow(
      "(request is { transport: 'ws', client, data })",
    );
    await expect(boot).rejects.toThrow('set audit.resolveActor');
  });
});
