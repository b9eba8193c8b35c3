import {
  type CallHandler,
  Controller,
  type ExecutionContext,
  Post,
  SetMetadata,
  type Type,
} from '@nestjs/common';
import { of } from 'rxjs';
import {
  Audit,
  AuditConfigurationError,
  AuditInterceptor,
} from '../src/logging/index.js';
import { captureLogs } from './support/logs.js';
import { loggingModuleRef } from './support/logging-app.js';
import { databaseSuite } from './support/suite.js';
import { plainUuid } from './support/ids.js';

/**
 * Which binding audits, and what stops the application at startup: `@Audit` of another installed
 * copy of the package, and `audit.global`, which mounts nothing.
 */

/** The metadata key every copy of the package shares, and the key of the copy's mark. */
const AUDIT_KEY = 'cma-logging:audit';
const SPEC_COPY = Symbol.for('cma-logging:audit-copy');
const ELSEWHERE =
  '/srv/app/node_modules/reports-lib/node_modules/@cma/logging/';

/** A spec as another copy's `@Audit` stores it: marked with that copy, or unmarked (an earlier version). */
function specOfAnotherCopy(action: string, loadedFrom?: string): object {
  const spec = { action, entityType: 'report', entityId: { result: 'id' } };
  if (loadedFrom !== undefined) {
    Object.defineProperty(spec, SPEC_COPY, {
      value: Object.freeze({ loadedFrom }),
    });
  }
  return Object.freeze(spec);
}

/** A library's controller, audited by the library's own copy of the package. */
@Controller('library')
class LibraryController {
  @Post('export')
  @SetMetadata(AUDIT_KEY, specOfAnotherCopy('export_report', ELSEWHERE))
  export() {
    return { id: plainUuid() };
  }

  @Post('view')
  @SetMetadata(AUDIT_KEY, specOfAnotherCopy('view_report'))
  view() {
    return { id: plainUuid() };
  }
}

/** The application's own controller, audited by this copy. */
@Controller('reports')
class ReportsController {
  @Post()
  @Audit('create_report', 'report')
  create() {
    return { id: plainUuid() };
  }
}

describe('one copy of the package, one binding', () => {
  const suite = databaseSuite();

  it("refuses to start an application whose handlers carry another copy's @Audit, naming each and both copies", async () => {
    const moduleRef = await loggingModuleRef(
      suite.url,
      {},
      { controllers: [ReportsController, LibraryController] },
    );
    suite.own(moduleRef);
    const boot = moduleRef.init();
    await expect(boot).rejects.toThrow(AuditConfigurationError);
    const { message } = (await boot.catch((error: Error) => error)) as Error;
    expect(message).toContain(
      `@Audit('export_report') on LibraryController.export (loaded from ${ELSEWHERE})`,
    );
    expect(message).toContain(
      "@Audit('view_report') on LibraryController.view (an earlier version)",
    );
    expect(message).toMatch(
      /another copy of @cma\/logging than this LoggingModule \(loaded from \/.+\/logging\/\)/,
    );
    expect(message).toContain('install one');
    expect(message).not.toContain('create_report');
  });

  it("leaves a call under another copy's @Audit to that copy, untouched", async () => {
    const moduleRef = await loggingModuleRef(suite.url);
    suite.own(moduleRef);
    const interceptor = moduleRef.get(AuditInterceptor);
    const handler = Object.getOwnPropertyDescriptor(
      LibraryController.prototype,
      'export',
    )!.value as () => unknown;
    const context = {
      getHandler: () => handler,
      getClass: <T>() => LibraryController as Type<T>,
      getType: <T extends string>() => 'http' as T,
      getArgs: <T extends unknown[]>() => [] as unknown as T,
    } as unknown as ExecutionContext;
    const answer = of({ id: plainUuid() });
    const next: CallHandler = { handle: () => answer };
    expect(interceptor.intercept(context, next)).toBe(answer);
  });

  it('starts with audit.global, mounting nothing, and says so once', async () => {
    const moduleRef = await loggingModuleRef(
      suite.url,
      { audit: { global: true } },
      { controllers: [ReportsController] },
    );
    suite.own(moduleRef);
    const logs = captureLogs(moduleRef);
    await moduleRef.init();
    expect(logs.warn.filter((line) => line.includes('audit.global'))).toEqual([
      expect.stringContaining(
        'audit.global: true mounts nothing: @Audit binds AuditInterceptor wherever it is used',
      ),
    ]);
  });
});
