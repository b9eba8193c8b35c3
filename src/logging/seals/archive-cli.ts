#!/usr/bin/env node
/**
 * Sealed archives from the shell (docs/archives.md):
 * `npm run audit:archive -- --month 2026-10 --out <dir>` (or the package's `logging-audit-archive`
 * bin) exports a closed, sealed month of a log from the database behind `--url` or `DATABASE_URL`;
 * `--verify <dir>` checks an archive offline, with no database. Exits 0 when the archive is made or
 * verifies, 1 when the month is refused or the archive does not verify, 2 on bad arguments or no
 * connection.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AuditArchiveService } from './audit-archive.service.js';
import { verifyArchive } from './archive-verify.js';
import { AuditArchiveError, AuditSealQueryError } from './seal.errors.js';
import type { SealableLog } from './seal-encoding.js';
import type { ArchiveVerification } from './archive.types.js';
import { onDatabase } from '../core/cli-database.js';

const USAGE = `usage: audit:archive --month <YYYY-MM> --out <dir> [--log audit_log|llm_usage_log]
                     [--url <postgres url>] [--json]
       audit:archive --verify <dir> [--anchors <file>] [--manifest-digest <hex>] [--json]
  --month   the closed UTC month to export
  --out     a missing or empty directory for rows.jsonl, seals.jsonl and manifest.json
  --verify  check an archive offline (no database)
  --anchors published seals, one JSON object { firmId, seq, digest[, log] } per line
  --url     default: DATABASE_URL`;

/** One line for the auditor: `VERIFIED …` or `TAMPERED <kind> in <file> …`. */
export function describeArchive(dir: string, v: ArchiveVerification): string {
  if (v.ok) {
    return `VERIFIED  archive ${dir}: ${v.log} ${v.month}, ${v.sealsChecked} seal(s) of ${v.firms} firm(s), ${v.rowsChecked} row(s); manifest ${v.manifestDigest}`;
  }
  const p = v.problem!;
  const where = [
    p.file + (p.line ? ` line ${p.line}` : ''),
    p.firmId ? `firm ${p.firmId}` : '',
    p.seq !== undefined ? `seal ${p.seq}` : '',
  ].filter(Boolean);
  return `TAMPERED  archive ${dir}: ${p.kind} in ${where.join(', ')}: ${p.message}`;
}

async function anchorsFrom(path: string | undefined) {
  if (!path) return [];
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const { firmId, seq, digest, log } = JSON.parse(line) as {
        firmId: string;
        seq: number;
        digest: string;
        log?: SealableLog;
      };
      return { firmId, seq, digest, ...(log ? { log } : {}) };
    });
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        month: { type: 'string' },
        out: { type: 'string' },
        log: { type: 'string', default: 'audit_log' },
        verify: { type: 'string' },
        anchors: { type: 'string' },
        'manifest-digest': { type: 'string' },
        url: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const print = (dir: string, verdict: ArchiveVerification) =>
    console.log(
      values.json ? JSON.stringify(verdict) : describeArchive(dir, verdict),
    );
  if (values.verify) {
    try {
      const verdict = await verifyArchive({
        dir: values.verify,
        anchors: await anchorsFrom(values.anchors),
        manifestDigest: values['manifest-digest'],
      });
      print(values.verify, verdict);
      return verdict.ok ? 0 : 1;
    } catch (error) {
      console.error((error as Error).message);
      return 2;
    }
  }
  const url = values.url ?? process.env.DATABASE_URL;
  const misuse = !values.month
    ? '--month is required (or --verify)'
    : !values.out
      ? '--out is required'
      : !url
        ? 'no --url and no DATABASE_URL'
        : undefined;
  if (misuse) {
    console.error(`${misuse}\n${USAGE}`);
    return 2;
  }
  return onDatabase(url!, 2, async (dataSource) => {
    try {
      const made = await new AuditArchiveService(dataSource).export({
        month: values.month!,
        log: values.log as SealableLog,
        dir: values.out!,
      });
      print(made.dir, made.verification);
      return 0;
    } catch (error) {
      if (error instanceof AuditArchiveError) {
        console.error(`REFUSED   ${error.reason}: ${error.message}`);
        return 1;
      }
      console.error((error as Error).message);
      return error instanceof AuditSealQueryError ? 2 : 1;
    }
  });
}

process.exitCode = await main(process.argv.slice(2));
