/**
 * The forms text is read in by the detectors of financial and identity data: the canonical form
 * (every way of writing a letter or a digit folded to one), the same with percent-escapes decoded,
 * and the printable text hidden in base64 or hex tokens. Each form keeps, for every character, the
 * stretch of the original text it came from, so that free text can be redacted where a detector
 * found something in its canonical form.
 *
 * @module
 */

/** ASCII digit of each Unicode decimal digit (`\p{Nd}`) that is not ASCII already. */
const DIGITS = new Map<string, string>();
{
  const nd = /\p{Nd}/u;
  let run = 0;
  let previous = -2;
  for (let cp = 0x80; cp <= 0x1fbff; cp++) {
    const char = String.fromCodePoint(cp);
    if (!nd.test(char)) continue;
    // Unicode lays decimal digits out in runs of ten, zero first.
    run = cp === previous + 1 ? run + 1 : 0;
    previous = cp;
    DIGITS.set(char, String(run % 10));
  }
}

/**
 * Letters of other scripts that look like Latin ones (Cyrillic, Greek, a few Latin variants), read
 * as the Latin letter they are mistaken for: `АВСРЕ1234F` written in Cyrillic is a PAN. Capitals
 * are mapped before lowercasing, since Cyrillic `В` and `Н` look like `B` and `H` but their small
 * forms do not look like `b` and `h` to every reader.
 */
const LOOK_ALIKES = new Map<string, string>(
  [
    // Cyrillic capitals and small letters
    'АA ВB СC ЕE НH ІI ЈJ КK МM ОO РP ЅS ТT ХX УY ҮY ԚQ ԜW ӀI',
    'аa вb сc еe һh нh іi јj кk мm оo рp ѕs тt хx уy үy ԁd ԛq ԝw ӏl ѵv ɡg',
    // Greek capitals and small letters
    'ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX',
    'αa βb γy εe ζz ηn ιi κk νv οo ρp τt υu χx ωw',
    // Latin variants NFKC keeps apart
    'ıi ȷj ℓl ɑa ɩi ɪi ʟl ɴn ʀr ʏy',
  ]
    .join(' ')
    .split(' ')
    .map((pair) => {
      const [from, to] = [...pair];
      return [from, to] as [string, string];
    }),
);

const FORMAT = /^[\p{Cf}\u034f\u180b-\u180d\ufe00-\ufe0f]$/u;
const MARKS = /\p{M}/gu;
const PLAIN = /^[\x20-\x7e]*$/;

/** One character's canonical form: NFKC, marks dropped, digits ASCII, look-alikes Latin. */
function foldChar(char: string): string {
  if (FORMAT.test(char)) return '';
  let out = '';
  for (const c of char.normalize('NFKC').normalize('NFD').replace(MARKS, '')) {
    out += DIGITS.get(c) ?? LOOK_ALIKES.get(c) ?? c;
  }
  return out;
}

/** Text in a canonical form, with the stretch of the original each of its characters came from. */
export interface MappedText {
  /** The canonical form, lowercase. */
  readonly text: string;
  /** The same before lowercasing, as long as `text` (currency codes are told by their capitals). */
  readonly cased: string;
  /** For each character of `text`, where its stretch of the original starts; none: itself. */
  readonly from?: readonly number[];
  /** For each character of `text`, where its stretch of the original ends; none: itself. */
  readonly to?: readonly number[];
}

/** Where the stretch of the original that character `i` of `mapped` came from starts. */
export const originStart = (mapped: MappedText, i: number): number =>
  mapped.from ? mapped.from[i] : i;

/** Where the stretch of the original that character `i` of `mapped` came from ends. */
export const originEnd = (mapped: MappedText, i: number): number =>
  mapped.to ? mapped.to[i] : i + 1;

/** `text` as it is (printable ASCII), each character its own stretch. */
function identity(text: string): MappedText {
  return { text: text.toLowerCase(), cased: text };
}

/** Builds a {@link MappedText} piece by piece. */
class MappedBuilder {
  text = '';
  cased = '';
  readonly from: number[] = [];
  readonly to: number[] = [];

  /** Appends the folded form of `char`, which stands for `start`..`end` of the original. */
  push(cased: string, start: number, end: number): void {
    for (const c of cased) {
      const lower = c.toLowerCase();
      const same = lower.length === c.length;
      this.text += same ? lower : c;
      this.cased += c;
      for (let k = 0; k < c.length; k++) {
        this.from.push(start);
        this.to.push(end);
      }
    }
  }

  done(): MappedText {
    return { text: this.text, cased: this.cased, from: this.from, to: this.to };
  }
}

/**
 * `text` folded for detection, with its mapping: NFKC (full-width forms, ligatures, mathematical
 * letters), marks dropped (`É` is `E`), every Unicode decimal digit as its ASCII digit (`२३४५` is
 * `2345`), look-alike letters of other scripts as Latin, invisible format characters removed.
 */
export function foldText(text: string): MappedText {
  if (PLAIN.test(text)) return identity(text);
  const out = new MappedBuilder();
  let i = 0;
  for (const char of text) {
    out.push(foldChar(char), i, i + char.length);
    i += char.length;
  }
  return out.done();
}

/** `text` folded for detection (see {@link foldText}), lowercase. */
export function canonicalText(text: string): string {
  return foldText(text).text;
}

