import {
  getMetadataStorage,
  type ValidationArguments,
  type ValidationError,
  type ValidatorConstraintInterface,
  ValidationTypes,
  validateSync,
} from 'class-validator';

/** One broken rule of one field of a log entry. */
export interface EntryViolation {
  /** The entry field, e.g. `costUsd`; `entry` when the entry itself is not an object. */
  field: string;
  /** The rule's name, e.g. `isUuid`, `whitelistValidation` (unknown field). */
  rule: string;
  message: string;
}

/**
 * A log entry broke one or more rules. Nothing of it was written. `violations` names every bad
 * field with the rule it broke; values are never echoed, as they may be sensitive.
 */
export class LogEntryValidationError extends Error {
  override readonly name = 'LogEntryValidationError';

  constructor(
    readonly entryType: string,
    readonly violations: readonly EntryViolation[],
  ) {
    super(
      `Invalid ${entryType} entry: ${violations.map((v) => v.message).join('; ')}`,
    );
  }
}

/**
 * A read query broke one or more rules. Nothing was queried. `violations` names every bad field
 * with the rule it broke; values are never echoed.
 */
export class LogQueryError extends Error {
  override readonly name: string = 'LogQueryError';

  constructor(
    /** What was asked, e.g. `usage summary`, `audit trail`. */
    readonly query: string,
    readonly violations: readonly EntryViolation[],
  ) {
    super(
      `Invalid ${query} query: ${[...new Set(violations.map((v) => v.message))].join('; ')}`,
    );
  }
}

function flatten(errors: ValidationError[], prefix = ''): EntryViolation[] {
  return errors.flatMap((error) => {
    const field = `${prefix}${error.property}`;
    const own = Object.entries(error.constraints ?? {}).map(
      ([rule, message]) =>
        rule === 'whitelistValidation'
          ? unknownField(field)
          : { field, rule, message },
    );
    return [...own, ...flatten(error.children ?? [], `${field}.`)];
  });
}

const VALIDATOR_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
} as const;

interface Check {
  property: string;
  constraints: unknown[];
  validateIf?: (object: object, value: unknown) => boolean;
  constraint: ValidatorConstraintInterface;
}

interface PropertyRules {
  property: string;
  conditions: ((object: object, value: unknown) => boolean)[];
  checks: Check[];
}

/** Answers "does this instance pass every rule?" without building errors. */
export type RuleCheck = (instance: object) => boolean;

/**
 * Reads the class-validator rules of `Entry` once, from class-validator's own metadata, into a
 * plain list of (property, conditions, constraint instances). Checking an entry then calls the same
 * constraint `validate` functions `validateSync` calls, in the same order and with the same
 * arguments, without the per-call machinery that makes `validateSync` cost several microseconds a
 * row. Only rule kinds this reading reproduces exactly are accepted (conditional and custom
 * validations, as every built-in decorator is); anything else (`each`, groups, async, nested,
 * `IsDefined`) returns `undefined`, and every entry goes through `validateSync`.
 */
export function compileRuleCheck(
  Entry: new () => object,
): RuleCheck | undefined {
  const storage = getMetadataStorage();
  const metadatas = storage.getTargetValidationMetadatas(
    Entry,
    '',
    false,
    false,
  );
  if (!metadatas.length) return undefined;
  const grouped = storage.groupByPropertyName(metadatas);
  const properties: PropertyRules[] = [];
  for (const [property, list] of Object.entries(grouped)) {
    const rules: PropertyRules = { property, conditions: [], checks: [] };
    for (const metadata of list) {
      if (metadata.each || metadata.groups?.length || metadata.always) {
        return undefined;
      }
      if (metadata.type === ValidationTypes.CONDITIONAL_VALIDATION) {
        rules.conditions.push(
          metadata.constraints[0] as (
            object: object,
            value: unknown,
          ) => boolean,
        );
      } else if (metadata.type === ValidationTypes.CUSTOM_VALIDATION) {
        for (const constraint of storage.getTargetValidatorConstraints(
          metadata.constraintCls,
        )) {
          if (constraint.async) return undefined;
          rules.checks.push({
            property,
            constraints: metadata.constraints,
            validateIf: metadata.validateIf,
            constraint: constraint.instance,
          });
        }
      } else {
        return undefined;
      }
    }
    properties.push(rules);
  }
  const known = new Set(properties.map((p) => p.property));
  const targetName = Entry.name;

  return (instance) => {
    for (const key of Object.keys(instance)) {
      if (!known.has(key)) return false;
    }
    const object = instance as Record<string, unknown>;
    for (const { property, conditions, checks } of properties) {
      const value = object[property];
      if (!conditions.every((condition) => condition(instance, value))) {
        continue;
      }
      for (const check of checks) {
        if (check.validateIf && !check.validateIf(instance, value)) continue;
        const args: ValidationArguments = {
          targetName,
          property,
          object: instance,
          value,
          constraints: check.constraints,
        };
        if (check.constraint.validate(value, args) !== true) return false;
      }
    }
    return true;
  };
}

