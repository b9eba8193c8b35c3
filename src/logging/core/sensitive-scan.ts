import { AMOUNT_PATTERNS } from './sensitive-amounts.js';
import {
  CODE_HINT,
  eachCode,
  mayHoldId,
  ID_TOKENS,
  SPACED_CODES,
  scanId,
  spacedAsWritten,
  squeezedCodes,
} from './sensitive-codes.js';
import { scanEmails } from './sensitive-emails.js';
import {
  type Found,
  type ScanMode,
  SEP,
  type SensitiveKind,
  every,
} from './sensitive-kind.js';
import {
  dateGroups,
  identityInGroups,
  isDateTime,
  isEpochTime,
  isIpv4,
  timeGroups,
} from './sensitive-numbers.js';
import {
  decodedTokens,
  foldText,
  type MappedText,
  percentDecoded,
} from './sensitive-text.js';

/**
 * The scan behind every detector: where, in the canonical form of a text, financial and identity
 * data lies. Two modes: `identifier` (declared identifiers, keys, class names, request ids: no
 * whitespace expected, ambiguous digit runs allowed up to 10 digits) and `text` (free text: numbers
 * spaced or bracketed, bare amounts of six digits or more unless a unit says they are a duration
 * or a count).
 *
 * @module
 */

/** Digits and what may stand between two of them in one number. */
const RUNS: Record<ScanMode, RegExp> = {
  identifier: new RegExp(`\\d+(?:${SEP}{1,3}\\d+)*`, 'g'),
  text: new RegExp(
    String.raw`\d+(?:(?:[\s()[\]._:/'\u2010-\u2015\u2212+-]{1,4}|,(?=\d{2,3}(?!\d)))\d+)*`,
    'g',
  ),
};

/** Digit runs longer than this (not a date, time or address) are refused whatever they are. */
const LONGEST_INNOCENT_RUN: Record<ScanMode, number> = {
  identifier: 10,
  text: 8,
};

const DIGIT_WORDS = new RegExp(
  `(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)${SEP}{0,3}){9,}`,
  'g',
);
const DIGIT_WORD_VALUE: Record<string, string> = {
  zero: '0',
  oh: '0',
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
};

/** Words after a number that make it a duration or a count (`120000 ms`, `128000 tokens`). */
const QUANTITY_AFTER =
  /^\s?(?:ms|msec|millis(?:econds?)?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|µs|us|ns|tokens?|requests?|rpm|tpm|rpd|tpd|ipm|bytes?|b|kb|kib|mb|mib|gb|chars?|characters?|words?|images?|pages?|items?|calls?|maximum|max|limit|%)(?![a-z])/;
/** Words before a number that make it a count (`limit 2000000`, `max_tokens: 200000`). */
const QUANTITY_BEFORE =
  /(?:limit|used|requested|quota|max|maximum|allowed|length|size|count|tokens?|context|window|budget|retry|delay|timeout|after|in|of|is)[^a-z0-9]{0,3}$/;
/** Money words before a number in free text: `balance 15000`, `salary of 45000`. */
const MONEY_BEFORE =
  /(?<![a-z])(?:amt|amount|balance|salary|ctc|fee|fees|price|cost|loan|emi|dues?|paid|payout|revenue|sales|profit|income|networth|turnover|owes?|owed|debt|rent|refund|worth)[^a-z0-9]{0,3}(?:(?:of|is|was|to)[^a-z0-9]{1,3})?$/;

/** A free-text number that is only a duration or a count. */
function isQuantity(text: string, start: number, end: number): boolean {
  return (
    QUANTITY_AFTER.test(text.slice(end, end + 14)) ||
    QUANTITY_BEFORE.test(text.slice(Math.max(0, start - 24), start))
  );
}

