import type { SealableLog } from './seal-encoding.js';
import type { SealRows } from './seal-rows.js';
import { diagnose, type SealHeader } from './seal-diagnosis.js';
import type { SealAnchor, SealProblem } from './seal.types.js';
import type {
  ArchiveChain,
  ArchiveErasure,
  ArchiveFile,
  ArchiveProblem,
} from './archive.types.js';
import {
  MANIFEST_FILE,
  ROWS_FILE,
  SEALS_FILE,
  type ArchiveSeal,
} from './archive-format.js';
import { after, headerOf } from './archive-rows.js';

/** The file a problem of each kind lies in, as far as the rows and seals tell. */
const FILE_OF: Record<SealProblem['kind'], ArchiveFile> = {
  'row-edited': ROWS_FILE,
  'row-missing': ROWS_FILE,
  'row-inserted': ROWS_FILE,
  'seal-edited': SEALS_FILE,
  'seal-removed': SEALS_FILE,
};

/** The first seal of `chain` (in seq order) whose range ends at or after the row; none past it. */
export function sealByRange(
  chain: ArchiveSeal[],
  us: bigint,
  id: string,
): ArchiveSeal | undefined {
  const head = chain[0];
  if (!head) return undefined;
  const start = head.from_created_at;
  if (
    start !== null &&
    !after(us, id, { ...head, to_created_at: start, to_id: head.from_id! })
  ) {
    return undefined;
  }
  let [lo, hi] = [0, chain.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (after(us, id, chain[mid])) lo = mid + 1;
    else hi = mid;
  }
  return chain[lo];
}

/** What the manifest and the anchors given say of one firm. */
export interface FirmRecords {
  /** The firm's chain as the manifest records it; none when the manifest does not list it. */
  entry: ArchiveChain | undefined;
  /** The erasures the manifest records for the firm's seals. */
  erasures: ArchiveErasure[];
  /** The published digests given for the firm's seals. */
  anchors: SealAnchor[];
}

/** `items` by `key`, each list in the order given. */
export function groupBy<T>(
  items: Iterable<T>,
  key: (item: T) => string,
): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** One firm's first problem in the archive, as `verify` names it, or none. */
export function checkFirm(
  log: SealableLog,
  firmId: string,
  { entry, erasures: recorded, anchors: given }: FirmRecords,
  chain: ArchiveSeal[],
  found: Map<string, SealRows>,
  unheld: number | undefined,
): ArchiveProblem | undefined {
  const headers: SealHeader[] = chain.map((seal) => headerOf(seal, true));
  const problems: ArchiveProblem[] = [];
  if (entry && entry.firstSeq > 1) {
    // the seal before the month, as the manifest records where the chain enters it
    headers.unshift({
      id: `${firmId}:${entry.firstSeq - 1}`,
      firmId,
      seq: entry.firstSeq - 1,
      kind: 'seal',
      fromUs: null,
      toUs: entry.fromCreatedAt ?? '',
      prev: '',
      digest: entry.prevDigest,
      rowCount: 0,
      lateIds: [],
      inWindow: false,
      encoding: 2,
    });
    const before = given.find((a) => a.seq === entry.firstSeq - 1);
    if (before && before.digest.toLowerCase() !== entry.prevDigest) {
      problems.push({
        kind: 'seal-edited',
        file: MANIFEST_FILE,
        firmId,
        seq: entry.firstSeq - 1,
        message: `the chain of firm ${firmId} no longer enters the month from the digest published for seal ${before.seq}`,
      });
    }
  }
  const inArchive = given.filter(
    (a) => entry && a.seq >= entry.firstSeq && a.seq <= entry.lastSeq,
  );
  const heads = entry ? [{ seq: entry.lastSeq, digest: entry.digest }] : [];
  const verdict = diagnose(
    log,
    firmId,
    headers,
    [...heads, ...inArchive],
    found,
    {
      // an archive holds sealed rows only: none after its last seal
      pendingLate: 0,
      tail: 0,
      runProblems: [],
      existing: new Set(),
    },
  );
  if (verdict.problem) {
    const { seq, kind, rows, message } = verdict.problem;
    problems.push({
      kind,
      file: FILE_OF[kind],
      firmId,
      seq,
      ...(rows === undefined ? {} : { rows }),
      message,
    });
  }
  if (!entry && chain.length) {
    problems.push({
      kind: 'seal-edited',
      file: SEALS_FILE,
      firmId,
      seq: chain[0].seq,
      message: `firm ${firmId} has seals in the archive but no chain in the manifest`,
    });
  }
  // erasures: the ones the export recorded, no more, no fewer
  const key = (e: { seq: number; rows: number; references: number }) =>
    `${e.seq}:${e.rows}:${e.references}`;
  const now = new Set(verdict.erasures.map(key));
  const differs = [
    ...verdict.erasures.filter((e) => !recorded.some((r) => key(r) === key(e))),
    ...recorded.filter((r) => !now.has(key(r))),
  ]
    .map((e) => e.seq)
    .filter((seq) => !verdict.problem || seq < verdict.problem.seq)
    .sort((a, b) => a - b)[0];
  if (differs !== undefined) {
    problems.push({
      kind: 'row-edited',
      file: ROWS_FILE,
      firmId,
      seq: differs,
      message: `the references of rows sealed by seal ${differs} are not those exported: rows were changed`,
    });
  }
  if (unheld) {
    const seq = (entry?.lastSeq ?? chain.at(-1)?.seq ?? 0) + 1;
    problems.push({
      kind: 'row-inserted',
      file: ROWS_FILE,
      firmId,
      seq,
      rows: unheld,
      message: `${unheld} row(s) of firm ${firmId} are held by no seal of the archive`,
    });
  }
  problems.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  return problems[0];
}
