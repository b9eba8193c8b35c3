import { performance } from 'node:perf_hooks';
import type { DataSource } from 'typeorm';
import {
  LogPartitionError,
  partitionLogs,
} from '../src/logging/partitions/index.js';
import { createTestDatabase, dataSourceFor } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { childEnv, run } from './support/processes.js';
import { createAppRole } from './support/roles.js';
import { databaseSuite } from './support/suite.js';

/**
 * The conversion of a live install (docs/partitions.md, "Converting an install"): the writer keeps
 * recording while `partitionLogs()` copies the rows, every row is there once after it, the rollups
 * count each row once, and the writer waits for the conversion's locks no longer than their timeout.
 */

/** The months of history: rows dated in each of the last four months. */
const HISTORY = `
  WITH f AS (SELECT id FROM firms ORDER BY name LIMIT 1)
  INSERT INTO %LOG% %COLUMNS%
  SELECT (lpad(to_hex(floor(extract(epoch FROM t.at) * 1000)::bigint), 12, '0') || '7'
          || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid,
         f.id, %VALUES%, t.at
    FROM f, generate_series(1, %N%) i,
         LATERAL (SELECT now() - interval '120 days' * random() - interval '1 day' AS at) t`;

const COLUMNS = {
  llm_usage_log: [
    '(id, firm_id, model, task_type, input_tokens, output_tokens, cost_usd, created_at)',
    `'gemini-3-flash', 'extraction', 100, 20, 0.000124`,
  ],
  audit_log: [
    '(id, firm_id, action, entity_type, created_at)',
    `'create_project', 'cma_project'`,
  ],
} as const;

