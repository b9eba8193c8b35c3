import { Inject, Injectable, Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { LOGGING_DATA_SOURCE } from '../core/logging.constants.js';
import { checkArchiveDir } from './archive-files.js';
import { checkExportQuery } from './archive-args.js';
import { confirmArchive } from './archive-confirm.js';
import { exportArchive } from './archive-export.js';
import { verifyArchive } from './archive-verify.js';
import type {
  ArchiveConfirmation,
  ArchiveExport,
  ArchiveExportQuery,
  ArchiveVerification,
  ArchiveVerifyQuery,
} from './archive.types.js';

/**
 * Sealed archives of closed months (docs/archives.md): `export()` writes a month of a sealed log
 * to files (its rows in the canonical encoding's order, its seals and a manifest with digests) and
 * `verify()` checks such files offline, with no database, reporting the same kinds as
 * `AuditSealService.verify`. After a verified export, the month's rows can leave the database.
 */
@Injectable()
export class AuditArchiveService {
  private readonly logger = new Logger('LoggingModule');

  constructor(
    @Inject(LOGGING_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  /**
   * Exports the UTC month `month` of `log` to `dir`: refuses, writing nothing, a month that has not
   * ended, that no run over every firm has sealed through its end with its late window passed, with
   * rows no seal holds, purged, or whose seals no longer match their rows; otherwise writes
   * `rows.jsonl`, `seals.jsonl` and `manifest.json`, syncs them, and reads them back through
   * {@link verify}. Reads in one REPEATABLE READ transaction, on a connection of its own.
   *
   * @returns the manifest (publish its `manifestDigest`) and the verification of the files
   * @throws AuditSealQueryError for a bad month or log, or a dir that holds files
   * @throws AuditArchiveError when the month cannot be archived, with the reason and the problem
   * @example
   * const { manifest } = await archives.export({ month: '2026-10', dir: '/archives/audit-2026-10' });
   */
  async export(query: ArchiveExportQuery): Promise<ArchiveExport> {
    const { log, month, dir } = checkExportQuery(query);
    const missing = await checkArchiveDir('export', dir);
    const made = await exportArchive(this.dataSource, log, month, dir, missing);
    this.logger.log(
      `${log} ${month.month}: ${made.manifest.rows.total} rows in ${made.manifest.seals} seals archived to ${made.dir}, manifest ${made.manifest.manifestDigest}`,
    );
    return made;
  }

  /**
   * Verifies the archive in `dir` offline, as `node docs/verify-audit-seals.mjs --archive <dir>`
   * does: every seal recomputed from the rows, the chains, the manifest and the files' digests.
   *
   * @throws AuditSealQueryError for a bad dir, anchors or manifestDigest
   * @example
   * const verdict = await archives.verify({ dir, manifestDigest });
   * if (!verdict.ok) console.error(verdict.problem?.kind, verdict.problem?.message);
   */
  verify(query: ArchiveVerifyQuery): Promise<ArchiveVerification> {
    return verifyArchive(query);
  }

  /**
   * Whether the month archived in `dir` may now leave the database (retention's meeting point,
   * docs/archives.md): the archive verifies offline, the database still holds exactly its seals of
   * the month and its rows dated in the month, and no seal of a later month holds one of those
   * rows. Call it just before purging the month's rows or dropping its partition.
   *
   * @returns `droppable`, and the `reason` when it is not
   * @throws AuditSealQueryError for a bad dir, anchors or manifestDigest
   * @example
   * const { droppable, reason } = await archives.confirm({ dir, manifestDigest });
   * if (!droppable) throw new Error(reason);
   */
  confirm(query: ArchiveVerifyQuery): Promise<ArchiveConfirmation> {
    return confirmArchive(this.dataSource, query);
  }
}
