import { type Found, type ScanMode } from './sensitive-kind.js';

/**
 * E-mail addresses in canonical text: `@` written (a local part before, a domain after, at most a
 * space apart), or spelled out (`cfo at acme dot com`, `cfo[at]acme.example`, `cfo_at_acme_dot_in`).
 *
 * @module
 */

const TLD =
  'com|net|org|edu|gov|mil|int|info|biz|name|pro|in|co|io|ai|me|us|uk|ca|au|de|fr|jp|cn|ru|br|nl|it|es|se|ch|sg|ae|nz|za|dev|app|xyz|online|site|tech|email|mail|example|test|local|cloud|live|store|shop|blog';
const DOT = String.raw`\s*[\[({<]\s*dot\s*[\])}>]\s*|[\s._:-]+dot[\s._:-]+|\.`;
/** An e-mail with its `@` spelled out: `cfo at acme dot com`, `cfo[at]acme.example`, `cfo_at_acme_dot_in`. */
const SPELLED_EMAIL = new RegExp(
  String.raw`([a-z0-9][a-z0-9._+-]*?)(\s*[\[({<]\s*at\s*[\])}>]\s*|[\s._:-]+at[\s._:-]+)[a-z0-9-]+(?:(?:${DOT})[a-z0-9-]+)*?(${DOT})(?:${TLD})(?![a-z0-9])`,
  'g',
);
const MAIL_HOSTS =
  /(?:gmail|googlemail|yahoo|outlook|hotmail|live|rediffmail|icloud|proton|protonmail|zoho|yandex|gmx|aol|msn)\b/;

/** A character of an address around its `@`. */
const WORD_CHAR = /[^\s@"'<>(),;[\]{}]/;

/** Reports every e-mail address in `s`, `@` written or spelled out. */
export function scanEmails(s: string, mode: ScanMode, found: Found): boolean {
  for (let at = s.indexOf('@'); at >= 0; at = s.indexOf('@', at + 1)) {
    // a local part before, a domain after, at most a space apart (not `"@type"`)
    const word = (i: number) => i >= 0 && i < s.length && WORD_CHAR.test(s[i]);
    const space = (i: number) => i >= 0 && i < s.length && /\s/.test(s[i]);
    const before = word(at - 1) || (space(at - 1) && word(at - 2));
    const after = word(at + 1) || (space(at + 1) && word(at + 2));
    // spaced on both sides, only before a domain: `cfo @ acme.example`, not `a @ b`
    const spaced =
      !word(at - 1) &&
      !word(at + 1) &&
      !/^@\s[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![a-z0-9])/.test(
        s.slice(at),
      );
    if (!before || !after || spaced) continue;
    // a model version (claude-3-5-sonnet@20240620, gemini-pro@001) is not an address
    if (/^@\d[\d.:_-]*(?![^\s,;)\]}'"])/.test(s.slice(at))) {
      continue;
    }
    let start = word(at - 1) ? at : at - 1;
    while (start > 0 && WORD_CHAR.test(s[start - 1])) start--;
    let end = word(at + 1) ? at + 1 : at + 2;
    while (end < s.length && WORD_CHAR.test(s[end])) end++;
    if (found('email', start, end)) return true;
  }
  for (const match of s.matchAll(SPELLED_EMAIL)) {
    const [text, local, at, dot] = match;
    const plain = /^[\s._:-]+at[\s._:-]+$/.test(at) && dot === '.';
    if (
      mode === 'text' &&
      plain &&
      !/[._+\d]/.test(local) &&
      !MAIL_HOSTS.test(text.slice(local.length + at.length))
    ) {
      continue; // `connect to server at api.example.com`: a host, not an address
    }
    if (found('email', match.index, match.index + text.length)) return true;
  }
  return false;
}
