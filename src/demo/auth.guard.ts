import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { isUUID } from 'class-validator';

/** What the demo's authentication leaves on the request, as a host's JWT guard would. */
export interface DemoUser {
  id: string;
  firmId: string;
}

/**
 * The demo host's stand-in for authentication: the firm and user come from the `x-firm-id` and
 * `x-user-id` headers (UUIDs). A real host puts its JWT or session guard here; `@Audit` reads
 * `request.user.firmId` and `request.user.id` either way.
 */
@Injectable()
export class DemoAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{
      headers: Record<string, string | string[] | undefined>;
      user?: DemoUser;
    }>();
    const firmId = request.headers['x-firm-id'];
    const userId = request.headers['x-user-id'];
    if (
      typeof firmId !== 'string' ||
      typeof userId !== 'string' ||
      !isUUID(firmId, 'all') ||
      !isUUID(userId, 'all')
    ) {
      throw new UnauthorizedException(
        'x-firm-id and x-user-id headers (UUIDs) are required',
      );
    }
    request.user = { id: userId, firmId };
    return true;
  }
}
