import 'reflect-metadata';
import { Get, Sse } from '@nestjs/common';

/**
 * What kind of handler a method is, told from the metadata Nest's own public decorators put on it.
 * Their metadata keys are Nest's internals, so none is written here: each is found by applying the
 * public decorator to a probe method and reading which keys it set.
 *
 * @module
 */

/** The metadata keys `decorator` sets, with a value, on the method it decorates. */
export function keysOf(decorator: MethodDecorator): readonly string[] {
  const probe = { handler(): void {} };
  const descriptor = Object.getOwnPropertyDescriptor(probe, 'handler')!;
  decorator(probe, 'handler', descriptor);
  const method = descriptor.value as object;
  return Reflect.getOwnMetadataKeys(method).filter(
    (key): key is string =>
      typeof key === 'string' &&
      Reflect.getOwnMetadata(key, method) !== undefined,
  );
}

/** Whether `method` carries any of `keys`. */
export function carries(method: object, keys: readonly string[]): boolean {
  for (const key of keys) {
    if (Reflect.getMetadata(key, method) !== undefined) return true;
  }
  return false;
}

/** What `@Get()` sets: an HTTP route. */
export const ROUTE_KEYS = keysOf(Get());

/** What `@Sse()` sets beyond a route's keys: a Server-Sent Events route. */
export const SSE_KEYS = keysOf(Sse()).filter(
  (key) => !ROUTE_KEYS.includes(key),
);

/**
 * The metadata keys of Nest's message handlers: `@MessagePattern` and `@EventPattern` (`rpc`),
 * `@SubscribeMessage` (`ws`). Empty for a package the application does not have installed: none of
 * its handlers can exist then.
 */
export interface MessageHandlerKeys {
  readonly rpc: readonly string[];
  readonly ws: readonly string[];
}

let messageKeys: Promise<MessageHandlerKeys> | undefined;

/** The keys of Nest's message handlers, probed once per process. */
export function messageHandlerKeys(): Promise<MessageHandlerKeys> {
  messageKeys ??= Promise.all([
    import('@nestjs/microservices').then(
      ({ EventPattern, MessagePattern }) => [
        ...new Set([
          ...keysOf(MessagePattern('probe')),
          ...keysOf(EventPattern('probe') as MethodDecorator),
        ]),
      ],
      () => [],
    ),
    import('@nestjs/websockets').then(
      ({ SubscribeMessage }) => keysOf(SubscribeMessage('probe')),
      () => [],
    ),
  ]).then(([rpc, ws]) => ({ rpc, ws }));
  return messageKeys;
}

/**
 * The transport that calls `method`, as its decorators tell: `'http'` for a route, `'rpc'` or `'ws'`
 * for a message handler; undefined for anything else (a GraphQL resolver, a method no transport
 * calls).
 */
export function transportOf(
  method: object,
  keys: MessageHandlerKeys,
): 'http' | 'rpc' | 'ws' | undefined {
  if (carries(method, ROUTE_KEYS)) return 'http';
  if (carries(method, keys.rpc)) return 'rpc';
  if (carries(method, keys.ws)) return 'ws';
  return undefined;
}