describe('converting a live install to the partitioned layout', () => {
  const suite = databaseSuite();
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await dataSourceFor(suite.url).initialize();
  });
  afterAll(() => dataSource.destroy());

  async function history(rows: number): Promise<void> {
    await suite.reader.query(
      `INSERT INTO firms (name) VALUES ('history') ON CONFLICT DO NOTHING`,
    );
    for (const [log, [columns, values]] of Object.entries(COLUMNS)) {
      await suite.reader.query(
        HISTORY.replace('%LOG%', log)
          .replace('%COLUMNS%', columns)
          .replace('%VALUES%', values)
          .replace('%N%', String(rows)),
      );
    }
  }

  /** Rows, distinct ids, and what the rollups count, of each log. */
  const totals = async () =>
    (
      await suite.reader.query<Record<string, number>>(
        `SELECT (SELECT count(*) FROM llm_usage_log)::int AS usage,
                (SELECT count(DISTINCT id) FROM llm_usage_log)::int AS "usageIds",
                (SELECT sum(calls) FROM llm_usage_daily)::int AS "usageRolled",
                (SELECT count(*) FROM audit_log)::int AS audit,
                (SELECT count(DISTINCT id) FROM audit_log)::int AS "auditIds",
                (SELECT sum(events) FROM audit_log_daily)::int AS "auditRolled"`,
      )
    ).rows[0];

  it('copies every row once while the writer records, with no wait on the writer beyond the lock timeout', async () => {
    await history(6000);
    const app = suite.own(await loggingApp(suite.url));
    const { rows } = await suite.reader.query<{ id: string }>(
      `INSERT INTO firms (name) VALUES ('live') RETURNING id`,
    );
    const firmId = rows[0].id;
    const written: { usage: string[]; audit: string[] } = {
      usage: [],
      audit: [],
    };
    let longest = 0;
    let stop = false;
    const writer = async (kind: 'usage' | 'audit') => {
      while (!stop) {
        const started = performance.now();
        const id =
          kind === 'usage'
            ? await app.usage.record({
                firmId,
                model: 'gemini-3-flash',
                taskType: 'extraction',
                inputTokens: 10,
                outputTokens: 2,
                costUsd: '0.000010',
              })
            : await app.audit.record({
                firmId,
                action: 'upload_file',
                entityType: 'uploaded_file',
              });
        longest = Math.max(longest, performance.now() - started);
        written[kind].push(id);
      }
    };
    const writers = [
      writer('usage'),
      writer('usage'),
      writer('audit'),
      writer('audit'),
    ];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = { usage: written.usage.length, audit: written.audit.length };
    longest = 0;
    const results = await partitionLogs(dataSource, {
      batchSize: 1000,
      lockTimeoutMs: 300,
    });
    const during = {
      usage: written.usage.length - before.usage,
      audit: written.audit.length - before.audit,
    };
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(writers);

    expect(results.map((r) => [r.log, r.converted])).toEqual([
      ['audit_log', true],
      ['llm_usage_log', true],
    ]);
    // the writer kept recording through the copy, and some of its rows came through the queue
    expect(during.usage).toBeGreaterThan(0);
    expect(during.audit).toBeGreaterThan(0);
    expect(results.reduce((n, r) => n + r.queued, 0)).toBeGreaterThan(0);
    for (const [log, ids] of [
      ['llm_usage_log', written.usage],
      ['audit_log', written.audit],
    ] as const) {
      const { rows: found } = await suite.reader.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${log} WHERE id = ANY ($1::uuid[])`,
        [ids],
      );
      expect(found[0].n).toBe(ids.length);
    }
    const after = await totals();
    expect(after).toEqual({
      usage: 6000 + written.usage.length,
      usageIds: 6000 + written.usage.length,
      usageRolled: 6000 + written.usage.length,
      audit: 6000 + written.audit.length,
      auditIds: 6000 + written.audit.length,
      auditRolled: 6000 + written.audit.length,
    });
    // the swap holds a log a few milliseconds; a writer waits at most the lock timeout behind a lock
    for (const result of results) expect(result.swapMs).toBeLessThan(1000);
    expect(longest).toBeLessThan(2000);
  });

  /** A migrated database of its own, with `rows` audit rows of history, for `fn`. */
  async function onPlainDatabase(
    rows: number,
    fn: (source: DataSource, url: string) => Promise<void>,
  ): Promise<void> {
    const database = await createTestDatabase();
    const source = await dataSourceFor(database.url).initialize();
    try {
      await source.query(`INSERT INTO firms (name) VALUES ('history')`);
      await source.query(
        HISTORY.replace('%LOG%', 'audit_log')
          .replace('%COLUMNS%', COLUMNS.audit_log[0])
          .replace('%VALUES%', COLUMNS.audit_log[1])
          .replace('%N%', String(rows)),
      );
      await fn(source, database.url);
    } finally {
      await source.destroy();
      await database.drop();
    }
  }

  it('leaves a log as it was when interrupted, and a second run starts over and converts it', async () => {
    await onPlainDatabase(3000, async (source) => {
      const interrupted = await partitionLogs(source, {
        logs: ['audit_log'],
        batchSize: 500,
        copyShare: 1,
        onProgress: ({ phase, copied }) => {
          if (phase === 'copying' && copied >= 1000) {
            throw new Error('interrupted');
          }
        },
      }).catch((error: unknown) => error);
      expect((interrupted as Error).message).toBe('interrupted');
      const [{ kind }] = await source.query<{ kind: string }[]>(
        `SELECT relkind::text AS kind FROM pg_class WHERE oid = 'audit_log'::regclass`,
      );
      expect(kind).toBe('r');
      // the application's inserts still pass, through the copy trigger left behind
      await source.query(
        `INSERT INTO audit_log (firm_id, action, entity_type) SELECT id, 'x', 'y' FROM firms`,
      );
      const [again] = await partitionLogs(source, {
        logs: ['audit_log'],
        copyShare: 1,
      });
      expect(again.converted).toBe(true);
      const [counted] = await source.query<{ n: number; ids: number }[]>(
        `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM audit_log`,
      );
      expect(counted).toEqual({ n: 3001, ids: 3001 });
      const [{ left }] = await source.query<{ left: number }[]>(
        `SELECT count(*)::int AS left FROM pg_class WHERE relname LIKE 'audit\\_log\\_\\_%'`,
      );
      expect(left).toBe(0);
    });
  });

  it('refuses a role that does not own the logs, naming the rule, and changes nothing', async () => {
    await onPlainDatabase(10, async (_, url) => {
      const role = await createAppRole(url, 'crud');
      const asApp = await dataSourceFor(role.url).initialize();
      try {
        const error = await partitionLogs(asApp).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LogPartitionError);
        expect((error as Error).message).toMatch(
          /^partitionLogs: audit_log is owned by \w+, and the conversion runs as logging_app_\w+: run it as the owner of the logs/,
        );
      } finally {
        await asApp.destroy();
        await role.drop();
      }
    });
  });

  it('npm run logging:partition converts the logs of DATABASE_URL, and exits 2 on bad arguments', async () => {
    await onPlainDatabase(500, async (_, url) => {
      const cli = (...args: string[]) =>
        run(
          'npm',
          ['run', '-s', 'logging:partition', '--', ...args],
          childEnv({ DATABASE_URL: url }),
          120_000,
        );
      const bad = await cli('--batch-size', '10');
      expect(bad.code).toBe(2);
      expect(bad.output).toContain(
        'partitionLogs: batchSize must be an integer from 100 to 100000, got 10',
      );
      const done = await cli('--copy-share', '1');
      expect(done.output).toMatch(
        /PARTITIONED audit_log: 500 rows in \d+ month partitions, swap held the log \d+ ms/,
      );
      expect(done.output).toContain(
        'PARTITIONED llm_usage_log: 0 rows in 4 month partitions',
      );
      expect(done.code).toBe(0);
    });
  }, 240_000);

  it('refuses bad options, naming the field and the rule', async () => {
    await expect(partitionLogs(dataSource, { batchSize: 10 })).rejects.toThrow(
      'partitionLogs: batchSize must be an integer from 100 to 100000, got 10',
    );
    await expect(
      partitionLogs(dataSource, { logs: ['credit_transaction' as never] }),
    ).rejects.toThrow(
      "partitionLogs: logs must be a non-empty list of distinct 'audit_log' and 'llm_usage_log'",
    );
  });
});
