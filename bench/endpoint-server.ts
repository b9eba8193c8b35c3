/**
 * The app bench/endpoint drives, one process per run:
 *
 *   node dist/bench/endpoint-server.js <variant> <route> <database-url> [express|fastify]
 *
 * Variants: `bare` without the LoggingModule and without `@Audit`; `interceptor` the same with an
 * interceptor that does nothing on the route (the floor of any interceptor-based audit); `context`
 * the same interceptor running the handler inside `AsyncLocalStorage.run` (the floor of any audit
 * that hands its context to the services the handler calls);
 * `undecorated` like `bare` with the LoggingModule imported; `await` and `buffered` with the LoggingModule and `@Audit` on the route,
 * in that audit durability. Routes, behind an authentication guard that sets `request.user` as a
 * host's would:
 *
 * - `files`: `POST /projects/:projectId/files`, which checks its body and answers from memory: the
 *   cheapest handler there is, so the audit's own cost shows in full;
 * - `projects`: `POST /projects`, which checks its body and inserts the project with TypeORM, as
 *   the demo's `create_project` does.
 *
 * Prints `listening <port>` once it accepts connections; SIGTERM shuts it down gracefully.
 */
import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BadRequestException,
  Body,
  type CallHandler,
  type CanActivate,
  Controller,
  type DynamicModule,
  type ExecutionContext,
  Injectable,
  Module,
  type NestInterceptor,
  Param,
  ParseUUIDPipe,
  Post,
  Req,
  type Type,
  UseInterceptors,
} from '@nestjs/common';
import { type Observable, Observable as RxObservable } from 'rxjs';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import { CmaProject } from '../src/demo/entities/index.js';
import {
  Audit,
  LoggingModule,
  type LogWriterOptions,
} from '../src/logging/index.js';

const VARIANTS = [
  'bare',
  'interceptor',
  'context',
  'undecorated',
  'await',
  'buffered',
] as const;
type Variant = (typeof VARIANTS)[number];
const ROUTES = ['files', 'projects'] as const;
type Route = (typeof ROUTES)[number];

interface AuthenticatedRequest {
  headers: Record<string, string | undefined>;
  user?: { id?: string; firmId: string };
}

@Injectable()
class HeaderAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const firmId = request.headers['x-firm-id'];
    if (firmId) request.user = { id: request.headers['x-user-id'], firmId };
    return true;
  }
}

interface FileBody {
  name?: unknown;
  pages?: unknown;
}

function upload(projectId: string, body: FileBody) {
  if (typeof body.name !== 'string' || !Number.isInteger(body.pages)) {
    throw new BadRequestException('name and pages are required');
  }
  return {
    fileId: randomUUID(),
    projectId,
    name: body.name,
    pages: body.pages as number,
  };
}

/** Does nothing: what Nest's interceptor pipeline alone costs a route. */
@Injectable()
class NoopInterceptor implements NestInterceptor {
  intercept(
    _context: ExecutionContext,
    next: CallHandler,
  ): Observable<unknown> {
    return next.handle();
  }
}

/** Runs the handler inside an AsyncLocalStorage context, and does nothing else. */
const storage = new AsyncLocalStorage<object>();
@Injectable()
class ContextInterceptor implements NestInterceptor {
  intercept(
    _context: ExecutionContext,
    next: CallHandler,
  ): Observable<unknown> {
    return new RxObservable((subscriber) =>
      storage.run({}, () => next.handle().subscribe(subscriber)),
    );
  }
}

@Controller('projects')
class AuditedFilesController {
  @Post(':projectId/files')
  @Audit('upload_file', 'cma_project', {
    entityId: { param: 'projectId' },
    metadata: ({ result }) => {
      const file = result as { fileId: string; pages: number };
      return { fileId: file.fileId, pages: file.pages };
    },
  })
  upload(
    @Param('projectId', ParseUUIDPipe) projectId: string,
    @Body() body: FileBody,
  ) {
    return upload(projectId, body);
  }
}

@Controller('projects')
@UseInterceptors(NoopInterceptor)
class InterceptedFilesController {
  @Post(':projectId/files')
  upload(
    @Param('projectId', ParseUUIDPipe) projectId: string,
    @Body() body: FileBody,
  ) {
    return upload(projectId, body);
  }
}

@Controller('projects')
@UseInterceptors(ContextInterceptor)
class ContextFilesController {
  @Post(':projectId/files')
  upload(
    @Param('projectId', ParseUUIDPipe) projectId: string,
    @Body() body: FileBody,
  ) {
    return upload(projectId, body);
  }
}

