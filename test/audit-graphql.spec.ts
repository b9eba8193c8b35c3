import type { CallHandler, ExecutionContext, Type } from '@nestjs/common';
import { lastValueFrom, of } from 'rxjs';
import {
  Audit,
  AuditConfigurationError,
  AuditInterceptor,
} from '../src/logging/index.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';
import { databaseSuite } from './support/suite.js';
import { plainUuid } from './support/ids.js';

/**
 * @Audit on a GraphQL resolver, without @nestjs/graphql: the interceptor called the way Nest's
 * GraphQL drivers call it, with the resolver's arguments (root, args, context, info) and
 * `getType()` 'graphql', against the real database.
 */

class ProjectsResolver {
  @Audit('create_project', 'cma_project')
  createProject() {
    return { id: plainUuid() };
  }
}

/** An execution context of type 'graphql' over the resolver's four arguments. */
function graphqlContext(args: unknown[]): ExecutionContext {
  const handler = Object.getOwnPropertyDescriptor(
    ProjectsResolver.prototype,
    'createProject',
  )!.value as () => unknown;
  const unused = () => {
    throw new Error('not an HTTP, RPC or WS call');
  };
  return {
    getType: <T extends string>() => 'graphql' as T,
    getClass: <T>() => ProjectsResolver as Type<T>,
    getHandler: () => handler,
    getArgs: <T extends unknown[]>() => args as T,
    getArgByIndex: <T>(index: number) => args[index] as T,
    switchToHttp: unused,
    switchToRpc: unused,
    switchToWs: unused,
  };
}

describe('@Audit on a GraphQL resolver', () => {
  const suite = databaseSuite();

  it('attributes the call to the request in the GraphQL context (req), and writes its row', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const { firmId, userId } = await seedFirm(app.dataSource, 'gql');
    const req = {
      headers: { 'x-request-id': 'gql-1' },
      ip: '203.0.113.5',
      user: { firmId, id: userId },
    };
    const interceptor = app.moduleRef.get(AuditInterceptor);
    const created = { id: plainUuid() };
    const next: CallHandler = { handle: () => of(created) };
    const result = await lastValueFrom(
      interceptor.intercept(graphqlContext([{}, {}, { req }, {}]), next),
    );
    expect(result).toBe(created);
    const { rows } = await suite.reader.query(
      'SELECT user_id, action, entity_id, ip_address, metadata FROM audit_log WHERE firm_id = $1',
      [firmId],
    );
    expect(rows).toEqual([
      {
        user_id: userId,
        action: 'create_project',
        entity_id: created.id,
        ip_address: '203.0.113.5',
        metadata: {
          outcome: 'success',
          requestId: expect.stringMatching(/^[a-p]{32}$/),
        },
      },
    ]);
  });

  it('refuses a call whose GraphQL context holds no request, naming handler, transport and option', async () => {
    const app = suite.own(await loggingApp(suite.url));
    const interceptor = app.moduleRef.get(AuditInterceptor);
    const count = async () =>
      (
        await suite.reader.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM audit_log',
        )
      ).rows[0].n;
    const before = await count();
    let called = false;
    const next: CallHandler = {
      handle: () => {
        called = true;
        return of({ id: plainUuid() });
      },
    };
    const refusal = () =>
      interceptor.intercept(graphqlContext([{}, {}, {}, {}]), next);
    expect(refusal).toThrow(AuditConfigurationError);
    expect(refusal).toThrow(
      "@Audit('create_project') on ProjectsResolver.createProject (transport 'graphql'): the GraphQL context holds no HTTP request under req",
    );
    expect(refusal).toThrow("the GraphQL module's context option");
    expect(called).toBe(false);
    expect(await count()).toBe(before);
  });
});
