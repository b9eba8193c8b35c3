import type { EntityManager } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { sealRows } from './seal-rows.js';
import type { SealableLog } from './seal-encoding.js';
import { diagnose, type Gap, type SealHeader } from './seal-diagnosis.js';
import { existingReferences } from './seal-references.js';
import {
  HEADS_SQL,
  coverJoinSql,
  coverParams,
  lateRows,
  readCovers,
  readRuns,
} from './seal-runs.js';
import { checkRuns } from './seal-run-check.js';
import type { SealAnchor, SealVerification } from './seal.types.js';

interface VerifyOptions {
  from?: Date;
  to?: Date;
  anchors?: SealAnchor[];
  runAnchors?: SealAnchor[];
  /** The late window of seals made before runs, for firms no run has covered yet. */
  lateWindowMs: number;
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