@Controller('projects')
class PlainFilesController {
  @Post(':projectId/files')
  upload(
    @Param('projectId', ParseUUIDPipe) projectId: string,
    @Body() body: FileBody,
  ) {
    return upload(projectId, body);
  }
}

abstract class ProjectsBase {
  constructor(
    @InjectRepository(CmaProject)
    private readonly projects: Repository<CmaProject>,
  ) {}

  protected async createProject(
    request: AuthenticatedRequest,
    body: { name?: unknown },
  ) {
    if (typeof body.name !== 'string' || body.name.length === 0) {
      throw new BadRequestException('name is required');
    }
    const { identifiers } = await this.projects.insert({
      firmId: request.user!.firmId,
      name: body.name,
    });
    return { id: identifiers[0].id as string, name: body.name };
  }
}

@Controller('projects')
class AuditedProjectsController extends ProjectsBase {
  @Post()
  @Audit('create_project', 'cma_project')
  create(
    @Req() request: AuthenticatedRequest,
    @Body() body: { name?: unknown },
  ) {
    return this.createProject(request, body);
  }
}

@Controller('projects')
@UseInterceptors(NoopInterceptor)
class InterceptedProjectsController extends ProjectsBase {
  @Post()
  create(
    @Req() request: AuthenticatedRequest,
    @Body() body: { name?: unknown },
  ) {
    return this.createProject(request, body);
  }
}

@Controller('projects')
@UseInterceptors(ContextInterceptor)
class ContextProjectsController extends ProjectsBase {
  @Post()
  create(
    @Req() request: AuthenticatedRequest,
    @Body() body: { name?: unknown },
  ) {
    return this.createProject(request, body);
  }
}

@Controller('projects')
class PlainProjectsController extends ProjectsBase {
  @Post()
  create(
    @Req() request: AuthenticatedRequest,
    @Body() body: { name?: unknown },
  ) {
    return this.createProject(request, body);
  }
}

const CONTROLLERS: Record<
  Route,
  { audited: Type; intercepted: Type; context: Type; plain: Type }
> = {
  files: {
    audited: AuditedFilesController,
    intercepted: InterceptedFilesController,
    context: ContextFilesController,
    plain: PlainFilesController,
  },
  projects: {
    audited: AuditedProjectsController,
    intercepted: InterceptedProjectsController,
    context: ContextProjectsController,
    plain: PlainProjectsController,
  },
};

@Module({})
class BenchAppModule {
  static for(variant: Variant, route: Route, url: string): DynamicModule {
    const audited = variant === 'await' || variant === 'buffered';
    const withModule = audited || variant === 'undecorated';
    const database =
      route === 'projects' || withModule
        ? [
            TypeOrmModule.forRoot(demoDataSourceOptions(url)),
            TypeOrmModule.forFeature([CmaProject]),
          ]
        : [];
    return {
      module: BenchAppModule,
      imports: [
        ...database,
        ...(!withModule
          ? []
          : [
              LoggingModule.forRoot({
                // e.g. BENCH_WRITER='{"maxDelayMs":0}' to try writer options
                writer: JSON.parse(
                  process.env.BENCH_WRITER ?? '{}',
                ) as LogWriterOptions,
                audit: {
                  durability: variant === 'await' ? 'await' : 'buffered',
                },
              }),
            ]),
      ],
      controllers: [
        audited
          ? CONTROLLERS[route].audited
          : variant === 'interceptor'
            ? CONTROLLERS[route].intercepted
            : variant === 'context'
              ? CONTROLLERS[route].context
              : CONTROLLERS[route].plain,
      ],
      providers: [{ provide: APP_GUARD, useClass: HeaderAuthGuard }],
    };
  }
}

async function main(): Promise<void> {
  const [variant, route, url, platform = 'express'] = process.argv.slice(2);
  if (
    !VARIANTS.includes(variant as Variant) ||
    !ROUTES.includes(route as Route) ||
    !url
  ) {
    throw new Error(
      `usage: endpoint-server <${VARIANTS.join('|')}> <${ROUTES.join('|')}> <database-url> [express|fastify]`,
    );
  }
  const module = BenchAppModule.for(variant as Variant, route as Route, url);
  const app =
    platform === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), {
          logger: ['error', 'warn'],
        })
      : await NestFactory.create(module, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  process.stdout.write(`listening ${port}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
