#!/usr/bin/env node
/**
 * The auditor's verifier: `npm run audit:verify -- --firm <uuid>` (or the package's
 * `logging-audit-verify` bin) recomputes a firm's seal chains from the rows in the database behind
 * `--url` or `DATABASE_URL`, prints a verdict per log, and exits 0 when every chain verifies and
 * every row is sealed (a user or project deleted under ON DELETE SET NULL is printed as an `ERASED`
 * line, not tampering), 1 on tampering, 2 on bad arguments or no connection, 3 when nothing is
 * tampered but some rows are not sealed yet (an `UNSEALED` line: nothing vouches for them).
 * `--all-firms` verifies every firm with seals or rows, in one pass over each log.
 */
import { parseArgs } from 'node:util';
import { AuditSealService } from './audit-seal.service.js';
import { SEALABLE_LOGS, type SealableLog } from './seal-encoding.js';
import { resolveSealOptions } from './seal.options.js';
import type { SealAnchor, SealVerification } from './seal.types.js';
import { VERIFY_EXIT, describeVerdict, exitCodeOf } from './verify-verdict.js';
import { onDatabase } from '../core/cli-database.js';

const USAGE = `usage: audit:verify --firm <uuid> [--log audit_log|llm_usage_log|all]
                    [--anchor <seq>:<hex digest>]... [--from <ISO date>] [--to <ISO date>]
                    [--url <postgres url>] [--json]
       audit:verify --all-firms [--log audit_log|llm_usage_log|all] [--url <postgres url>] [--json]
  --anchor     a digest published by onSeal; the chain must still hold it (repeatable)
  --all-firms  every firm with seals or rows, one verdict per firm and log (no --anchor, --from, --to)
  --url        default: DATABASE_URL
exit: 0 verified, 1 tampered, 2 bad arguments or no connection, 3 rows not sealed yet`;

/** What is wrong with the arguments, or undefined when they can run. */
function misuseOf(
  url: string | undefined,
  allFirms: boolean,
  one: { firm?: string; anchor: string[]; from?: string; to?: string },
): string | undefined {
  if (!url) return 'no --url and no DATABASE_URL';
  if (!allFirms) {
    return one.firm ? undefined : '--firm is required (or --all-firms)';
  }
  if (one.firm) return '--firm and --all-firms exclude each other';
  if (one.anchor.length || one.from || one.to) {
    return '--anchor, --from and --to check one firm: give --firm instead of --all-firms';
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        firm: { type: 'string' },
        'all-firms': { type: 'boolean', default: false },
        log: { type: 'string', default: 'all' },
        anchor: { type: 'string', multiple: true, default: [] },
        from: { type: 'string' },
        to: { type: 'string' },
        url: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return VERIFY_EXIT.misuse;
  }
  const url = values.url ?? process.env.DATABASE_URL;
  const logs: SealableLog[] =
    values.log === 'all' ? [...SEALABLE_LOGS] : [values.log as SealableLog];
  const anchors: SealAnchor[] = [];
  for (const anchor of values.anchor) {
    const [seq, digest] = anchor.split(':');
    anchors.push({ seq: Number(seq), digest });
  }
  const allFirms = values['all-firms'];
  const misuse = misuseOf(url, allFirms, values);
  if (misuse) {
    console.error(`${misuse}\n${USAGE}`);
    return VERIFY_EXIT.misuse;
  }
  return onDatabase(url!, VERIFY_EXIT.misuse, async (dataSource) => {
    try {
      const seals = new AuditSealService(dataSource, resolveSealOptions({}));
      const verdicts: SealVerification[] = [];
      for (const log of logs) {
        if (allFirms) {
          verdicts.push(...(await seals.verifyAll({ log })));
          continue;
        }
        verdicts.push(
          await seals.verify({
            firmId: values.firm!,
            log,
            anchors: log === logs[0] ? anchors : [],
            from: values.from ? new Date(values.from) : undefined,
            to: values.to ? new Date(values.to) : undefined,
          }),
        );
      }
      for (const verdict of verdicts) {
        console.log(
          values.json ? JSON.stringify(verdict) : describeVerdict(verdict),
        );
      }
      return exitCodeOf(verdicts);
    } catch (error) {
      console.error((error as Error).message);
      return VERIFY_EXIT.misuse;
    }
  });
}

process.exitCode = await main(process.argv.slice(2));
