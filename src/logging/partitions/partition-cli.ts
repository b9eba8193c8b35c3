#!/usr/bin/env node
/**
 * The conversion to the partitioned layout: `npm run logging:partition` (or the package's
 * `logging-partition` bin) converts the logs of the database behind `--url` or `DATABASE_URL`
 * online (`partitionLogs`, docs/partitions.md), printing each log's progress and result. Run it as
 * the owner of the logs, after the migrations. Exits 0 when every log is partitioned, 1 when the
 * conversion failed (the log is left as it was), 2 on bad arguments or no connection.
 */
import { parseArgs } from 'node:util';
import type { PartitionedLogName } from '../core/log-partitions.js';
import {
  type PartitionConversionOptions,
  partitionLogs,
  resolveConversionOptions,
} from './partition-conversion.js';
import { onDatabase } from '../core/cli-database.js';

const USAGE = `usage: logging:partition [--log audit_log|llm_usage_log|all] [--url <postgres url>]
                         [--batch-size <rows>] [--copy-share <0.01..1>] [--pause-ms <ms>] [--months-ahead <n>]
                         [--lock-timeout-ms <ms>] [--keep-unpartitioned] [--json]
  --batch-size          rows copied per transaction (default 2000)
  --copy-share          the share of time the copy may take, the rest left to the application (default 0.25)
  --pause-ms            the shortest pause between batches (default 0)
  --months-ahead        month partitions made ahead of the current month (default 3)
  --lock-timeout-ms     the longest the application waits behind a lock of the conversion (default 500)
  --keep-unpartitioned  keep the old table as <log>__unpartitioned instead of dropping it
  --url                 default: DATABASE_URL`;

const numeric = (text: string | undefined) =>
  text === undefined ? undefined : Number(text);

async function main(argv: string[]): Promise<number> {
  let options: PartitionConversionOptions;
  let url: string | undefined;
  let json = false;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        log: { type: 'string', default: 'all' },
        url: { type: 'string' },
        'batch-size': { type: 'string' },
        'pause-ms': { type: 'string' },
        'copy-share': { type: 'string' },
        'months-ahead': { type: 'string' },
        'lock-timeout-ms': { type: 'string' },
        'keep-unpartitioned': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    url = values.url ?? process.env.DATABASE_URL;
    json = values.json;
    options = Object.fromEntries(
      Object.entries({
        logs:
          values.log === 'all' ? undefined : [values.log as PartitionedLogName],
        batchSize: numeric(values['batch-size']),
        pauseMs: numeric(values['pause-ms']),
        copyShare: numeric(values['copy-share']),
        monthsAhead: numeric(values['months-ahead']),
        lockTimeoutMs: numeric(values['lock-timeout-ms']),
        keepUnpartitioned: values['keep-unpartitioned'],
      }).filter(([, value]) => value !== undefined),
    );
    resolveConversionOptions(options);
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!url) {
    console.error(`no --url and no DATABASE_URL\n${USAGE}`);
    return 2;
  }
  return onDatabase(url, 2, async (dataSource) => {
    try {
      let shown = 0;
      const results = await partitionLogs(dataSource, {
        ...options,
        onProgress: ({ log, phase, copied, queued }) => {
          if (json || (phase === 'copying' && Date.now() - shown < 2000))
            return;
          shown = Date.now();
          console.log(
            `${log}: ${phase}, ${copied} rows copied, ${queued} queued rows copied`,
          );
        },
      });
      for (const result of results) {
        console.log(
          json
            ? JSON.stringify(result)
            : result.converted
              ? `PARTITIONED ${result.log}: ${result.copied + result.queued} rows in ${result.months} month partitions, ` +
                `swap held the log ${result.swapMs} ms (${result.swapAttempts} tries), ${result.ms} ms in all` +
                (result.keptAs
                  ? `; the old table is kept as ${result.keptAs}`
                  : '')
              : `PARTITIONED ${result.log}: partitioned already, nothing done`,
        );
      }
      return 0;
    } catch (error) {
      console.error((error as Error).message);
      return 1;
    }
  });
}

process.exitCode = await main(process.argv.slice(2));
