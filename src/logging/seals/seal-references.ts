import { createHash, type Hash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import {
  encodeField as field,
  SEAL_REFERENCES,
  type SealableLog,
  type SealEncoding,
} from './seal-encoding.js';
import type { SealErasure } from './seal.types.js';

/**
 * Reference groups (encoding 2, docs/tamper-evidence.md): the rows of one seal that share one value
 * of the log's erasable reference (`audit_log.user_id`, `llm_usage_log.cma_project_id`), NULL
 * being a value of its own. A seal stores its groups and its digest commits to them, so that a
 * reference set to NULL by deleting the referenced row can be told apart from any other change.
 */
export interface ReferenceGroup {
  /** The referenced row's id, lower-case hex with dashes; null for the rows without one. */
  ref: string | null;
  /** How many of the seal's rows have this reference. */
  rows: number;
  /** Hex SHA-256 of the ids of those rows, in `(created_at, id)` order, each as its 36 characters. */
  digest: string;
}

/** Between the rows' encodings and the groups' encoding in the digest input of encoding 2. */
export const GROUPS_SEPARATOR = '|';

/** The canonical order of groups: the NULL group first, then by reference, byte by byte. */
export function sortGroups(
  groups: readonly ReferenceGroup[],
): ReferenceGroup[] {
  // references are distinct; '' sorts before every id
  return [...groups].sort((a, b) => ((a.ref ?? '') < (b.ref ?? '') ? -1 : 1));
}

/** The canonical encoding of a seal's groups: each group's reference, row count and digest fields. */
export function encodeGroups(groups: readonly ReferenceGroup[]): string {
  return sortGroups(groups)
    .map((g) => field(g.ref) + field(String(g.rows)) + field(g.digest))
    .join('');
}

/**
 * SQL aggregate of the canonical encoding of stored groups, over
 * `unnest(ref_ids, ref_rows, ref_digests) AS x(ref, n, d)` of a `log_seal` row.
 */
export const STORED_GROUPS_SQL = (() => {
  const sqlField = (text: string) =>
    `coalesce(octet_length(${text})::text || ':' || ${text}, '-')`;
  return `coalesce(string_agg(${sqlField('x.ref::text')} || ${sqlField('x.n::text')} || ${sqlField(
    `encode(x.d, 'hex')`,
  )}, '' ORDER BY x.ref NULLS FIRST), '')`;
})();

/** Groups the rows of one seal, fed in `(created_at, id)` order, by reference. */
export class ReferenceGroups {
  /** Per reference: the rows, the hash of their ids, and the ids not hashed yet, joined. */
  private readonly groups = new Map<
    string | null,
    { rows: number; hash: Hash; ids: string }
  >();
  private listed: ReferenceGroup[] | undefined;

  add(id: string, ref: string | null): void {
    const group = this.groups.get(ref);
    if (!group) {
      this.groups.set(ref, { rows: 1, hash: createHash('sha256'), ids: id });
      return;
    }
    group.rows++;
    group.ids += id;
    // one update per about 200 ids, not one per id
    if (group.ids.length >= 8192) {
      group.hash.update(group.ids, 'utf8');
      group.ids = '';
    }
  }

  /** The groups in canonical order; from the first call on, the groups take no more rows. */
  list(): ReferenceGroup[] {
    this.listed ??= sortGroups(
      [...this.groups].map(([ref, { rows, hash, ids }]) => ({
        ref,
        rows,
        digest: hash.update(ids, 'utf8').digest('hex'),
      })),
    );
    return this.listed;
  }
}

/** The columns `ref_ids`, `ref_rows` and `ref_digests` of `log_seal` for `groups`. */
export function referenceGroupColumns(
  groups: readonly ReferenceGroup[],
): [(string | null)[], number[], Buffer[]] {
  return [
    groups.map((g) => g.ref),
    groups.map((g) => g.rows),
    groups.map((g) => Buffer.from(g.digest, 'hex')),
  ];
}

/**
 * A group that differs between a seal's rows now and the groups the seal stored: `now`, a group of
 * the current rows that no stored group equals (same reference, count and digest); `sealed`, a
 * stored group that no current group equals.
 */
export interface GroupDelta extends ReferenceGroup {
  side: 'now' | 'sealed';
}

/** What became of the references of one seal whose digest still matches its rows. */
export type ReferenceVerdict =
  | { kind: 'intact' }
  | { kind: 'erased'; rows: number; references: number }
  | { kind: 'changed'; reason: string };

/** The references of sealed groups no current group equals: the rows they name may be gone. */
export function vanishedReferences(deltas: readonly GroupDelta[]): string[] {
  return deltas
    .filter((d) => d.side === 'sealed' && d.ref !== null)
    .map((d) => d.ref!);
}

/**
 * Judges the references of a seal of encoding 2 whose rows, the reference left out, still match
 * its digest (so the seal holds the same rows, and its stored groups are the ones it was made
 * with). The one change that is not tampering is the one `ON DELETE SET NULL` makes: every row of
 * a group whose referenced row is gone now has NULL, and nothing else moved. `existing` holds the
 * references of {@link vanishedReferences} whose row still exists.
 */
export function judgeReferences(
  deltas: readonly GroupDelta[],
  column: string,
  table: string,
  existing: ReadonlySet<string>,
): ReferenceVerdict {
  if (!deltas.length) return { kind: 'intact' };
  const now = deltas.filter((d) => d.side === 'now');
  const sealed = deltas.filter((d) => d.side === 'sealed');
  const moved = now.find((d) => d.ref !== null);
  if (moved) {
    return {
      kind: 'changed',
      reason: `the rows whose ${column} is ${moved.ref} are not the rows sealed with it`,
    };
  }
  const vanished = sealed.filter((d) => d.ref !== null);
  const kept = vanished.find((d) => existing.has(d.ref!));
  if (kept) {
    return {
      kind: 'changed',
      reason: `${kept.rows} row(s) sealed with ${column} ${kept.ref} no longer have it, yet ${table} still holds that row`,
    };
  }
  const erased = vanished.reduce((sum, d) => sum + d.rows, 0);
  const nullNow = now.find((d) => d.ref === null);
  const nullSealed = sealed.find((d) => d.ref === null);
  // NULL rows now: those sealed with NULL and those of the erased groups, exactly
  const consistent =
    erased > 0 &&
    nullNow !== undefined &&
    nullNow.rows === (nullSealed?.rows ?? 0) + erased;
  if (!consistent) {
    return {
      kind: 'changed',
      reason: `the rows without a ${column} are not those sealed without one plus those whose ${table} row was deleted`,
    };
  }
  return { kind: 'erased', rows: erased, references: vanished.length };
}

/**
 * Of the references of the stored groups that the seals' rows no longer have
 * ({@link vanishedReferences}), those whose referenced row (a user of `audit_log`, a project of
 * `llm_usage_log`) still exists, read in the caller's transaction.
 */
export async function existingReferences(
  manager: Pick<EntityManager, 'query'>,
  log: SealableLog,
  seals: Iterable<{ references: readonly GroupDelta[] }>,
): Promise<Set<string>> {
  const refs = new Set(
    [...seals].flatMap((s) => vanishedReferences(s.references)),
  );
  if (!refs.size) return new Set();
  const rows = await manager.query<{ id: string }[]>(
    `SELECT id::text AS id FROM ${SEAL_REFERENCES[log].table} WHERE id = ANY ($1::uuid[])`,
    [[...refs]],
  );
  return new Set(rows.map((row) => row.id));
}

/**
 * What the references of seal `seq` of `log` (encoding 2, its digest matching its rows) say: an
 * erasure to report, a change to report as `row-edited`, or nothing.
 */
export function referenceFinding(
  log: SealableLog,
  seq: number,
  deltas: readonly GroupDelta[],
  existing: ReadonlySet<string>,
): { erasure?: SealErasure; edited?: string } {
  const { column, table } = SEAL_REFERENCES[log];
  const verdict = judgeReferences(deltas, column, table, existing);
  if (verdict.kind === 'changed') {
    return {
      edited: `the ${column} of rows sealed by seal ${seq} was changed: ${verdict.reason}`,
    };
  }
  if (verdict.kind === 'intact') return {};
  const { rows, references } = verdict;
  return {
    erasure: {
      seq,
      kind: 'reference-erased',
      column,
      rows,
      references,
      message: `${rows} row(s) sealed by seal ${seq} have ${column} NULL since ${references} ${table} row(s) they referenced were deleted (ON DELETE SET NULL); nothing else changed`,
    },
  };
}

/** The message of `row-edited` for a seal of `encoding` whose digest no longer matches its rows. */
export function rowEditedMessage(
  log: SealableLog,
  seq: number,
  encoding: SealEncoding,
  deltas: readonly GroupDelta[],
): string {
  const { column, table } = SEAL_REFERENCES[log];
  if (encoding === 1) {
    return `a row sealed by seal ${seq} was changed (seal ${seq} has encoding 1, where a ${column} set to NULL by deleting its ${table} row reads as a change too)`;
  }
  return deltas.length
    ? `a row sealed by seal ${seq} was changed, or the reference groups stored with the seal were`
    : `a row sealed by seal ${seq} was changed`;
}
