/**
 * Checks for the module's options at startup: `optionCheck('writer')` returns a function that
 * throws `LoggingModule option writer.<field> must be <rule>` when its condition fails.
 */
export function optionCheck(
  prefix: string,
): (ok: boolean, field: string, rule: string) => void {
  return (ok, field, rule) => {
    if (!ok) {
      throw new Error(
        `LoggingModule option ${prefix}.${field} must be ${rule}`,
      );
    }
  };
}

/** A safe integer from `min` to `max`. */
export const isIntegerIn = (
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): boolean =>
  typeof value === 'number' &&
  Number.isSafeInteger(value) &&
  value >= min &&
  value <= max;
