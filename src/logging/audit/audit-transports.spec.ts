import 'reflect-metadata';
import { Get, Post, Sse } from '@nestjs/common';
import { EventPattern, MessagePattern } from '@nestjs/microservices';
import { SubscribeMessage } from '@nestjs/websockets';
import {
  SSE_KEYS,
  carries,
  messageHandlerKeys,
  transportOf,
} from './audit-transports.js';

/** The method `decorator` leaves, decorated as TypeScript would decorate it. */
function decorated(decorator?: MethodDecorator): object {
  const holder = { handle(): void {} };
  const descriptor = Object.getOwnPropertyDescriptor(holder, 'handle')!;
  decorator?.(holder, 'handle', descriptor);
  return descriptor.value as object;
}

describe("a handler's transport, told from the public decorators' metadata", () => {
  it.each([
    ['@Get()', 'http', Get()],
    ['@Post()', 'http', Post(':id')],
    ['@Sse()', 'http', Sse('events')],
    ['@MessagePattern()', 'rpc', MessagePattern({ cmd: 'sum' })],
    ['@EventPattern()', 'rpc', EventPattern('created') as MethodDecorator],
    ['@SubscribeMessage()', 'ws', SubscribeMessage('events')],
    ['a method with no decorator', undefined, undefined],
  ])('%s: %s', async (_, transport, decorator) => {
    expect(transportOf(decorated(decorator), await messageHandlerKeys())).toBe(
      transport,
    );
  });

  it('tells @Sse() routes from other routes', () => {
    expect(SSE_KEYS.length).toBeGreaterThan(0);
    expect(carries(decorated(Sse()), SSE_KEYS)).toBe(true);
    expect(carries(decorated(Get()), SSE_KEYS)).toBe(false);
  });
});
