import type { EntityManager } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import {
  digestSql,
  GENESIS_DIGEST,
  type SealableLog,
} from './seal-encoding.js';
import { lateRowSql } from './sealer.js';
import type {
  SealAnchor,
  SealProblem,
  SealVerification,
} from './seal.types.js';

/** A seal's fields as verification compares them: instants as text, to the microsecond. */
interface Header {
  id: string;
  seq: number;
  kind: 'seal' | 'tombstone';
  from: string | null;
  to: string;
  prev: string;
  digest: string;
  rowCount: number;
  lateIds: string[];
  inWindow: boolean;
}

/**
 * Recomputes the chain of `firmId` over `log` and reports the first bad seal (see
 * `AuditSealService.verify`). Reads in the caller's transaction on `manager`.
 */
export async function verifyChain(
  manager: EntityManager,
  log: SealableLog,
  firmId: string,
  {
    from,
    to,
    anchors = [],
    lateWindowMs,
  }: {
    from?: Date;
    to?: Date;
    anchors?: SealAnchor[];
    lateWindowMs: number;
  },
): Promise<SealVerification> {
  const headers = await manager.query<Header[]>(
    `SELECT id, seq, kind, from_created_at::text AS "from", to_created_at::text AS "to",
            encode(prev_digest, 'hex') AS prev, encode(digest, 'hex') AS digest,
            row_count::float8 AS "rowCount", late_ids AS "lateIds",
            (($3::timestamptz IS NULL OR to_created_at >= $3::timestamptz)
              AND ($4::timestamptz IS NULL OR from_created_at IS NULL
                   OR from_created_at < $4::timestamptz)) AS "inWindow"
       FROM ${LOG_SEAL_TABLE} WHERE log = $1 AND firm_id = $2 ORDER BY seq`,
    [log, firmId, from ?? null, to ?? null],
  );
  const head = headers.at(-1);
  const pending = head
    ? (
        await manager.query<{ id: string }[]>(
          `SELECT a.id FROM ${log} a, ${LOG_SEAL_TABLE} h
            WHERE h.id = $1 AND ${lateRowSql(log, '$2')}`,
          [head.id, lateWindowMs],
        )
      ).map((row) => row.id)
    : [];
  const result: SealVerification = {
    log,
    firmId,
    ok: true,
    sealsChecked: 0,
    rowsChecked: 0,
    last: head ? { seq: head.seq, digest: head.digest } : null,
    pendingLate: pending.length,
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
        ? seal.prev !== previous.digest || seal.from !== previous.to
        : seal.kind === 'seal' &&
          (seal.prev !== GENESIS_DIGEST || seal.from !== null)
    ) {
      problem(
        seal.seq,
        'seal-edited',
        `seal ${seal.seq} no longer links to the seal before it`,
      );
      break;
    }
    if (next?.seq === seal.seq + 1 && next.from !== seal.to) {
      problem(
        seal.seq,
        'seal-edited',
        `seal ${seal.seq}'s range no longer ends where seal ${next.seq} starts`,
      );
      break;
    }
    if (seal.kind === 'tombstone') continue;
    const laterLate = headers
      .slice(index + 1)
      .flatMap((later) => later.lateIds);
    const [found] = await manager.query<{ n: number; digest: string }[]>(
      `WITH s AS (SELECT * FROM ${LOG_SEAL_TABLE} WHERE id = $1),
       rows AS (
         SELECT a.* FROM ${log} a, s
          WHERE a.firm_id = s.firm_id
            AND (s.from_created_at IS NULL OR (a.created_at, a.id) > (s.from_created_at, s.from_id))
            AND (a.created_at, a.id) <= (s.to_created_at, s.to_id)
            AND NOT (a.id = ANY ($2::uuid[]))
         UNION ALL
         SELECT a.* FROM ${log} a, s WHERE a.firm_id = s.firm_id AND a.id = ANY (s.late_ids))
       SELECT count(*)::float8 AS n,
              encode(${digestSql(log, '(SELECT prev_digest FROM s)')}, 'hex') AS digest
         FROM rows a`,
      [seal.id, [...laterLate, ...pending]],
    );
    result.rowsChecked += found.n;
    if (found.digest === seal.digest) {
      if (found.n !== seal.rowCount) {
        problem(
          seal.seq,
          'seal-edited',
          `seal ${seal.seq}'s row count was changed: its rows still match its digest`,
        );
      }
    } else if (found.n < seal.rowCount) {
      const rows = seal.rowCount - found.n;
      problem(
        seal.seq,
        'row-missing',
        `${rows} row(s) sealed by seal ${seal.seq} are missing`,
        rows,
      );
    } else if (found.n > seal.rowCount) {
      const rows = found.n - seal.rowCount;
      problem(
        seal.seq,
        'row-inserted',
        `${rows} row(s) were inserted into the range of seal ${seal.seq} after it was made`,
        rows,
      );
    } else if (
      found.digest === next?.prev ||
      found.digest === anchorOf.get(seal.seq)
    ) {
      problem(
        seal.seq,
        'seal-edited',
        `seal ${seal.seq}'s digest was changed: its rows still match the digest published for it`,
      );
    } else {
      problem(
        seal.seq,
        'row-edited',
        `a row sealed by seal ${seal.seq} was changed`,
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
  problems.sort((a, b) => a.seq - b.seq);
  if (problems.length) {
    result.ok = false;
    result.problem = problems[0];
  }
  return result;
}