/** What a run of digit groups (`2345 6789 0123`, `+91 (98765) 43210`) is, or null. */
function runKind(run: string, mode: ScanMode): SensitiveKind | null {
  let digits = 0;
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  // identity numbers have ten digits or more; shorter runs pass the length rules too
  if (digits < 10 && digits <= LONGEST_INNOCENT_RUN[mode]) return null;
  const groups = run.split(/\D+/);
  const separators = run.replace(/\d+/g, '').replace(/\s/g, '');
  if (isIpv4(groups, separators)) return null;
  return groupsKind(groups, mode);
}

/** What digit groups are: see {@link runKind}. */
function groupsKind(groups: string[], mode: ScanMode): SensitiveKind | null {
  if (isDateTime(groups, mode === 'identifier')) {
    // the groups after a date are checked alone: 20260415-98765-43210
    return identityInGroups(groups.slice(timeGroups(groups)), true);
  }
  const kind = identityInGroups(groups, true);
  if (kind !== null) return kind;
  // a date inside splits the run: the version before it, the rest after (o1-2024-12-17)
  for (let i = 1; i < groups.length; i++) {
    const date = dateGroups(groups.slice(i));
    if (date > 0) {
      return (
        groupsKind(groups.slice(0, i), mode) ??
        groupsKind(groups.slice(i), mode)
      );
    }
  }
  const digits = groups.join('');
  if (digits.length <= LONGEST_INNOCENT_RUN[mode]) return null;
  // a time in milliseconds since 1970 (export_1713175800123)
  if (groups.length === 1 && isEpochTime(digits)) return null;
  // identifiers: a year, then sequence numbers (INV-2026-0000123)
  const year = Number(groups[0]);
  if (
    mode === 'identifier' &&
    groups[0].length === 4 &&
    year >= 1970 &&
    year <= 2099 &&
    groups.slice(1).every((g) => g.length <= 8)
  ) {
    return null;
  }
  return 'long_number';
}

