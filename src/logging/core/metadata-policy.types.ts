import type { MetadataDrop } from './metadata-walk.js';

/** How actions without a declaration are treated. */
export type MetadataPolicyMode = 'declared' | 'heuristic';

/** Options of the metadata policy, `LoggingModule.forRoot({ audit: { metadataPolicy: {...} } })`. */
export interface MetadataPolicyOptions {
  /**
   * `'declared'`: only declared keys are stored; an action without a declaration stores only the
   * system keys. `'heuristic'`: actions without a declaration fall back to the key-word rules,
   * which cannot tell `totalamount: 150000` from a count; for a migration period. Default:
   * `'declared'`.
   */
  mode?: MetadataPolicyMode;
  /**
   * Refuse metadata the policy would trim, whole, instead of dropping the values and storing the
   * rest: `record()` and the ledger fail with {@link AuditMetadataError} and write nothing; an
   * `@Audit` action, which has run, is written without its metadata and marked
   * `metadataRefused: true`. Default: `false`.
   */
  strict?: boolean;
  /** Heuristic mode: the largest integer accepted as a count. Default: `1_000_000`. */
  maxCount?: number;
  /** Longest identifier string accepted, in characters (UUIDs whatever this is). Default: `64`. */
  maxStringLength?: number;
  /** Longest array accepted; a longer one is dropped whole (`array_too_long`). Default: `100`. */
  maxArrayLength?: number;
  /**
   * Deepest nesting of objects and arrays: the metadata object is at depth 0, the `{...}` of
   * `{ counts: {...} }` at depth 1. A deeper object or array is dropped whole (`too_deep`).
   * Default: `3`.
   */
  maxDepth?: number;
  /**
   * Largest size of the metadata the policy lets through, as JSON text in UTF-8 bytes, at most
   * {@link METADATA_POLICY_MAX_BYTES}: the column takes 8192, and 512 are kept for the keys the
   * module adds. Default: {@link METADATA_POLICY_MAX_BYTES} (7680).
   */
  maxBytes?: number;
  /**
   * Heuristic mode: more words to deny in keys, written like keys (`'client'`, `'bankRef'`).
   * Default: `[]`.
   */
  deniedKeys?: readonly string[];
}

/** The policy in force: every option set, checked and frozen. */
export type ResolvedMetadataPolicy = Readonly<Required<MetadataPolicyOptions>>;

/** The metadata to store, a new plain object, and what was dropped from the input. */
export interface SanitizedMetadata {
  metadata: Record<string, unknown>;
  dropped: MetadataDrop[];
}