const ruleChecks = new WeakMap<new () => object, RuleCheck | null>();

function ruleCheckOf(Entry: new () => object): RuleCheck | null {
  let check = ruleChecks.get(Entry);
  if (check === undefined) {
    check = compileRuleCheck(Entry) ?? null;
    ruleChecks.set(Entry, check);
  }
  return check;
}

/** Keys that must never become properties of an instance: validators read `constructor`. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const unknownField = (field: string): EntryViolation => ({
  field,
  rule: 'whitelistValidation',
  message: `${field} is not a field of this entry`,
});

/**
 * An instance of `Entry` holding the caller's own properties. Reserved keys are not copied (so no
 * assignment can reach `__proto__`'s setter or shadow `constructor`); they are returned, to be
 * reported as unknown fields.
 */
export function toEntryInstance<T extends object>(
  Entry: new () => T,
  input: object,
): { instance: T; reserved: string[] } {
  const instance = new Entry();
  const reserved: string[] = [];
  for (const key of Object.keys(input)) {
    if (RESERVED_KEYS.has(key)) {
      reserved.push(key);
      continue;
    }
    (instance as Record<string, unknown>)[key] = (
      input as Record<string, unknown>
    )[key];
  }
  return { instance, reserved };
}

/**
 * Every broken rule of `input` against the decorated class `Entry`, through `validateSync`: unknown
 * fields (reserved keys included) and each rule with its message. Empty when `input` is valid.
 */
export function entryViolations<T extends object>(
  Entry: new () => T,
  input: object,
): { instance: T; violations: EntryViolation[] } {
  const { instance, reserved } = toEntryInstance(Entry, input);
  return {
    instance,
    violations: [
      ...reserved.map(unknownField),
      ...flatten(validateSync(instance, VALIDATOR_OPTIONS)),
    ],
  };
}

/**
 * Every broken rule of a read query against the decorated class `Query`, as {@link entryViolations};
 * an `input` that is not an object is one violation of `query` itself.
 */
export function queryViolations<T extends object>(
  Query: new () => T,
  input: unknown,
): { instance: T; violations: EntryViolation[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      instance: new Query(),
      violations: [
        {
          field: 'query',
          rule: 'isObject',
          message: 'query must be an object',
        },
      ],
    };
  }
  return entryViolations(Query, input);
}

/**
 * Validates a caller's entry against the decorated class `Entry` and returns a validated instance.
 * Unknown fields, `__proto__` and `constructor` included, are errors. An entry that passes the
 * compiled rule check is accepted at once; any other goes through `validateSync`, which names every
 * broken rule.
 *
 * @throws LogEntryValidationError naming every bad field
 */
export function validateEntry<T extends object>(
  Entry: new () => T,
  entryType: string,
  input: unknown,
): T {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new LogEntryValidationError(entryType, [
      { field: 'entry', rule: 'isObject', message: 'entry must be an object' },
    ]);
  }
  const { instance, reserved } = toEntryInstance(Entry, input);
  if (!reserved.length && ruleCheckOf(Entry)?.(instance)) return instance;
  const violations = [
    ...reserved.map(unknownField),
    ...flatten(validateSync(instance, VALIDATOR_OPTIONS)),
  ];
  if (violations.length) {
    throw new LogEntryValidationError(entryType, violations);
  }
  return instance;
}
