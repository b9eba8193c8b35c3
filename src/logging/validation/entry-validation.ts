import { type ValidationError, validateSync } from 'class-validator';

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

function flatten(errors: ValidationError[], prefix = ''): EntryViolation[] {
  return errors.flatMap((error) => {
    const field = `${prefix}${error.property}`;
    const own = Object.entries(error.constraints ?? {}).map(
      ([rule, message]) => ({
        field,
        rule,
        message:
          rule === 'whitelistValidation'
            ? `${field} is not a field of this entry`
            : message,
      }),
    );
    return [...own, ...flatten(error.children ?? [], `${field}.`)];
  });
}

/**
 * Validates a caller's entry against the decorated class `Entry` and returns a validated instance.
 * Unknown fields are errors. Own properties are copied with `defineProperty`, so a `__proto__` key
 * is an unknown field, never a prototype.
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
  const instance = new Entry();
  for (const key of Object.keys(input)) {
    Object.defineProperty(instance, key, {
      value: (input as Record<string, unknown>)[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  if (errors.length) {
    throw new LogEntryValidationError(entryType, flatten(errors));
  }
  return instance;
}
