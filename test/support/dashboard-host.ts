import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  Header,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { DashboardViewer } from '../../src/logging/dashboard/index.js';
import type { HostExtras } from './dashboard-app.js';

/**
 * A host that authenticates by header only, as an app holding bearer tokens in the browser does:
 * a global guard refuses (401) any request without a known `Authorization: Bearer <token>`, except
 * its public paths (its own files, the dashboard's page and files); the dashboard's `authorize`
 * maps the token to a viewer; the page sends the token through the host's `clientAuth` module,
 * which reads it from `sessionStorage`.
 */
export class HeaderHost {
  /** Tokens the host's guard admits, with the viewer each is (null: admitted, no dashboard). */
  readonly tokens = new Map<string, DashboardViewer | null>();
  /** Every request's path and token as the host's guard saw them. */
  readonly seen: { path: string; token: string | null }[] = [];

  constructor(readonly dashboardPath: string) {}

  /** The `Bearer` token of a request, if any. */
  static token(request: unknown): string | null {
    const header = (request as { headers: Record<string, unknown> }).headers
      .authorization;
    if (typeof header !== 'string') return null;
    const [, token] = /^Bearer (\S+)$/.exec(header) ?? [];
    return token ?? null;
  }

  /** The dashboard's `authorize`: the viewer of the request's token, or none. */
  readonly authorize = (request: unknown): DashboardViewer | null =>
    this.tokens.get(HeaderHost.token(request) ?? '') ?? null;

  /** The dashboard's `clientAuth` option. */
  readonly clientAuth = { module: '/host/dashboard-auth.js' };

  /** The host's controller and its global guard. */
  extras(): HostExtras {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const host = this;
    const shell = new RegExp(
      `^/${host.dashboardPath}(/|/assets/[^/]+)?$|^/host/`,
    );

    @Injectable()
    class HostAuthGuard implements CanActivate {
      canActivate(context: ExecutionContext): boolean {
        const request = context.switchToHttp().getRequest<{ url: string }>();
        const path = new URL(request.url, 'http://host').pathname;
        const token = HeaderHost.token(request);
        host.seen.push({ path, token });
        if (shell.test(path)) return true;
        if (token && host.tokens.has(token)) return true;
        throw new UnauthorizedException('Sign in: a bearer token is required');
      }
    }

    @Controller('host')
    class HostFilesController {
      /** The page's `clientAuth` module: the token the host's app keeps in sessionStorage. */
      @Get('dashboard-auth.js')
      @Header('Content-Type', 'text/javascript; charset=utf-8')
      module(): string {
        return [
          'export function requestHeaders() {',
          "  const token = sessionStorage.getItem('token');",
          '  return token ? { authorization: `Bearer ${token}` } : {};',
          '}',
          '',
        ].join('\n');
      }
    }

    return {
      controllers: [HostFilesController],
      providers: [{ provide: APP_GUARD, useClass: HostAuthGuard }],
    };
  }
}
