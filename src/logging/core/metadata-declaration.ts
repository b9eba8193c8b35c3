import type { Type } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { detectSensitive } from './sensitive-values.js';

/**
 * Declarations of the metadata an action may store: a class whose properties carry class-validator
 * decorators, each property one key of one kind. Read once, at startup, through class-validator's
 * public metadata storage; a rule that does not make a kind is refused then, naming the class,
 * the property and the fix.
 *
 * | kind | decorators |
 * | --- | --- |
 * | UUID | `@IsUUID()` |
 * | identifier from a set | `@IsIn(['pdf', 'xlsx'])` |
 * | identifier of a pattern | `@Matches(/^inv_[a-z0-9]+$/)`, optionally `@MaxLength(n)` |
 * | count | `@IsInt() @Max(n)`, optionally `@Min(m)` with `m >= 0` |
 * | boolean | `@IsBoolean()` |
 * | object of those | `@ValidateNested()` on a property typed with another such class |
 * | array of a kind | `@IsArray()`, the kind's decorator with `{ each: true }`, optionally `@ArrayMaxSize(n)` |
 *
 * `@IsOptional()`, `@IsString()`, `@IsNotEmpty()` and `@IsDefined()` may stand beside a kind; any
 * other rule is refused, since the policy could not keep the promise it makes.
 *
 * @module
 */

/** The kind of one declared key. */
export type DeclaredField =
  | { readonly kind: 'uuid' }
  | {
      readonly kind: 'identifier';
      readonly oneOf?: ReadonlySet<string>;
      readonly pattern?: RegExp;
      readonly maxLength?: number;
    }
  | { readonly kind: 'count'; readonly min: number; readonly max: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'object'; readonly declaration: MetadataDeclaration };

/** One declared key: its kind, and whether it holds an array of that kind. */
export interface DeclaredKey {
  readonly field: DeclaredField;
  /** Set for an array: its largest length (the policy's `maxArrayLength` at most). */
  readonly array?: { readonly maxItems?: number };
}

/** The metadata an action may store, read from a declaration class. */
export interface MetadataDeclaration {
  /** The class's name, for messages. */
  readonly name: string;
  readonly keys: ReadonlyMap<string, DeclaredKey>;
}

const KINDS = new Set(['isUuid', 'isIn', 'matches', 'isInt', 'isBoolean']);
const REDUNDANT = new Set(['isString', 'isNotEmpty', 'isDefined']);
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.:-]*$/;
const KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

const compiledClasses = new WeakMap<object, MetadataDeclaration>();

/**
 * The declaration of `type`, read from its class-validator decorators (and cached).
 *
 * @throws TypeError naming the class, the property and the rule, for a class that declares no key,
 *   a property without a kind, a count without `@Max`, a rule the policy cannot honour
 */
export function metadataDeclaration(
  type: Type | MetadataDeclaration,
): MetadataDeclaration {
  if (typeof type !== 'function') return type;
  return compile(type, []);
}

