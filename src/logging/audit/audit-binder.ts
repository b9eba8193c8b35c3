import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { AUDIT_RUNNER, hasAuditedHandlers } from './audit-handler.js';
import { AuditRunner } from './audit-runner.js';

/**
 * Hands the application's `AuditRunner` to every controller with `@Audit` handlers, which find it
 * there on each request. A controller of the default scope gets it on its instance, so that two
 * applications in one process keep their own; a request-scoped one, on its prototype.
 */
@Injectable()
export class AuditBinder implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly runner: AuditRunner,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype;
      if (!controller || !hasAuditedHandlers(controller as never)) continue;
      const instance = wrapper.isDependencyTreeStatic()
        ? (wrapper.instance as object | undefined)
        : undefined;
      Object.defineProperty(
        instance ?? (controller.prototype as object),
        AUDIT_RUNNER,
        { value: this.runner, configurable: true },
      );
    }
  }
}
