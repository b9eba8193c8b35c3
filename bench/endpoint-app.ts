/**
 * The app of bench/endpoint: its variants and routes (see endpoint-server.ts, which serves one per
 * process).
 */
import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
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
import { type Observable, concatMap } from 'rxjs';
import { APP_GUARD } from '@nestjs/core';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import { CmaProject } from '../src/demo/entities/index.js';
import { AuditLog } from '../src/logging/entities/index.js';
import { Audit, LoggingModule } from '../src/logging/index.js';
import { type LogWriterOptions } from '../src/logging/writer/writer.options.js';

export const VARIANTS = [
  'bare',
  'interceptor',
  'als',
  'undecorated',
  'peer',
  'await',
  'buffered',
  'buffered-otel',
  'buffered-otel-off',
] as const;
export type Variant = (typeof VARIANTS)[number];
/** The variants with @Audit on the route; `buffered-otel*` also register an SDK (no-op exporters). */
export const AUDITED: ReadonlySet<Variant> = new Set<Variant>([
  'await',
  'buffered',
  'buffered-otel',
  'buffered-otel-off',
]);
export const ROUTES = ['files', 'projects'] as const;
export type Route = (typeof ROUTES)[number];

interface AuthenticatedRequest {
  headers: Record<string, string | undefined>;
  ip?: string;
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

/**
 * The audit a team writes by hand: after the handler, one `audit_log` row per request through
 * `repository.insert`, awaited before the response. The same row as `@Audit`'s (firm, user,
 * action, entity, IP, outcome), with no batching, no context for the services and no metadata
 * policy.
 */
@Injectable()
class PeerAuditInterceptor implements NestInterceptor {
  constructor(
    @InjectRepository(AuditLog) private readonly rows: Repository<AuditLog>,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    return next.handle().pipe(
      concatMap(async (result: { id?: string }) => {
        await this.rows.insert({
          firmId: request.user!.firmId,
          userId: request.user!.id ?? null,
          action: 'create_project',
          entityType: 'cma_project',
          entityId: result.id ?? null,
          ipAddress: request.ip ?? null,
          metadata: { outcome: 'success' },
        });
        return result;
      }),
    );
  }
}

const storage = new AsyncLocalStorage<object>();
const noop = () => undefined;

/** How each variant decorates the route's controller and handler, and runs the handler's body. */
function variantOf(
  variant: Variant,
  audit: Parameters<typeof Audit>,
): {
  controller: ClassDecorator;
  handler: MethodDecorator;
  body: <T>(run: () => T) => T;
} {
  const audited = AUDITED.has(variant);
  return {
    controller:
      variant === 'interceptor'
        ? UseInterceptors(NoopInterceptor)
        : variant === 'peer'
          ? UseInterceptors(PeerAuditInterceptor)
          : noop,
    handler: audited ? Audit(...audit) : noop,
    // 'als': the handler runs inside AsyncLocalStorage.run and does nothing else with it.
    body: variant === 'als' ? (run) => storage.run({}, run) : (run) => run(),
  };
}

function filesController(variant: Variant): Type {
  const { controller, handler, body } = variantOf(variant, [
    'upload_file',
    'cma_project',
    {
      entityId: { param: 'projectId' },
      metadata: ({ result }) => {
        const file = result as { fileId: string; pages: number };
        return { fileId: file.fileId, pages: file.pages };
      },
    },
  ]);
  @Controller('projects')
  @controller
  class FilesController {
    @Post(':projectId/files')
    @handler
    upload(
      @Param('projectId', ParseUUIDPipe) projectId: string,
      @Body() file: FileBody,
    ) {
      return body(() => upload(projectId, file));
    }
  }
  return FilesController;
}

function projectsController(variant: Variant): Type {
  const { controller, handler, body } = variantOf(variant, [
    'create_project',
    'cma_project',
  ]);
  @Controller('projects')
  @controller
  class ProjectsController {
    constructor(
      @InjectRepository(CmaProject)
      private readonly projects: Repository<CmaProject>,
    ) {}

    @Post()
    @handler
    create(
      @Req() request: AuthenticatedRequest,
      @Body() project: { name?: unknown },
    ) {
      return body(async () => {
        if (typeof project.name !== 'string' || project.name.length === 0) {
          throw new BadRequestException('name is required');
        }
        const { identifiers } = await this.projects.insert({
          firmId: request.user!.firmId,
          name: project.name,
        });
        return { id: identifiers[0].id as string, name: project.name };
      });
    }
  }
  return ProjectsController;
}

const CONTROLLERS: Record<Route, (variant: Variant) => Type> = {
  files: filesController,
  projects: projectsController,
};

/** Whether the variant's app imports LoggingModule: the audited ones and `undecorated`. */
export const hasLoggingModule = (variant: Variant) =>
  AUDITED.has(variant) || variant === 'undecorated';

@Module({})
export class BenchAppModule {
  static for(variant: Variant, route: Route, url: string): DynamicModule {
    const withModule = hasLoggingModule(variant);
    const database =
      route === 'projects' || withModule || variant === 'peer'
        ? [
            TypeOrmModule.forRoot(demoDataSourceOptions(url)),
            TypeOrmModule.forFeature([CmaProject, AuditLog]),
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
                ...(variant === 'buffered-otel-off'
                  ? { telemetry: { enabled: false } }
                  : {}),
              }),
            ]),
      ],
      controllers: [CONTROLLERS[route](variant)],
      providers: [{ provide: APP_GUARD, useClass: HeaderAuthGuard }],
    };
  }
}