function compile(type: Type, seen: Type[]): MetadataDeclaration {
  const known = compiledClasses.get(type);
  if (known) return known;
  const name = type.name || 'anonymous class';
  const fail = (rule: string, property?: string): never => {
    throw new TypeError(
      `metadata declaration ${name}${property ? `.${property}` : ''}: ${rule}`,
    );
  };
  if (seen.includes(type)) fail('a nested declaration refers back to itself');
  const rules = getMetadataStorage().getTargetValidationMetadatas(
    type,
    '',
    true,
    false,
  );
  const byProperty = new Map<string, typeof rules>();
  for (const rule of rules) {
    const list = byProperty.get(rule.propertyName) ?? [];
    list.push(rule);
    byProperty.set(rule.propertyName, list);
  }
  if (byProperty.size === 0) {
    fail('declares no key (decorate each property with class-validator)');
  }
  const keys = new Map<string, DeclaredKey>();
  for (const [property, list] of byProperty) {
    if (!KEY.test(property) || detectSensitive(property) !== null) {
      fail(
        'a key must be a letter, then letters, digits or underscores, and no identity number',
        property,
      );
    }
    const named = new Map<string, { constraints: unknown[]; each: boolean }>();
    let nested = false;
    for (const rule of list) {
      if (rule.type === 'conditionalValidation') continue; // @IsOptional()
      if (rule.type === 'nestedValidation') {
        nested = true;
        continue;
      }
      const ruleName = rule.type === 'customValidation' ? rule.name : rule.type;
      if (ruleName === undefined || !isSupported(ruleName)) {
        fail(
          `@${ruleName ?? rule.type} is not a rule the metadata policy can keep; use ${supported()}`,
          property,
        );
      }
      named.set(ruleName!, {
        constraints: (rule.constraints ?? []) as unknown[],
        each: rule.each === true,
      });
    }
    const kinds = [...named.keys()].filter((k) => KINDS.has(k));
    if (kinds.length + (nested ? 1 : 0) !== 1) {
      fail(`needs exactly one kind: ${supported()}`, property);
    }
    const constraint = (rule: string) => named.get(rule)?.constraints[0];
    let field: DeclaredField;
    switch (nested ? 'nested' : kinds[0]) {
      case 'nested': {
        const nestedType = Reflect.getMetadata(
          'design:type',
          type.prototype as object,
          property,
        ) as unknown;
        if (
          typeof nestedType !== 'function' ||
          nestedType === Array ||
          nestedType === Object
        ) {
          fail(
            '@ValidateNested() needs the property typed with a declaration class (arrays of objects are not supported)',
            property,
          );
        }
        field = {
          kind: 'object',
          declaration: compile(nestedType as Type, [...seen, type]),
        };
        break;
      }
      case 'isUuid':
        field = { kind: 'uuid' };
        break;
      case 'isIn': {
        const values = constraint('isIn');
        if (
          !Array.isArray(values) ||
          values.length === 0 ||
          !values.every(
            (v) =>
              typeof v === 'string' &&
              IDENTIFIER.test(v) &&
              v.length <= 64 &&
              detectSensitive(v) === null,
          )
        ) {
          fail(
            '@IsIn() takes identifiers (a letter, then letters, digits or . _ : -), none of them an identity number or an amount',
            property,
          );
        }
        field = {
          kind: 'identifier',
          oneOf: new Set(values as string[]),
          maxLength: maxLength(named, fail, property),
        };
        break;
      }
      case 'matches': {
        const [pattern, modifiers] = named.get('matches')!.constraints;
        const regex =
          pattern instanceof RegExp
            ? pattern
            : new RegExp(
                String(pattern),
                typeof modifiers === 'string' ? modifiers : undefined,
              );
        field = {
          kind: 'identifier',
          pattern: new RegExp(regex.source, regex.flags.replace(/[gy]/g, '')),
          maxLength: maxLength(named, fail, property),
        };
        break;
      }
      case 'isInt': {
        const max = constraint('max');
        const min = constraint('min') ?? 0;
        if (typeof max !== 'number' || !Number.isSafeInteger(max)) {
          fail('a count needs a declared maximum: add @Max(n)', property);
        }
        if (
          typeof min !== 'number' ||
          !Number.isSafeInteger(min) ||
          min < 0 ||
          min > (max as number)
        ) {
          fail(
            '@Min() of a count must be an integer from 0 to its @Max()',
            property,
          );
        }
        field = { kind: 'count', min: min as number, max: max as number };
        break;
      }
      default:
        field = { kind: 'boolean' };
    }
    const each = [...named.values()].some((r) => r.each);
    if (named.has('isArray') || named.has('arrayMaxSize') || each) {
      if (field.kind === 'object')
        fail('arrays of objects are not supported', property);
      const maxItems = constraint('arrayMaxSize');
      if (
        maxItems !== undefined &&
        !(
          typeof maxItems === 'number' &&
          Number.isSafeInteger(maxItems) &&
          maxItems >= 0
        )
      ) {
        fail('@ArrayMaxSize() must be a non-negative integer', property);
      }
      keys.set(property, {
        field,
        array: { maxItems: maxItems as number | undefined },
      });
    } else {
      keys.set(property, { field });
    }
  }
  const declaration: MetadataDeclaration = Object.freeze({ name, keys });
  compiledClasses.set(type, declaration);
  return declaration;
}

function isSupported(rule: string): boolean {
  return (
    KINDS.has(rule) ||
    REDUNDANT.has(rule) ||
    ['max', 'min', 'maxLength', 'isArray', 'arrayMaxSize'].includes(rule)
  );
}

function supported(): string {
  return '@IsUUID(), @IsIn([...]), @Matches(/.../) with @MaxLength(n), @IsInt() with @Max(n) and @Min(m), @IsBoolean(), @ValidateNested(), and @IsArray() with @ArrayMaxSize(n) and { each: true }';
}

function maxLength(
  named: Map<string, { constraints: unknown[] }>,
  fail: (rule: string, property?: string) => never,
  property: string,
): number | undefined {
  const value = named.get('maxLength')?.constraints[0];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail('@MaxLength() must be a positive integer', property);
  }
  return value;
}