const DIGIT = /\d/;
const SEPARATOR = /[\s._:/,'\u2010-\u2015\u2212-]/;
const AT_HINT = /(?:^|[^a-z])at(?:[^a-z]|$)/;
const DIGIT_WORD_HINT = /zero|one|two|three|four|five|six|seven|eight|nine/;

/** Reports a bare free-text number (`150000`, `balance 15000`) as an amount, unless it is a count. */
function bareAmount(
  rest: string,
  run: string,
  start: number,
  end: number,
): boolean {
  if (!/^[1-9]\d{3,7}$/.test(run)) return false;
  const before = rest.slice(Math.max(0, start - 24), start);
  if (MONEY_BEFORE.test(before)) return true;
  return (
    run.length >= 6 &&
    !/[a-z]/.test(rest[start - 1] ?? '') &&
    !/[a-z]/.test(rest[end] ?? '') &&
    !isDateTime([run], false) &&
    !isQuantity(rest, start, end)
  );
}

/** Reports the data in the canonical text `s` (and `cased`, the same before lowercasing). */
function scanCanonical(
  s: string,
  cased: string,
  mode: ScanMode,
  amounts: boolean,
  found: Found,
): boolean {
  let rest = s;
  let restCased = cased;
  // machine ids first, by their own rules; then they are blanked out for the others
  if (mayHoldId(s)) {
    const stop = every(ID_TOKENS, s, (match) => {
      if (scanId(match[0], match.index, mode, found)) return true;
      const blank = '\u0001'.repeat(match[0].length);
      const end = match.index + match[0].length;
      rest = rest.slice(0, match.index) + blank + rest.slice(end);
      restCased =
        restCased.slice(0, match.index) + blank + restCased.slice(end);
      return false;
    });
    if (stop) return true;
  }
  const hasDigit = DIGIT.test(rest);
  const report =
    (kind: SensitiveKind) =>
    (match: RegExpExecArray): boolean =>
      found(kind, match.index, match.index + match[0].length);
  if (hasDigit) {
    const codes = CODE_HINT.test(rest) && eachCode(rest, found);
    if (codes) return true;
    if (SEPARATOR.test(rest)) {
      if (squeezedCodes(rest, found)) return true;
      for (const [kind, pattern] of mode === 'text' ? SPACED_CODES : []) {
        const stop = every(
          pattern,
          rest,
          (m) => spacedAsWritten(m[0], kind) && report(kind)(m),
        );
        if (stop) return true;
      }
    }
    const runs = every(RUNS[mode], rest, (match) => {
      const start = match.index;
      const end = start + match[0].length;
      let kind = runKind(match[0], mode);
      if (
        kind === null &&
        amounts &&
        mode === 'text' &&
        bareAmount(rest, match[0], start, end)
      ) {
        kind = 'amount';
      }
      return kind !== null && found(kind, start, end);
    });
    if (runs) return true;
  }
  if (rest.includes('@') || AT_HINT.test(rest) || rest.includes('[at]')) {
    if (scanEmails(rest, mode, found)) return true;
  }
  if (rest.length >= 27 && DIGIT_WORD_HINT.test(rest)) {
    const stop = every(DIGIT_WORDS, rest, (match) => {
      const digits = (
        match[0].match(
          /zero|oh|one|two|three|four|five|six|seven|eight|nine/g,
        ) ?? []
      )
        .map((w) => DIGIT_WORD_VALUE[w])
        .join('');
      const kind = runKind(digits, mode);
      return kind !== null && report(kind)(match);
    });
    if (stop) return true;
  }
  if (!amounts) return false;
  for (const {
    pattern,
    hint,
    cased: onCased,
    accept,
    bare,
    digits,
  } of AMOUNT_PATTERNS) {
    if (digits && !hasDigit) continue;
    if (!hint.test(onCased ? restCased : rest)) continue;
    const stop = every(pattern, onCased ? restCased : rest, (match) => {
      if (!accept(match)) return false;
      if (bare && mode === 'text') {
        if (isQuantity(rest, match.index, match.index + match[0].length)) {
          return false;
        }
      }
      return report('amount')(match);
    });
    if (stop) return true;
  }
  return false;
}

/**
 * Scans `mapped` (a {@link foldText} form): its percent-decoded form, then the text hidden in its
 * base64 and hex tokens (a token whose decoded text holds data is reported whole). `found` gets
 * stretches of `mapped.text` or of its percent-decoded form, as `decoded` says.
 */
export function scan(
  mapped: MappedText,
  mode: ScanMode,
  amounts: boolean,
  found: (
    kind: SensitiveKind,
    start: number,
    end: number,
    from: MappedText,
  ) => boolean,
): void {
  const decoded = percentDecoded(mapped);
  const report: Found = (kind, start, end) => found(kind, start, end, decoded);
  if (scanCanonical(decoded.text, decoded.cased, mode, amounts, report)) return;
  for (const token of decodedTokens(mapped.cased)) {
    for (const text of token.decoded) {
      const folded = foldText(text);
      let hit: SensitiveKind | null = null;
      scanCanonical(folded.text, folded.cased, 'text', amounts, (kind) => {
        hit = kind;
        return true;
      });
      if (
        hit !== null &&
        found(hit, token.at, token.at + token.length, mapped)
      ) {
        return;
      }
    }
  }
}

/** The first kind of data found in `text`, or null. */
export function firstKind(
  text: string,
  mode: ScanMode,
  amounts: boolean,
): SensitiveKind | null {
  let first: SensitiveKind | null = null;
  scan(foldText(text), mode, amounts, (kind) => {
    first = kind;
    return true;
  });
  return first;
}

export type { ScanMode, SensitiveKind } from './sensitive-kind.js';

/**
 * The identity data hidden in a whole UUID or ULID, or null: the machine-id rules alone, which is
 * all {@link firstKind} would apply to one (and four times cheaper).
 */
export function idKind(value: string): SensitiveKind | null {
  let kind: SensitiveKind | null = null;
  scanId(value.toLowerCase(), 0, 'identifier', (found) => {
    kind = found;
    return true;
  });
  return kind;
}
