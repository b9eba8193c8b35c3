import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { LOG_SEAL_TABLE } from '../entities/log-seal.entity.js';
import { instantSql } from './seal-runs.js';
import type {
  ArchiveConfirmRefusal,
  ArchiveConfirmation,
  ArchiveManifest,
  ArchiveVerifyQuery,
} from './archive.types.js';
import { MANIFEST_FILE, SEALS_FILE, parseMonth } from './archive-format.js';
import { verifyArchive } from './archive-verify.js';

/**
 * Whether the month archived in `query.dir` may leave the database: the archive verifies offline,
 * the database's seals of the month are exactly the archive's (same firms, seqs and digests), the
 * rows dated in the month are those the archive holds plus those later seals hold, and no later
 * seal holds one. Reads in one REPEATABLE READ transaction.
 */
export async function confirmArchive(
  dataSource: DataSource,
  query: ArchiveVerifyQuery,
): Promise<ArchiveConfirmation> {
  const verification = await verifyArchive(query);
  const result = (
    refusal?: [ArchiveConfirmRefusal, string],
    heldByLaterSeals = 0,
  ): ArchiveConfirmation => ({
    droppable: refusal === undefined,
    ...(refusal === undefined
      ? {}
      : { refusal: refusal[0], reason: refusal[1] }),
    verification,
    heldByLaterSeals,
  });
  if (!verification.ok) {
    const p = verification.problem!;
    return result([
      'unverified',
      `the archive does not verify: ${p.kind} in ${p.file}: ${p.message}`,
    ]);
  }
  const manifest = JSON.parse(
    await readFile(join(query.dir, MANIFEST_FILE), 'utf8'),
  ) as ArchiveManifest;
  const month = parseMonth('confirm', manifest.month);
  const bounds = [month.fromUs.toString(), month.toUs.toString()];
  const archived = (await readFile(join(query.dir, SEALS_FILE), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const s = JSON.parse(line) as {
        firm_id: string;
        seq: number;
        digest: string;
      };
      return `${s.firm_id}:${s.seq}:${s.digest}`;
    });
  const log = manifest.log;
  return dataSource.transaction('REPEATABLE READ', async (manager) => {
    const seals = await manager.query<{ key: string; kind: string }[]>(
      `SELECT firm_id::text || ':' || seq || ':' || encode(digest, 'hex') AS key, kind
         FROM ${LOG_SEAL_TABLE}
        WHERE log = $1 AND to_created_at >= ${instantSql('$2::bigint')}
          AND to_created_at < ${instantSql('$3::bigint')}
        ORDER BY firm_id, seq`,
      [log, ...bounds],
    );
    if (seals.some((s) => s.kind === 'tombstone')) {
      return result([
        'purged',
        `${log} ${manifest.month} was purged already: its seals are tombstones`,
      ]);
    }
    const now = seals.map((s) => s.key);
    const changed =
      now.find((key) => !archived.includes(key)) ??
      archived.find((key) => !now.includes(key));
    if (changed !== undefined) {
      const [firm, seq] = changed.split(':');
      return result([
        'seals-changed',
        `the database's seals of ${log} ${manifest.month} are not the archive's: seal ${seq} of firm ${firm} differs`,
      ]);
    }
    const [{ rows, later }] = await manager.query<
      { rows: number; later: number }[]
    >(
      `SELECT (SELECT count(*)::int FROM ${log} a
                WHERE a.created_at >= ${instantSql('$2::bigint')}
                  AND a.created_at < ${instantSql('$3::bigint')}) AS rows,
              (SELECT count(*)::int FROM ${LOG_SEAL_TABLE} x, unnest(x.late_ids) AS l(id), ${log} a
                WHERE x.log = $1 AND x.to_created_at >= ${instantSql('$3::bigint')}
                  AND a.id = l.id AND a.firm_id = x.firm_id
                  AND a.created_at >= ${instantSql('$2::bigint')}
                  AND a.created_at < ${instantSql('$3::bigint')}) AS later`,
      [log, ...bounds],
    );
    const inMonth = manifest.rows.total - manifest.rows.datedBefore;
    if (rows !== inMonth + later) {
      return result(
        [
          'rows-changed',
          `the database holds ${rows} row(s) of ${log} dated in ${manifest.month}, the archive ${inMonth} and later seals ${later}: rows were added or removed since the export`,
        ],
        later,
      );
    }
    if (later > 0) {
      return result(
        [
          'held-by-later-seals',
          `${later} row(s) dated in ${manifest.month} are held by seals of a later month, in its archive: they stay in the database, apart from the rest of the month, until that month's rows leave too`,
        ],
        later,
      );
    }
    return result(undefined);
  });
}
