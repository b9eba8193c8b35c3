import { join, resolve } from 'node:path';
import type { DataSource, QueryRunner } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { AuditArchiveError } from './seal.errors.js';
import { SEAL_COLUMNS, type SealableLog } from './seal-encoding.js';
import { existingReferences } from './seal-references.js';
import { instantSql, readCovers, usSql } from './seal-runs.js';
import { diagnose } from './seal-diagnosis.js';
import type { SealVerification } from './seal.types.js';
import type {
  ArchiveChain,
  ArchiveErasure,
  ArchiveExport,
  ArchiveManifest,
} from './archive.types.js';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_FORMAT_VERSION,
  isoOfUs,
  MANIFEST_FILE,
  manifestText,
  moduleVersion,
  ROWS_FILE,
  SEALS_FILE,
  type ArchiveSeal,
  type Month,
} from './archive-format.js';
import {
  LineFile,
  makeArchiveDir,
  removeArchive,
  writeSynced,
} from './archive-files.js';
import { headerOf, monthRows, type MonthRows } from './archive-rows.js';
import { groupBy } from './archive-chain.js';
import { verifyArchive } from './archive-verify.js';

const refuse = (
  reason: AuditArchiveError['reason'],
  message: string,
  problem?: AuditArchiveError['problem'],
): never => {
  throw new AuditArchiveError(reason, message, problem);
};

/**
 * Exports month `month` of `log` to `dir` (checked by the caller; `missing` when the export
 * creates it): refuses a month not closed, not fully sealed, purged or whose seals no longer match
 * their rows, writing nothing; otherwise writes the rows, the seals and the manifest, syncs them,
 * and reads them back through the offline verifier. Reads in one REPEATABLE READ transaction.
 */
export async function exportArchive(
  dataSource: DataSource,
  log: SealableLog,
  month: Month,
  dir: string,
  missing: boolean,
): Promise<ArchiveExport> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  let written = false;
  try {
    await runner.startTransaction('REPEATABLE READ');
    await runner.query('SET TRANSACTION READ ONLY');
    const closedBy = await checkClosed(runner, log, month);
    const { seals, neighbours } = await monthSeals(runner, log, month);
    await makeArchiveDir(dir, missing);
    written = true;
    const rows = await LineFile.create(join(dir, ROWS_FILE));
    let found: MonthRows;
    try {
      found = await monthRows(runner, log, month, seals, rows);
    } catch (error) {
      await rows.abandon();
      throw error;
    }
    const rowsFile = await rows.close();
    const verdicts = await judge(runner, log, seals, neighbours, found);
    await runner.commitTransaction();
    const sealsFile = await LineFile.create(join(dir, SEALS_FILE));
    for (const seal of seals) sealsFile.push(JSON.stringify(seal));
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      formatVersion: ARCHIVE_FORMAT_VERSION,
      module: moduleVersion(),
      log,
      month: month.month,
      fromCreatedAt: month.fromUs.toString(),
      toCreatedAt: month.toUs.toString(),
      exportedAt: new Date().toISOString(),
      columns: SEAL_COLUMNS[log].map(([column]) => column),
      closedBy,
      files: { [ROWS_FILE]: rowsFile, [SEALS_FILE]: await sealsFile.close() },
      rows: {
        total: found.total,
        datedBefore: found.datedBefore,
        inLaterSeals: found.inLaterSeals,
      },
      seals: seals.length,
      firms: chainsOf(seals, found),
      erasures: verdicts.flatMap((v) =>
        v.erasures.map(
          ({ seq, column, rows: n, references }): ArchiveErasure => ({
            firmId: v.firmId,
            seq,
            column,
            rows: n,
            references,
          }),
        ),
      ),
      manifestDigest: '',
    };
    const text = manifestText(manifest);
    await writeSynced(join(dir, MANIFEST_FILE), text);
    const verification = await verifyArchive({ dir });
    if (!verification.ok) {
      throw new Error(
        `the archive written to ${dir} does not verify when read back: ${verification.problem!.message}`,
      );
    }
    return {
      dir: resolve(dir),
      manifest: JSON.parse(text) as ArchiveManifest,
      verification,
    };
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    if (written) await removeArchive(dir, missing);
    throw error;
  } finally {
    await runner.release();
  }
}

/** The month must have ended and every cover run have sealed it, with no late arrival to come. */
async function checkClosed(
  runner: QueryRunner,
  log: SealableLog,
  month: Month,
): Promise<ArchiveManifest['closedBy']> {
  const name = `${log} ${month.month}`;
  const [{ nowUs }] = (await runner.query(
    `SELECT ${usSql('now()')} AS "nowUs"`,
  )) as {
    nowUs: string;
  }[];
  if (BigInt(nowUs) < month.toUs) {
    refuse('not-closed', `${name} is not closed: the month has not ended`);
  }
  const covers = await readCovers(runner, log, undefined);
  if (!covers.all) {
    refuse(
      'not-closed',
      `${name} is not closed: no sealing run over every firm has covered it (AuditSealService.seal())`,
    );
  }
  const last = month.toUs - 1n;
  for (const run of [covers.all!, ...covers.firms.values()]) {
    if (BigInt(run.uptoUs) < last) {
      refuse(
        'not-closed',
        `${name} is not closed: run ${run.seq}, the latest over ${run.firmId ? `firm ${run.firmId}` : 'every firm'}, sealed up to ${isoOfUs(run.uptoUs)} only; seal again`,
      );
    }
    const lateWindowUs = BigInt(Math.round(run.lateWindowMs * 1000));
    if (BigInt(run.sealedAtUs) - lateWindowUs < last) {
      refuse(
        'not-closed',
        `${name} is not closed: rows dated in it can still be sealed as late arrivals within run ${run.seq}'s late window (${run.lateWindowMs} ms); seal again after ${isoOfUs(last + lateWindowUs)}`,
      );
    }
  }
  return {
    run: covers.all!.seq,
    upto: isoOfUs(covers.all!.uptoUs),
    digest: covers.all!.digest,
  };
}

