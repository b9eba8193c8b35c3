import { ValidateBy, type ValidationOptions } from 'class-validator';
import { COST_USD_PRECISION, COST_USD_SCALE } from './logging.constants.js';
import { detectIdentity } from './sensitive-values.js';

/** PostgreSQL INTEGER's upper bound. */
export const PG_INTEGER_MAX = 2_147_483_647;

const INTEGER_DIGITS = COST_USD_PRECISION - COST_USD_SCALE;
const COST_PATTERN = new RegExp(
  `^\\d{1,${INTEGER_DIGITS}}(\\.\\d{1,${COST_USD_SCALE}})?$`,
);

/**
 * The exact decimal string of a cost that fits NUMERIC(10,6), or `undefined` if it does not: a
 * string like `'0.000124'`, or a finite non-negative number whose shortest decimal form fits
 * (`0.000124` does; `0.1 + 0.2` has 17 fractional digits and does not; `1e-7` does not).
 */
export function costUsdToDecimal(value: unknown): string | undefined {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isFinite(value))
    text = String(value);
  else return undefined;
  return COST_PATTERN.test(text) ? text : undefined;
}

/** A cost in USD that fits NUMERIC(10,6) exactly, given as a decimal string or a number. */
export function IsCostUsd(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCostUsd',
      validator: {
        validate: (value) => costUsdToDecimal(value) !== undefined,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be a non-negative decimal that fits NUMERIC(${COST_USD_PRECISION},${COST_USD_SCALE}) ` +
          `(at most ${INTEGER_DIGITS} integer and ${COST_USD_SCALE} fractional digits), ` +
          `as a string like '0.000124' or a number`,
      },
    },
    options,
  );
}

/**
 * The last object the metadata policy built and measured: the rule below need not serialize it
 * again. One slot suffices, because a measured object is validated in the same synchronous call
 * that built it; anything else is measured as usual. Internal to the module.
 */
let measured: object | undefined;

/** Marks an object the module just built and measured as within every JSON size bound. */
export function markMeasuredJson<T extends object>(value: T): T {
  measured = value;
  return value;
}

/** A JSON object (not an array) whose JSON text is at most `maxBytes` bytes. */
export function IsBoundedJsonObject(
  maxBytes: number,
  options?: ValidationOptions,
): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isBoundedJsonObject',
      constraints: [maxBytes],
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'object' || value === null) return false;
          if (Array.isArray(value)) return false;
          if (value === measured) {
            measured = undefined;
            return true;
          }
          try {
            const json = JSON.stringify(value);
            return Buffer.byteLength(json, 'utf8') <= maxBytes;
          } catch {
            return false; // cycles, BigInt
          }
        },
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be a JSON object of at most ${maxBytes} bytes`,
      },
    },
    options,
  );
}

const INSTANT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/**
 * The instant `value` names, or `undefined`: a valid `Date`, or an ISO 8601 string that is either a
 * calendar date (`'2026-03-01'`, midnight UTC) or a date-time with a time zone (`Z` or an offset)
 * and at most millisecond precision. Impossible dates such as `'2026-02-30'` are refused.
 */
export function toInstant(value: unknown): Date | undefined {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value;
  }
  if (typeof value !== 'string') return undefined;
  const match = INSTANT_PATTERN.exec(value);
  if (!match) return undefined;
  const [year, month, day] = match.slice(1, 4).map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (
    calendar.getUTCFullYear() !== year ||
    calendar.getUTCMonth() !== month - 1 ||
    calendar.getUTCDate() !== day
  ) {
    return undefined;
  }
  const instant = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  return Number.isNaN(instant.getTime()) ? undefined : instant;
}

/** A `Date` or an ISO 8601 date or zoned date-time string; see {@link toInstant}. */
export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value) => toInstant(value) !== undefined,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be a valid Date or an ISO 8601 date ('2026-03-01', midnight UTC) ` +
          `or date-time with a time zone ('2026-03-01T09:30:00Z'), at most millisecond precision`,
      },
    },
    options,
  );
}

/**
 * An instant strictly later than the instant in the sibling property `earlier`. Passes when either
 * is missing or not an instant: those are other rules' errors.
 */
export function IsLaterThan(
  earlier: string,
  options?: ValidationOptions,
): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isLaterThan',
      constraints: [earlier],
      validator: {
        validate: (value, args) => {
          const end = toInstant(value);
          const start = toInstant(
            (args?.object as Record<string, unknown> | undefined)?.[earlier],
          );
          return !end || !start || start.getTime() < end.getTime();
        },
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be later than ${earlier}`,
      },
    },
    options,
  );
}

/** How each kind of identity data is named in messages. */
const IDENTITY_NAMES: Record<string, string> = {
  pan: 'a PAN',
  tan: 'a TAN',
  gstin: 'a GSTIN',
  ifsc: 'an IFSC',
  email: 'an e-mail address',
  aadhaar: 'an Aadhaar number',
  card: 'a card number',
  phone: 'a phone number',
  long_number: 'an identity number (Aadhaar, card, phone or account)',
};

/** What identity data `text` reads as (`'a PAN'`, ...), or null when it holds none. */
export function identityIn(text: string): string | null {
  const kind = detectIdentity(text);
  return kind === null ? null : (IDENTITY_NAMES[kind] ?? 'identity data');
}

/**
 * A reference (an action, an entity type, an idempotency key) that holds no identity data
 * (`detectIdentity`): such columns are stored as given and indexed, so `kyc:ABCPE1234F` would put
 * a PAN in the trail. The message names the field and what the value reads as, never the value.
 */
export function HoldsNoIdentity(
  options?: ValidationOptions,
): PropertyDecorator {
  return ValidateBy(
    {
      name: 'holdsNoIdentity',
      validator: {
        validate: (value) =>
          typeof value !== 'string' || identityIn(value) === null,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must hold no identity data; it reads as ` +
          `${(typeof args?.value === 'string' && identityIn(args.value)) || 'identity data'}: ` +
          `use a reference to it (an id), not the value`,
      },
    },
    options,
  );
}
