import type { AuditedAction, AuditedMethod } from './audit-declarations.js';
import { THIS_COPY, copyOf } from './audit-spec.js';
import { where } from './audit-call.js';
import { AuditConfigurationError } from './audit.errors.js';
import {
  type ResolvedAuditOptions,
  defaultActorResolver,
} from './audit.options.js';
import {
  ROUTE_KEYS,
  carries,
  messageHandlerKeys,
  transportOf,
} from './audit-transports.js';

/**
 * Refuses, at startup, the audited handlers that the configured `audit.resolveActor` cannot serve,
 * so that an application that would refuse every one of their calls does not start. The default
 * resolver reads `request.user` of an HTTP request: it finds no actor in the message of a
 * microservice (`@MessagePattern`, `@EventPattern`) or WebSocket (`@SubscribeMessage`) handler.
 * What cannot be known before a call arrives (what a custom resolver returns, a GraphQL context
 * without `req`) is still refused per call.
 * @throws AuditConfigurationError naming every such handler, its transport and the option to set
 */
export async function refuseUnservedHandlers(
  methods: readonly AuditedMethod[],
  options: ResolvedAuditOptions,
): Promise<void> {
  if (options.resolveActor !== defaultActorResolver) return;
  // routes are served: only the other methods need the message handlers' keys
  const others = methods.filter(({ method }) => !carries(method, ROUTE_KEYS));
  if (others.length === 0) return;
  const keys = await messageHandlerKeys();
  const refused: string[] = [];
  for (const { spec, where: handler, method } of others) {
    const transport = transportOf(method, keys);
    if (transport === 'rpc' || transport === 'ws') {
      const request =
        transport === 'rpc'
          ? `{ transport: 'rpc', data, context }`
          : `{ transport: 'ws', client, data }`;
      refused.push(
        `${where({ spec, handler, transport })}: the default audit.resolveActor reads ` +
          `request.user of an HTTP request and finds no actor in a message (request is ${request})`,
      );
    }
  }
  if (refused.length === 0) return;
  throw new AuditConfigurationError(
    `${refused.join('; ')}. Every call of ${
      refused.length === 1 ? 'this handler' : 'these handlers'
    } would be refused: set audit.resolveActor to find the firm and user in the message, ` +
      `or take the handler out of @Audit`,
  );
}

/**
 * Refuses, at startup, an application whose handlers carry `@Audit` of another copy of the package
 * than this `LoggingModule`'s: two copies installed side by side (a library bringing its own)
 * would each audit their own handlers with their own options, and read each other's metadata.
 * @throws AuditConfigurationError naming each such handler and where both copies were loaded from
 */
export function refuseOtherCopies(actions: readonly AuditedAction[]): void {
  const foreign = actions.filter(({ spec }) => copyOf(spec) !== THIS_COPY);
  if (foreign.length === 0) return;
  const from = (spec: object) => {
    const loadedFrom = copyOf(spec)?.loadedFrom;
    return typeof loadedFrom === 'string'
      ? `loaded from ${loadedFrom}`
      : 'an earlier version';
  };
  throw new AuditConfigurationError(
    `${foreign
      .map(
        ({ spec, where }) =>
          `@Audit('${spec.action}') on ${where} (${from(spec)})`,
      )
      .join('; ')}: ${
      foreign.length === 1 ? 'this is' : 'these are'
    } from another copy of @cma/logging than this LoggingModule (loaded from ${
      THIS_COPY.loadedFrom
    }). Two copies in one application would each audit, with options of their own: install one ` +
      `(npm ls @cma/logging, then npm dedupe or one version range for every dependent)`,
  );
}
