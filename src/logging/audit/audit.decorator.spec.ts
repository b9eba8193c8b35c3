import 'reflect-metadata';
import { Reflector } from '@nestjs/core';
import { AUDIT_KEY, Audit, SkipAudit } from './audit.decorator.js';
import {
  AuditControllerInterceptor,
  AuditInterceptor,
} from './audit.interceptor.js';

/** Applies `decorator` to `Target.prototype.key` as TypeScript would, keeping the descriptor. */
function decorate(
  Target: { prototype: object },
  key: string,
  decorator: MethodDecorator,
): void {
  const descriptor = Object.getOwnPropertyDescriptor(Target.prototype, key)!;
  const result = decorator(Target.prototype, key, descriptor);
  if (result) Object.defineProperty(Target.prototype, key, result);
}

/** `Target.prototype[key]`, the method itself. */
function methodOf(Target: { prototype: object }, key: string): object {
  return Object.getOwnPropertyDescriptor(Target.prototype, key)!
    .value as object;
}

/** Every value stored on `target` under any metadata key. */
function metadataValues(target: object): unknown[] {
  return Reflect.getOwnMetadataKeys(target).map(
    (key) => Reflect.getOwnMetadata(key, target) as unknown,
  );
}

describe('@Audit and @SkipAudit', () => {
  it('store metadata and bind AuditInterceptor (on a controller, its subclass), and leave the class and its methods as written', () => {
    class Projects {
      create(name: string) {
        return { name };
      }
    }
    const original = methodOf(Projects, 'create');
    const names = Object.getOwnPropertyNames(Projects.prototype);
    decorate(Projects, 'create', Audit('create_project', 'cma_project'));
    Audit('view_project', 'cma_project')(Projects);

    expect(methodOf(Projects, 'create')).toBe(original);
    expect(Object.getOwnPropertyNames(Projects.prototype)).toEqual(names);
    expect(Object.getOwnPropertySymbols(Projects.prototype)).toEqual([]);
    expect(Object.getOwnPropertySymbols(Projects)).toEqual([]);
    expect(new Projects().create('a')).toEqual({ name: 'a' });
    expect(metadataValues(original)).toContainEqual([AuditInterceptor]);
    expect(metadataValues(Projects)).toContainEqual([
      AuditControllerInterceptor,
    ]);
  });

  it("give the handler's own decorator precedence over the class's through Reflector.getAllAndOverride", () => {
    class Reports {
      show() {}
      export() {}
      preview() {}
    }
    Audit('view_report', 'report')(Reports);
    decorate(Reports, 'export', Audit('export_report', 'report'));
    decorate(Reports, 'preview', SkipAudit());
    const reflector = new Reflector();
    const spec = (key: 'show' | 'export' | 'preview') =>
      reflector.getAllAndOverride<unknown>(AUDIT_KEY, [
        methodOf(Reports, key) as () => void,
        Reports,
      ]);
    expect(spec('show')).toMatchObject({ action: 'view_report' });
    expect(spec('export')).toMatchObject({ action: 'export_report' });
    expect(spec('preview')).toBe(false);
  });

  it('pass the options through whole, the entity id defaulted', () => {
    class Files {
      upload() {}
    }
    const metadata = () => ({ pages: 1 });
    const options = { metadata, declared: { pages: 'count' } };
    decorate(Files, 'upload', Audit('upload_file', 'cma_project', options));
    expect(Reflect.getMetadata(AUDIT_KEY, methodOf(Files, 'upload'))).toEqual({
      action: 'upload_file',
      entityType: 'cma_project',
      entityId: { result: 'id' },
      metadata,
      declared: { pages: 'count' },
    });
  });

  it.each([
    ['@Audit twice', [Audit('a', 'b'), Audit('c', 'd')]],
    ['@SkipAudit under @Audit', [SkipAudit(), Audit('a', 'b')]],
    ['@Audit under @SkipAudit', [Audit('a', 'b'), SkipAudit()]],
  ])(
    'refuse %s on one handler, which would silently replace one',
    (_, [top, bottom]) => {
      class Twice {
        run() {}
      }
      decorate(Twice, 'run', bottom);
      expect(() => decorate(Twice, 'run', top)).toThrow(
        /on Twice\.run: it already has @Audit or @SkipAudit; keep one$/,
      );
    },
  );

  it.each([
    [
      () => Audit('Create', 'cma_project'),
      /action must be a lowercase identifier/,
    ],
    [
      () => Audit('create', 'cma-project'),
      /entityType must be a lowercase identifier/,
    ],
    [
      () => Audit('create', 'project', { entityId: { body: 'id' } } as never),
      /options.entityId must be/,
    ],
    [
      () => Audit('create', 'project', { metadata: 'pages' } as never),
      /options.metadata must be a function/,
    ],
  ])('check their arguments when applied (%#)', (make, message) => {
    expect(make).toThrow(message);
  });
});
