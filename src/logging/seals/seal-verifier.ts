import type { EntityManager } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { sealRows, type SealRows } from './seal-rows.js';
import {
  GENESIS_DIGEST,
  type SealableLog,
  type SealEncoding,
} from './seal-encoding.js';
import { SealHash } from './seal-hash.js';
import {
  existingReferences,
  referenceFinding,
  rowEditedMessage,
} from './seal-references.js';
import {
  HEADS_SQL,
  coverJoinSql,
  coverParams,
  lateRows,
  readCovers,
  readRuns,
} from './seal-runs.js';
import { checkRuns, type RunProblem } from './seal-run-check.js';
import type {
  SealAnchor,
  SealProblem,
  SealVerification,
} from './seal.types.js';

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

interface VerifyOptions {
  from?: Date;
  to?: Date;
  anchors?: SealAnchor[];
  runAnchors?: SealAnchor[];
  /** The late window of seals made before runs, for firms no run has covered yet. */
  lateWindowMs: number;
}

/** Rows of a firm after its last seal in time a run covered: how many, and the run. */
interface Gap {
  n: number;
  run: number;
}

/**
 * Recomputes the chains over `log` of firm `firmId`, or of every firm with seals when it is
 * undefined, and reports each firm's first bad seal (see `AuditSealService.verify`). Reads in the
 * caller's transaction on `manager`; the rows' digests are recomputed in one pass over the log for
 * all the firms asked ({@link sealRows}).
 */
export async function verifyChains(
  manager: EntityManager,
  log: SealableLog,
  firmId: string | undefined,
  { from, to, anchors = [], runAnchors = [], lateWindowMs }: VerifyOptions,
): Promise<SealVerification[]> {
  const us = (column: string) =>
    `(extract(epoch FROM ${column}) * 1000000)::bigint::text`;
  const headers = await manager.query<SealHeader[]>(
    `SELECT id, firm_id AS "firmId", seq, kind, ${us('from_created_at')} AS "fromUs",
            ${us('to_created_at')} AS "toUs",
            encode(prev_digest, 'hex') AS prev, encode(digest, 'hex') AS digest,
            row_count::float8 AS "rowCount", late_ids AS "lateIds", encoding,
            (($3::timestamptz IS NULL OR to_created_at >= $3::timestamptz)
              AND ($4::timestamptz IS NULL OR from_created_at IS NULL
                   OR from_created_at < $4::timestamptz)) AS "inWindow"
       FROM ${LOG_SEAL_TABLE} WHERE log = $1 AND ($2::uuid IS NULL OR firm_id = $2::uuid)
      ORDER BY firm_id, seq`,
    [log, firmId ?? null, from ?? null, to ?? null],
  );
  const chains = new Map<string, SealHeader[]>(firmId ? [[firmId, []]] : []);
  for (const header of headers) {
    const chain = chains.get(header.firmId) ?? [];
    chain.push(header);
    chains.set(header.firmId, chain);
  }
  // late arrivals not sealed yet, by the windows each run recorded: outside every chain until the
  // next seal takes them
  const covers = await readCovers(manager, log, firmId);
  const pending = await lateRows<{ firmId: string; id: string }>(
    manager,
    log,
    firmId,
    covers,
    lateWindowMs,
    `a.firm_id AS "firmId", a.id`,
  );
  const skip = pending.map((row) => row.id);
  // rows after each firm's last seal, but for the late arrivals: dated in time its cover run
  // sealed, they were inserted since (a gap); dated after it, or for a firm no run covered, no
  // seal holds them yet (a tail). One pass over the rows after the heads.
  const gaps = new Map<string, Gap>();
  const tails = new Map<string, number>();
  for (const after of await manager.query<
    { firmId: string; run: number | null; gap: number; tail: number }[]
  >(
    `SELECT a.firm_id AS "firmId", max(p.seq) AS run,
            count(*) FILTER (WHERE a.created_at <= p.upto)::int AS gap,
            count(*) FILTER (WHERE p.seq IS NULL OR a.created_at > p.upto)::int AS tail
       FROM ${log} a LEFT JOIN (${HEADS_SQL}) h ON h.firm_id = a.firm_id
       ${coverJoinSql(log, 3, true)}
      WHERE ($2::uuid IS NULL OR a.firm_id = $2::uuid)
        AND (h.id IS NULL OR (a.created_at, a.id) > (h.to_created_at, h.to_id))
        AND a.id <> ALL ($6::uuid[])
        AND ($7::timestamptz IS NULL OR a.created_at >= $7::timestamptz)
        AND ($8::timestamptz IS NULL OR a.created_at < $8::timestamptz)
      GROUP BY a.firm_id`,
    [
      log,
      firmId ?? null,
      ...coverParams(covers),
      skip,
      from ?? null,
      to ?? null,
    ],
  )) {
    if (after.gap) gaps.set(after.firmId, { n: after.gap, run: after.run! });
    if (after.tail) tails.set(after.firmId, after.tail);
    if (!chains.has(after.firmId)) chains.set(after.firmId, []);
  }
  const runProblems = await checkRuns(
    manager,
    log,
    await readRuns(manager, log),
    runAnchors,
  );
  const checked = new Map(
    [...chains].map(([firm, chain]) => [
      firm,
      chain.filter((seal) => seal.inWindow && seal.kind === 'seal'),
    ]),
  );
  const found = new Map(
    (
      await sealRows(
        manager,
        log,
        new Map(
          [...checked]
            .filter(([, seals]) => seals.length)
            .map(([firm, seals]) => [firm, seals.map((seal) => seal.seq)]),
        ),
        skip,
      )
    ).map((rows) => [`${rows.firmId}:${rows.seq}`, rows]),
  );
  // the referenced rows of groups no longer found: deleted (an erasure) or not (tampering)
  const existing = await existingReferences(manager, log, found.values());
  return [...chains].map(([firm, chain]) =>
    diagnose(log, firm, chain, anchors, found, {
      pendingLate: pending.filter((row) => row.firmId === firm).length,
      tail: tails.get(firm) ?? 0,
      gap: gaps.get(firm),
      runProblems,
      existing,
    }),
  );
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
