import type { EntityManager } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import {
  canonicalColumnsSql,
  type CanonicalRow,
  compareKeys,
  GENESIS_DIGEST,
  rowKey,
  type SealableLog,
} from './seal-encoding.js';
import { SealHash } from './seal-hash.js';
import { lateRowSql } from './sealer.js';
import type {
  SealAnchor,
  SealProblem,
  SealVerification,
} from './seal.types.js';

/** A seal's fields as verification compares them: bounds in microseconds, to compare exactly. */
interface Header {
  id: string;
  seq: number;
  kind: 'seal' | 'tombstone';
  fromUs: string | null;
  fromId: string | null;
  fromAt: string | null;
  toUs: string;
  toAt: string;
  toId: string;
  prev: string;
  digest: string;
  rowCount: number;
  lateIds: string[];
  inWindow: boolean;
}

const FETCH = 10_000;

/**
 * Recomputes the chain of `firmId` over `log` and reports the first bad seal (see
 * `AuditSealService.verify`). Reads in the caller's transaction on `manager`: the firm's rows once,
 * in `(created_at, id)` order through a cursor, each hashed into the seal it belongs to.
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
  const us = (column: string) =>
    `(extract(epoch FROM ${column}) * 1000000)::bigint::text`;
  const headers = await manager.query<Header[]>(
    `SELECT id, seq, kind, ${us('from_created_at')} AS "fromUs", from_id AS "fromId", from_created_at::text AS "fromAt", to_created_at::text AS "toAt",
            ${us('to_created_at')} AS "toUs",
            to_id AS "toId", encode(prev_digest, 'hex') AS prev, encode(digest, 'hex') AS digest,
            row_count::float8 AS "rowCount", late_ids AS "lateIds",
            (($3::timestamptz IS NULL OR to_created_at >= $3::timestamptz)
              AND ($4::timestamptz IS NULL OR from_created_at IS NULL
                   OR from_created_at < $4::timestamptz)) AS "inWindow"
       FROM ${LOG_SEAL_TABLE} WHERE log = $1 AND firm_id = $2 ORDER BY seq`,
    [log, firmId, from ?? null, to ?? null],
  );
  const head = headers.at(-1);
  const pending = new Set(
    head
      ? (
          await manager.query<{ id: string }[]>(
            `SELECT a.id FROM ${log} a, ${LOG_SEAL_TABLE} h
              WHERE h.id = $1 AND ${lateRowSql(log, '$2')}`,
            [head.id, lateWindowMs],
          )
        ).map((row) => row.id)
      : [],
  );
  const result: SealVerification = {
    log,
    firmId,
    ok: true,
    sealsChecked: 0,
    rowsChecked: 0,
    last: head ? { seq: head.seq, digest: head.digest } : null,
    pendingLate: pending.size,
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

  // Every row of the checked seals, each hashed into its own seal's digest.
  const checked = headers.filter(
    (seal) => seal.inWindow && seal.kind === 'seal',
  );
  const found = new Map(
    checked.map((seal) => [
      seal.seq,
      { hash: new SealHash(log, seal.prev), n: 0 },
    ]),
  );
  const lateOwner = new Map<string, number>();
  for (const seal of headers)
    for (const id of seal.lateIds) lateOwner.set(id, seal.seq);
  if (checked.length) {
    const first = checked[0];
    const last = checked.at(-1)!;
    await manager.query(`SET LOCAL work_mem = '128MB'`);
    await manager.query(
      `DECLARE logging_verify_rows NO SCROLL CURSOR FOR
         SELECT ${canonicalColumnsSql(log)} FROM ${log} a
          WHERE a.firm_id = $1
            AND ($2::timestamptz IS NULL OR (a.created_at, a.id) > ($2::timestamptz, $3::uuid))
            AND (a.created_at, a.id) <= ($4::timestamptz, $5::uuid)
             OR a.firm_id = $1 AND a.id = ANY ($6::uuid[])
          ORDER BY a.created_at, a.id`,
      [
        firmId,
        first.fromAt,
        first.fromId,
        last.toAt,
        last.toId,
        checked.flatMap((seal) => seal.lateIds),
      ],
    );
    let range = 0;
    for (;;) {
      const rows = await manager.query<CanonicalRow[]>(
        `FETCH ${FETCH} FROM logging_verify_rows`,
      );
      for (const row of rows) {
        const id = row.c0!;
        if (pending.has(id)) continue;
        let owner = lateOwner.get(id);
        if (owner === undefined) {
          const key = rowKey(log, row);
          while (
            range < checked.length - 1 &&
            compareKeys(key, [
              BigInt(checked[range].toUs),
              checked[range].toId,
            ]) > 0
          )
            range++;
          owner = checked[range].seq;
        }
        const into = found.get(owner);
        if (!into) continue;
        into.hash.add(row);
        into.n++;
      }
      if (rows.length < FETCH) break;
    }
    await manager.query('CLOSE logging_verify_rows');
  }

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
    const rows = found.get(seal.seq)!;
    const digest = rows.hash.digest();
    result.rowsChecked += rows.n;
    if (digest === seal.digest) {
      if (rows.n !== seal.rowCount) {
        problem(
          seal.seq,
          'seal-edited',
          `seal ${seal.seq}'s row count was changed: its rows still match its digest`,
        );
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