const SEAL_LINE_SQL = `firm_id::text AS firm_id, seq, kind,
  ${usSql('from_created_at')} AS from_created_at, from_id::text AS from_id,
  ${usSql('to_created_at')} AS to_created_at, to_id::text AS to_id, range_count,
  late_ids::text[] AS late_ids, row_count::float8 AS row_count,
  encode(prev_digest, 'hex') AS prev_digest, encode(digest, 'hex') AS digest, encoding::int AS encoding,
  ref_ids::text[] AS ref_ids, ref_rows,
  ARRAY(SELECT encode(d, 'hex') FROM unnest(ref_digests) WITH ORDINALITY AS u(d, o) ORDER BY o) AS ref_digests,
  snapshot, ${usSql('sealed_at')} AS sealed_at, run_seq`;

/**
 * The seals of `log` whose range ends in the month, in firm and seq order, and each firm's
 * neighbours: the seal before its first (the chain's link into the month) and the seal after its
 * last (which tells an edited digest from an edited row, as `verify` does). A tombstone among the
 * month's: purged.
 */
async function monthSeals(
  runner: QueryRunner,
  log: SealableLog,
  month: Month,
): Promise<{ seals: ArchiveSeal[]; neighbours: ArchiveSeal[] }> {
  const seals = (await runner.query(
    `SELECT ${SEAL_LINE_SQL} FROM ${LOG_SEAL_TABLE}
      WHERE log = $1 AND to_created_at >= ${instantSql('$2::bigint')}
        AND to_created_at < ${instantSql('$3::bigint')}
      ORDER BY firm_id, seq`,
    [log, month.fromUs.toString(), month.toUs.toString()],
  )) as ArchiveSeal[];
  const tombstone = seals.find((s) => s.kind === 'tombstone');
  if (tombstone) {
    refuse(
      'purged',
      `${log} ${month.month} was purged: seal ${tombstone.seq} of firm ${tombstone.firm_id} is a tombstone, its rows are gone`,
    );
  }
  const ends = seals.flatMap((s, i) => [
    ...(seals[i - 1]?.firm_id !== s.firm_id && s.seq > 1
      ? [{ firm: s.firm_id, seq: s.seq - 1 }]
      : []),
    ...(seals[i + 1]?.firm_id !== s.firm_id
      ? [{ firm: s.firm_id, seq: s.seq + 1 }]
      : []),
  ]);
  const neighbours = (await runner.query(
    `SELECT ${SEAL_LINE_SQL} FROM ${LOG_SEAL_TABLE}
      WHERE log = $1 AND (firm_id, seq) IN (SELECT * FROM unnest($2::uuid[], $3::int[]))
      ORDER BY firm_id, seq`,
    [log, ends.map((e) => e.firm), ends.map((e) => e.seq)],
  )) as ArchiveSeal[];
  return { seals, neighbours };
}

/**
 * Each firm's verdict over the month's seals, as `verify` gives it; refuses the month when one
 * is not ok, or when rows dated in it are held by no seal.
 */
async function judge(
  runner: QueryRunner,
  log: SealableLog,
  seals: ArchiveSeal[],
  neighbours: ArchiveSeal[],
  found: MonthRows,
): Promise<SealVerification[]> {
  const existing = await existingReferences(runner, log, found.found.values());
  const around = groupBy(neighbours, (s) => s.firm_id);
  const verdicts = [...groupBy(seals, (s) => s.firm_id)].map(([firm, month]) =>
    diagnose(
      log,
      firm,
      [
        ...(around.get(firm) ?? []).map((s) => headerOf(s, false)),
        ...month.map((s) => headerOf(s, true)),
      ].sort((a, b) => a.seq - b.seq),
      [],
      found.found,
      // the month is closed and sealed (checked above): no row after its last seal counts
      { pendingLate: 0, tail: 0, runProblems: [], existing },
    ),
  );
  const bad = verdicts.find((v) => !v.ok);
  if (bad) {
    const { seq, kind, message } = bad.problem!;
    refuse(
      'tampered',
      `${log}: firm ${bad.firmId}, seal ${seq}, ${kind}: ${message}`,
      { firmId: bad.firmId, ...bad.problem! },
    );
  }
  const [unheld] = found.unheld;
  if (unheld) {
    const [firmId, n] = unheld;
    refuse(
      'not-sealed',
      `${log}: ${n} row(s) of firm ${firmId} dated in the month are held by no seal (verify reports them as row-inserted)`,
      {
        firmId,
        seq: 0,
        kind: 'row-inserted',
        rows: n,
        message: `${n} row(s) dated in the month are held by no seal`,
      },
    );
  }
  return verdicts;
}

/** Each firm's chain in the archive, for the manifest. */
function chainsOf(seals: ArchiveSeal[], found: MonthRows): ArchiveChain[] {
  const chains: ArchiveChain[] = [];
  for (const seal of seals) {
    const rows = found.found.get(`${seal.firm_id}:${seal.seq}`)?.n ?? 0;
    const chain = chains.at(-1);
    if (chain?.firmId === seal.firm_id) {
      chain.lastSeq = seal.seq;
      chain.digest = seal.digest;
      chain.rows += rows;
      continue;
    }
    chains.push({
      firmId: seal.firm_id,
      firstSeq: seal.seq,
      lastSeq: seal.seq,
      prevDigest: seal.prev_digest,
      fromCreatedAt: seal.from_created_at,
      digest: seal.digest,
      rows,
    });
  }
  return chains;
}
