import type { EntityManager } from 'typeorm';
import type { SealableLog } from './seal-encoding.js';
import type { SealAnchor, SealProblemKind } from './seal.types.js';
import {
  GENESIS_DIGEST,
  headsAfter,
  headsDigest,
  runDigest,
  type RunRow,
} from './seal-runs.js';

/** What is wrong with a log's chain of runs: the run concerned and what. */
export interface RunProblem {
  run: number;
  kind: Extract<SealProblemKind, 'seal-edited' | 'seal-removed'>;
  message: string;
}

/**
 * Checks a log's chain of runs: seqs from 1 without gaps, each linked to the one before, each
 * digest recomputed from its fields; and each run published as an anchor still there, with its
 * digest, and its heads still those the seals hold (its firms' last seals as of it). Returns the
 * first problem, if any.
 */
export async function checkRuns(
  manager: EntityManager,
  log: SealableLog,
  runs: RunRow[],
  anchors: SealAnchor[],
): Promise<RunProblem[]> {
  let previous: RunRow | undefined;
  for (const run of runs) {
    const expected = previous ? previous.seq + 1 : 1;
    if (run.seq !== expected) {
      return [
        {
          run: expected,
          kind: 'seal-removed',
          message: `run ${expected}${run.seq - expected > 1 ? ` to ${run.seq - 1}` : ''} of ${log} is missing`,
        },
      ];
    }
    if (run.prevDigest !== (previous?.digest ?? GENESIS_DIGEST)) {
      return [
        {
          run: run.seq,
          kind: 'seal-edited',
          message: `run ${run.seq} of ${log} no longer links to the run before it`,
        },
      ];
    }
    if (runDigest(log, run) !== run.digest) {
      return [
        {
          run: run.seq,
          kind: 'seal-edited',
          message: `run ${run.seq} of ${log} no longer matches its digest: its cutoff, snapshot or windows were changed`,
        },
      ];
    }
    previous = run;
  }
  const bySeq = new Map(runs.map((run) => [run.seq, run]));
  for (const anchor of [...anchors].sort((a, b) => a.seq - b.seq)) {
    const run = bySeq.get(anchor.seq);
    const digest = anchor.digest.toLowerCase();
    if (!run) {
      return [
        {
          run: anchor.seq,
          kind: 'seal-removed',
          message: `run ${anchor.seq} of ${log}, published with digest ${digest.slice(0, 16)}…, is gone`,
        },
      ];
    }
    if (run.digest !== digest) {
      return [
        {
          run: run.seq,
          kind: 'seal-edited',
          message: `run ${run.seq} of ${log} no longer has the digest published for it (${digest.slice(0, 16)}…)`,
        },
      ];
    }
    const heads = await headsAfter(manager, log, run.firmId, run.seq);
    if (headsDigest(heads) !== run.headsDigest) {
      return [
        {
          run: run.seq,
          kind: 'seal-removed',
          message: `the seals no longer end where run ${run.seq} of ${log} left them: a seal made by then was removed or changed`,
        },
      ];
    }
  }
  return [];
}
