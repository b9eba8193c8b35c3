import type { SealRows } from './seal-rows.js';
import {
  GENESIS_DIGEST,
  type SealableLog,
  type SealEncoding,
} from './seal-encoding.js';
import { SealHash } from './seal-hash.js';
import { referenceFinding, rowEditedMessage } from './seal-references.js';
import type { RunProblem } from './seal-run-check.js';
import type {
  SealAnchor,
  SealProblem,
  SealVerification,
} from './seal.types.js';

/**
 * The verdict on one firm's chain of seals, from what `verifyChains` (seal-verifier.ts) and the
 * archives' checks (archive-chain.ts, archive-export.ts) read of it.
 *
 * @module
 */

/** A seal's fields as verification compares them: bounds in microseconds, to compare exactly. */
export interface SealHeader {
  id: string;
  firmId: string;
  seq: number;
  kind: 'seal' | 'tombstone';
  fromUs: string | null;
  toUs: string;
  prev: string;
  digest: string;
  rowCount: number;
  lateIds: string[];
  inWindow: boolean;
  /** The version of the canonical encoding of the seal's digest. */
  encoding: SealEncoding;
}

/** Rows of a firm after its last seal in time a run covered: how many, and the run. */
export interface Gap {
  n: number;
  run: number;
}

/** What the verdict on a firm's chain needs beside its seals and their rows. */
export interface ChainContext {
  pendingLate: number;
  /** Rows after the last seal that no run has covered yet. */
  tail: number;
  gap?: Gap;
  runProblems: RunProblem[];
  /** Of the references of groups no longer found, those whose referenced row exists. */
  existing: ReadonlySet<string>;
}

/**
 * The verdict on one firm's chain, from its seals (those outside the window checked serve as
 * neighbours only) and the rows found for each: the database's `verify`, and the archives'.
 */
export function diagnose(
  log: SealableLog,
  firmId: string,
  headers: SealHeader[],
  anchors: SealAnchor[],
  found: Map<string, SealRows>,
  { pendingLate, tail, gap, runProblems, existing }: ChainContext,
): SealVerification {
  const head = headers.at(-1);
  const result: SealVerification = {
    log,
    firmId,
    ok: true,
    sealsChecked: 0,
    rowsChecked: 0,
    last: head ? { seq: head.seq, digest: head.digest } : null,
    pendingLate,
    unsealed: tail + pendingLate,
    erasures: [],
  };
  const problems: SealProblem[] = [];
  const problem = (
    seq: number,
    kind: SealProblem['kind'],
    message: string,
    rows?: number,
  ) =>
    problems.push({
      seq,
      kind,
      message,
      ...(rows === undefined ? {} : { rows }),
    });
  const anchorOf = new Map(anchors.map((a) => [a.seq, a.digest.toLowerCase()]));

  for (const [index, seal] of headers.entries()) {
    if (problems.length) break;
    if (!seal.inWindow) continue;
    const previous = headers[index - 1];
    const next = headers[index + 1];
    const expectedSeq = previous ? previous.seq + 1 : 1;
    result.sealsChecked++;
    if (seal.seq !== expectedSeq && !(seal.kind === 'tombstone' && !previous)) {
      problem(
        expectedSeq,
        'seal-removed',
        `seal ${expectedSeq}${seal.seq - expectedSeq > 1 ? ` to ${seal.seq - 1}` : ''} is missing from the chain`,
      );
      break;
    }
    if (
      previous
        ? seal.prev !== previous.digest || seal.fromUs !== previous.toUs
        : seal.kind === 'seal' &&
          (seal.prev !== GENESIS_DIGEST || seal.fromUs !== null)
    ) {
      problem(
        seal.seq,
        'seal-edited',
        `seal ${seal.seq} no longer links to the seal before it`,
      );
      break;
    }
    if (next?.seq === seal.seq + 1 && next.fromUs !== seal.toUs) {
      problem(
        seal.seq,
        'seal-edited',
        `seal ${seal.seq}'s range no longer ends where seal ${next.seq} starts`,
      );
      break;
    }
    if (seal.kind === 'tombstone') continue;
    const rows = found.get(`${firmId}:${seal.seq}`) ?? {
      n: 0,
      digest: new SealHash(seal.prev, seal.encoding).digest(),
      references: [],
    };
    const digest = rows.digest;
    result.rowsChecked += rows.n;
    if (digest === seal.digest) {
      if (rows.n !== seal.rowCount) {
        problem(
          seal.seq,
          'seal-edited',
          `seal ${seal.seq}'s row count was changed: its rows still match its digest`,
        );
      } else if (seal.encoding === 2) {
        const { erasure, edited } = referenceFinding(
          log,
          seal.seq,
          rows.references,
          existing,
        );
        if (edited) problem(seal.seq, 'row-edited', edited);
        if (erasure) result.erasures.push(erasure);
      }
    } else if (rows.n < seal.rowCount) {
      const missing = seal.rowCount - rows.n;
      problem(
        seal.seq,
        'row-missing',
        `${missing} row(s) sealed by seal ${seal.seq} are missing`,
        missing,
      );
    } else if (rows.n > seal.rowCount) {
      const inserted = rows.n - seal.rowCount;
      problem(
        seal.seq,
        'row-inserted',
        `${inserted} row(s) were inserted into the range of seal ${seal.seq} after it was made`,
        inserted,
      );
    } else if (digest === next?.prev || digest === anchorOf.get(seal.seq)) {
      problem(
        seal.seq,
        'seal-edited',
        `seal ${seal.seq}'s digest was changed: its rows still match the digest published for it`,
      );
    } else {
      problem(
        seal.seq,
        'row-edited',
        rowEditedMessage(log, seal.seq, seal.encoding, rows.references),
      );
    }
  }

  const bySeq = new Map(headers.map((seal) => [seal.seq, seal]));
  for (const anchor of anchors) {
    const seal = bySeq.get(anchor.seq);
    const digest = anchor.digest.toLowerCase();
    if (!seal) {
      if (!headers.some((s) => s.kind === 'tombstone' && s.seq > anchor.seq)) {
        problem(
          anchor.seq,
          'seal-removed',
          `seal ${anchor.seq}, published with digest ${digest.slice(0, 16)}…, is gone from the chain`,
        );
      }
    } else if (
      seal.digest !== digest &&
      !(seal.kind === 'tombstone' && seal.seq !== anchor.seq)
    ) {
      problem(
        anchor.seq,
        'seal-edited',
        `seal ${anchor.seq} no longer has the digest published for it (${digest.slice(0, 16)}…)`,
      );
    }
  }
  problems.push(...runProblems.map((p) => ({ seq: 0, ...p })));
  if (gap) {
    const seq = (head?.seq ?? 0) + 1;
    problems.push({
      seq,
      run: gap.run,
      kind: 'row-inserted',
      rows: gap.n,
      message: `${gap.n} row(s) were inserted ${head ? `after seal ${head.seq}` : 'before any seal'}, dated in time run ${gap.run} had sealed`,
    });
  }
  // stable: at one seq, a seal's own problem, then an anchor's, then rows after the last seal
  problems.sort((a, b) => a.seq - b.seq);
  if (problems.length) {
    result.ok = false;
    result.problem = problems[0];
  }
  return result;
}
