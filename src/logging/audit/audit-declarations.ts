import type { Type } from '@nestjs/common';
import type {
  DiscoveryService,
  MetadataScanner,
  Reflector,
} from '@nestjs/core';
import { AUDIT_KEY, type AuditSpec } from './audit-spec.js';
import {
  type MetadataDeclaration,
  metadataDeclaration,
} from '../core/metadata-declaration.js';

/** An audited action found at startup, and where. */
export interface AuditedAction {
  readonly spec: AuditSpec;
  readonly action: string;
  readonly metadataClass?: Type;
  /** `Controller.handler`, or `Controller` for a class-level `@Audit`. */
  readonly where: string;
}

/**
 * The declarations of metadata per action: from `audit.actions` and from `@Audit(..., {
 * metadataClass })`. One action has one declaration: two different classes for the same action
 * are refused at startup, naming both places.
 */
export class ActionDeclarations {
  private readonly byAction = new Map<
    string,
    { type: Type; declaration: MetadataDeclaration; where: string }
  >();

  add(action: string, type: Type, where: string): void {
    const known = this.byAction.get(action);
    if (known && known.type !== type) {
      throw new TypeError(
        `audit action '${action}' has two metadata declarations, ${known.type.name} (${known.where}) ` +
          `and ${type.name} (${where}); give every use of an action the same class`,
      );
    }
    if (!known) {
      this.byAction.set(action, {
        type,
        declaration: metadataDeclaration(type),
        where,
      });
    }
  }

  get(action: unknown): MetadataDeclaration | undefined {
    return typeof action === 'string'
      ? this.byAction.get(action)?.declaration
      : undefined;
  }

  has(action: string): boolean {
    return this.byAction.has(action);
  }

  /** Every action's declaration (`warnLooseIdentifiers` takes each once). */
  all(): MetadataDeclaration[] {
    return [...this.byAction.values()].map((d) => d.declaration);
  }
}

/** A method `@Audit` covers, by its own decorator or its class's. */
export interface AuditedMethod {
  readonly spec: AuditSpec;
  /** `Controller.method`. */
  readonly where: string;
  /** The method itself, which carries its transport's metadata. */
  readonly method: object;
}

/** What `@Audit` marks in an application. */
export interface AuditedApplication {
  /** Every `@Audit`, once: on classes and on methods. */
  readonly actions: AuditedAction[];
  /** Every method an `@Audit` covers (its own or its class's, unless `@SkipAudit`). */
  readonly methods: AuditedMethod[];
}

/**
 * Every `@Audit` of the application's controllers and providers (gateways, resolvers), and the
 * methods it covers, read through Nest's public `DiscoveryService`, `MetadataScanner` and
 * `Reflector`: on handlers and on classes, inherited ones included.
 */
export function discoverAudited(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  reflector: Reflector,
): AuditedApplication {
  const actions: AuditedAction[] = [];
  const methods: AuditedMethod[] = [];
  const seen = new Set<object>();
  for (const wrapper of [
    ...discovery.getControllers(),
    ...discovery.getProviders(),
  ]) {
    const type = wrapper.metatype as Type | null | undefined;
    if (typeof type !== 'function' || seen.has(type) || !type.prototype)
      continue;
    seen.add(type);
    const own = reflector.get<AuditSpec | false | undefined>(AUDIT_KEY, type);
    if (own) actions.push(describe(own, type.name));
    const prototype = type.prototype as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const method = prototype[name];
      if (typeof method !== 'function') continue;
      const spec = reflector.get<AuditSpec | false | undefined>(
        AUDIT_KEY,
        method as Type,
      );
      const where = `${type.name}.${name}`;
      if (spec && spec !== own) actions.push(describe(spec, where));
      const applied = spec ?? own;
      if (applied) methods.push({ spec: applied, where, method });
    }
  }
  return { actions, methods };
}

function describe(spec: AuditSpec, where: string): AuditedAction {
  return {
    spec,
    action: spec.action,
    metadataClass: spec.metadataClass,
    where,
  };
}
