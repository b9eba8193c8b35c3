import { AuditSealQueryError } from './seal.errors.js';
import { checkLog } from './seal-args.js';
import type { SealableLog } from './seal-encoding.js';
import type { SealAnchor } from './seal.types.js';
import type {
  ArchiveExportQuery,
  ArchiveVerifyQuery,
} from './archive.types.js';
import { parseMonth, type Month } from './archive-format.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_DIGEST = /^[0-9a-f]{64}$/i;

/** The checked arguments of `export`, or an error naming the field and the rule. */
export function checkExportQuery(query: ArchiveExportQuery): {
  log: SealableLog;
  month: Month;
  dir: string;
} {
  if (typeof query !== 'object' || query === null) {
    throw new AuditSealQueryError(
      'export: the query must be an object with a month and a dir',
    );
  }
  checkLog('export', query.log);
  return {
    log: query.log ?? 'audit_log',
    month: parseMonth('export', query.month),
    dir: query.dir,
  };
}

/** The checked arguments of `verify`, or an error naming the field and the rule. */
export function checkArchiveQuery(query: ArchiveVerifyQuery): {
  dir: string;
  anchors: (SealAnchor & { firmId: string; log?: SealableLog })[];
  manifestDigest?: string;
} {
  if (typeof query !== 'object' || query === null) {
    throw new AuditSealQueryError(
      'verifyArchive: the query must be an object with a dir',
    );
  }
  if (typeof query.dir !== 'string' || query.dir === '') {
    throw new AuditSealQueryError(
      `verifyArchive: dir must be the path of an archive's directory, got ${JSON.stringify(query.dir)}`,
    );
  }
  const anchors = query.anchors ?? [];
  if (
    !Array.isArray(anchors) ||
    anchors.some(
      (a) =>
        typeof a !== 'object' ||
        a === null ||
        typeof a.firmId !== 'string' ||
        !UUID.test(a.firmId) ||
        !Number.isInteger(a.seq) ||
        a.seq < 1 ||
        typeof a.digest !== 'string' ||
        !HEX_DIGEST.test(a.digest),
    )
  ) {
    throw new AuditSealQueryError(
      'verifyArchive: anchors must be a list of { firmId: a UUID, seq: a positive integer, digest: 64 hex digits }',
    );
  }
  if (
    query.manifestDigest !== undefined &&
    (typeof query.manifestDigest !== 'string' ||
      !HEX_DIGEST.test(query.manifestDigest))
  ) {
    throw new AuditSealQueryError(
      'verifyArchive: manifestDigest must be 64 hex digits',
    );
  }
  return {
    dir: query.dir,
    anchors: anchors.map((a) => ({
      firmId: a.firmId.toLowerCase(),
      seq: a.seq,
      digest: a.digest.toLowerCase(),
      ...(a.log ? { log: a.log } : {}),
    })),
    manifestDigest: query.manifestDigest,
  };
}