const ESCAPES = /(?:%[0-9a-f]{2})+/gi;

/**
 * `mapped` with its percent-escapes decoded as UTF-8 and folded again, twice (so `%2540` is `@`
 * too), or `mapped` itself when it holds none. Each decoded character maps to the whole escape run.
 */
export function percentDecoded(mapped: MappedText): MappedText {
  let current = mapped;
  for (let round = 0; round < 2; round++) {
    if (!current.text.includes('%')) return current;
    const out = new MappedBuilder();
    let last = 0;
    for (const match of current.text.matchAll(ESCAPES)) {
      const at = match.index;
      for (let k = last; k < at; k++) {
        out.push(
          current.cased[k],
          originStart(current, k),
          originEnd(current, k),
        );
      }
      const bytes = Buffer.from(match[0].replace(/%/g, ''), 'hex');
      const end = at + match[0].length;
      const decoded = foldText(bytes.toString('utf8')).cased;
      out.push(decoded, originStart(current, at), originEnd(current, end - 1));
      last = end;
    }
    if (last === 0) return current;
    for (let k = last; k < current.text.length; k++) {
      out.push(
        current.cased[k],
        originStart(current, k),
        originEnd(current, k),
      );
    }
    current = out.done();
  }
  return current;
}

const TOKEN = /[A-Za-z0-9+/_-]{12,}={0,2}/g;
const HEX = /^(?:[0-9a-f]{2})+$/i;
const HEX_PIECE = /[0-9a-f]{12}/i;
const CAPITAL = /[A-Z]/;
const SMALL = /[a-z]/;

/** The value of each base64 character, standard and URL-safe; -1 for others. */
const BASE64 = new Int8Array(128).fill(-1);
[...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'].forEach(
  (c, i) => (BASE64[c.charCodeAt(0)] = i),
);
BASE64['+'.charCodeAt(0)] = BASE64['-'.charCodeAt(0)] = 62;
BASE64['/'.charCodeAt(0)] = BASE64['_'.charCodeAt(0)] = 63;

/** The bytes of the token being decoded (tokens are cut at the scan length, 10,000 characters). */
const BYTES = new Uint8Array(8192);

/**
 * The printable run (8 characters or more) of the first `length` bytes of {@link BYTES}, when it
 * makes up most of them (an encoded text, perhaps after a prefix), or null: random bytes rarely
 * hold one, and never mostly.
 */
function printableRun(length: number): string | null {
  let best = 0;
  let bestStart = 0;
  let start = 0;
  for (let i = 0; i <= length; i++) {
    const byte = i < length ? BYTES[i] : 0;
    if (byte >= 0x20 && byte <= 0x7e) continue;
    if (i - start > best) {
      best = i - start;
      bestStart = start;
    }
    start = i + 1;
  }
  if (best < 8 || best * 4 < length * 3) return null;
  return String.fromCharCode(...BYTES.subarray(bestStart, bestStart + best));
}

/** The printable text of `token` from `offset` decoded from base64 (standard or URL-safe). */
function base64Text(token: string, offset: number): string | null {
  let length = 0;
  let bits = 0;
  let count = 0;
  for (let i = offset; i < token.length && length < BYTES.length; i++) {
    const value = BASE64[token.charCodeAt(i)];
    if (value === undefined || value < 0) break;
    bits = ((bits << 6) | value) & 0xffffff;
    count += 6;
    if (count >= 8) {
      count -= 8;
      BYTES[length++] = (bits >> count) & 0xff;
    }
  }
  return printableRun(length);
}

/** The printable text of `piece` decoded from hex. */
function hexText(piece: string): string | null {
  let length = 0;
  for (let i = 0; i + 1 < piece.length && length < BYTES.length; i += 2) {
    BYTES[length++] = parseInt(piece.slice(i, i + 2), 16);
  }
  return printableRun(length);
}

/**
 * The printable text hidden in the base64 (standard or URL-safe, any alignment) or hex tokens of
 * `text`: each token of 12 characters or more is decoded, and its runs of 8 printable characters
 * or more, when they make up most of it, are returned with the token's position and length. The
 * base64 of a text has capitals and small letters, so tokens without both are only read as hex.
 */
export function decodedTokens(
  text: string,
): { at: number; length: number; decoded: string[] }[] {
  const found: { at: number; length: number; decoded: string[] }[] = [];
  if (!CAPITAL.test(text) && !HEX_PIECE.test(text)) return found;
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(text); match; match = TOKEN.exec(text)) {
    const token = match[0];
    const decoded: string[] = [];
    const keep = (run: string | null) => {
      if (run !== null) decoded.push(run);
    };
    if (HEX_PIECE.test(token)) {
      for (const piece of token.split(/[_-]/)) {
        // all digits: a long run of digits, which the length rules refuse anyway
        if (piece.length >= 12 && HEX.test(piece) && /[a-f]/i.test(piece)) {
          keep(hexText(piece));
        }
      }
    }
    if (SMALL.test(token) && CAPITAL.test(token)) {
      for (
        let offset = 0;
        offset < 4 && token.length - offset >= 12;
        offset++
      ) {
        keep(base64Text(token, offset));
      }
    }
    if (decoded.length > 0) {
      found.push({ at: match.index, length: token.length, decoded });
    }
  }
  return found;
}
