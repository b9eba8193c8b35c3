import {
  canonicalText,
  sealColumns,
  type Kind,
  type SealableLog,
  type SealEncoding,
} from './seal-encoding.js';

/** SQL of the fields of `columns` of row `a`, concatenated; `''` when there are none. */
function fieldsSql(columns: readonly [string, Kind][], utf8: boolean): string {
  if (!columns.length) return `''`;
  return columns
    .map(([column, kind]) => {
      const text = canonicalText(column, kind);
      const bytes = utf8
        ? `octet_length(${text})`
        : `octet_length(convert_to(${text}, 'UTF8'))`;
      return `coalesce(${bytes}::text || ':' || ${text}, '-')`;
    })
    .join(' || ');
}

/**
 * SQL of a row's canonical encoding (alias `a`, docs/tamper-evidence.md): each column's text as
 * `<UTF-8 byte length>:<text>`, or `-` for NULL, in `SEAL_COLUMNS` order, without the
 * reference under encoding 2. `utf8` tells whether the database encoding is UTF-8 (then a text's
 * octet length is its UTF-8 length; find it with
 * `SELECT current_setting('server_encoding') = 'UTF8'`).
 */
export function encodingSql(
  log: SealableLog,
  utf8: boolean,
  encoding: SealEncoding,
): string {
  return fieldsSql(sealColumns(log, encoding), utf8);
}
