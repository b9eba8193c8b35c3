import type { MetadataDeclaration } from './metadata-declaration.js';

/**
 * Canaries for declared identifier patterns: values a pattern should never admit, one set per
 * class of data. A declaration whose pattern admits one promises more than it means (the detectors
 * still refuse such a value when it comes); the module says so once at startup, naming the class
 * and the property, so the host can narrow it.
 *
 * @module
 */

/** Each class of data the canaries stand for, and the canaries. */
export const IDENTIFIER_CANARIES: readonly (readonly [
  string,
  readonly string[],
])[] = [
  ['a PAN', ['ABCPE1234F', 'abcpe1234f']],
  // passes Verhoeff's check, as every Aadhaar number does
  ['an Aadhaar number', ['496858245152', '4968-5824-5152']],
  ['a phone number', ['9876543210', '+919876543210', '98765-43210']],
  [
    'an amount with a currency',
    ['INR150000', 'Rs.150000', '150000INR', 'USD1500.00', 'inr_150000'],
  ],
];

/** A declared identifier whose pattern admits canaries: where, the pattern, the classes admitted. */
export interface LooseIdentifier {
  /** The class and the property, `Class.property` (nested: `Class.outer.inner`). */
  readonly where: string;
  readonly pattern: RegExp;
  readonly admits: readonly string[];
}

/**
 * The identifiers of `declaration` (nested declarations included) declared by a pattern
 * (`@Matches`) that admits a canary of one class or more, within the key's `@MaxLength`.
 */
export function looseIdentifiers(
  declaration: MetadataDeclaration,
): LooseIdentifier[] {
  const found: LooseIdentifier[] = [];
  const walk = (current: MetadataDeclaration, prefix: string) => {
    for (const [key, { field }] of current.keys) {
      const where = `${prefix}.${key}`;
      if (field.kind === 'object') {
        walk(field.declaration, where);
        continue;
      }
      if (field.kind !== 'identifier' || field.pattern === undefined) continue;
      // a fresh copy: a global or sticky pattern's lastIndex must not carry between tests
      const pattern = new RegExp(
        field.pattern.source,
        field.pattern.flags.replace(/[gy]/g, ''),
      );
      const fits = (value: string) =>
        (field.maxLength === undefined || value.length <= field.maxLength) &&
        pattern.test(value);
      const admits = IDENTIFIER_CANARIES.filter(([, values]) =>
        values.some(fits),
      ).map(([name]) => name);
      if (admits.length) found.push({ where, pattern: field.pattern, admits });
    }
  };
  walk(declaration, declaration.name);
  return found;
}

/** The startup warning for one loose identifier. */
export function looseIdentifierWarning(loose: LooseIdentifier): string {
  const admits =
    loose.admits.length === 1
      ? loose.admits[0]
      : `${loose.admits.slice(0, -1).join(', ')} and ${loose.admits.at(-1)}`;
  return (
    `metadata declaration ${loose.where}: its pattern ${String(loose.pattern)} admits ${admits}. ` +
    `The detectors refuse such values when they come, but the declaration promises more than it ` +
    `means: narrow it, with @IsIn([...]) for a fixed set, a prefix pattern such as ` +
    `/^inv_[a-z0-9]{8,16}$/, or @IsUUID()`
  );
}

/**
 * Warns through `logger`, once per declared identifier whose pattern admits a canary, of each of
 * `declarations` (one warning each, however many actions or operations share a declaration).
 */
export function warnLooseIdentifiers(
  logger: { warn(message: string): void },
  table: string,
  declarations: Iterable<MetadataDeclaration>,
): void {
  for (const declaration of new Set(declarations)) {
    for (const loose of looseIdentifiers(declaration)) {
      logger.warn(`${table}: ${looseIdentifierWarning(loose)}`);
    }
  }
}
