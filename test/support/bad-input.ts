/**
 * Generated bad input: for an entry that is valid as a whole, every field replaced by each of its
 * bad values, then pairs of such replacements drawn by a seeded generator, then entries that are
 * not entries at all. Each case says which fields must be named in the error.
 */

export interface BadCase {
  /** What the case does, for the test's message. */
  label: string;
  input: unknown;
  /** The fields the error must name; `entry` when the input is no entry at all. */
  fields: string[];
}

/** Bad values anywhere a string of a given shape is expected. */
export const BAD_STRINGS: unknown[] = [
  '',
  ' ',
  'x'.repeat(10_000),
  "'; DROP TABLE audit_log; --",
  "' OR '1'='1",
  '\u0000',
  'line\nbreak',
  '<script>alert(1)</script>',
  123,
  -1,
  NaN,
  Infinity,
  true,
  {},
  [],
  ['a'],
  { $ne: null },
];

/** Bad values where a UUID is expected. */
export const BAD_UUIDS: unknown[] = [
  ...BAD_STRINGS,
  'not-a-uuid',
  '00000000-0000-0000-0000-00000000000', // one digit short
  '00000000-0000-0000-0000-0000000000000',
  'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz',
  ' 3f2504e0-4f89-41d3-9a0c-0305e82c3301',
  "3f2504e0-4f89-41d3-9a0c-0305e82c3301' OR '1'='1",
];

/** Bad values where a non-negative PostgreSQL integer is expected. */
export const BAD_COUNTS: unknown[] = [
  -1,
  1.5,
  NaN,
  Infinity,
  -Infinity,
  2_147_483_648,
  1e20,
  Number.MAX_SAFE_INTEGER + 2,
  '100',
  '',
  true,
  {},
  [],
  '1; DROP TABLE llm_usage_log',
];

/** A deterministic generator (mulberry32), so a failing case can be found again. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function show(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 24 ? `${value.slice(0, 24)}…` : value);
  }
  if (typeof value === 'number') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Every single-field replacement of `valid` by `bad[field]`, then `pairs` two-field replacements
 * drawn with `seed`, then `extra` whole-entry cases.
 */
export function badCases(
  valid: Record<string, unknown>,
  bad: Record<string, unknown[]>,
  {
    pairs,
    seed,
    extra = [],
  }: { pairs: number; seed: number; extra?: BadCase[] },
): BadCase[] {
  const singles: BadCase[] = Object.entries(bad).flatMap(([field, values]) =>
    values.map((value) => ({
      label: `${field} = ${show(value)}`,
      input: { ...valid, [field]: value },
      fields: [field],
    })),
  );
  const random = seeded(seed);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const fields = Object.keys(bad);
  const doubles: BadCase[] = [];
  while (doubles.length < pairs) {
    const first = pick(fields);
    const second = pick(fields.filter((field) => field !== first));
    const a = pick(bad[first]);
    const b = pick(bad[second]);
    doubles.push({
      label: `${first} = ${show(a)}, ${second} = ${show(b)}`,
      input: { ...valid, [first]: a, [second]: b },
      fields: [first, second].sort(),
    });
  }
  return [...singles, ...doubles, ...extra];
}

/** Inputs that are not entries: the error names `entry`. */
export const NOT_ENTRIES: BadCase[] = [
  null,
  undefined,
  'entry',
  42,
  true,
  [],
  [{}],
  () => undefined,
].map((input) => ({
  label: `entry = ${show(input)}`,
  input,
  fields: ['entry'],
}));

/** Nesting `depth` levels deep: `{ a: { a: ... } }`. */
export function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}
