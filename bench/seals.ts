/**
 * bench/seals: hash-chained seals over a large audit_log, and the writer with sealing running.
 *
 *   node dist/bench/seals.js load      # fills logging_bench_seals: BENCH_FIRMS firms (10,000), of
 *                                      #   which BENCH_ACTIVE_FIRMS (100) hold BENCH_ROWS audit rows
 *                                      #   (1,000,000) less 10 rows of each idle firm, over 30 days;
 *                                      #   not timed
 *   node dist/bench/seals.js measure   # times, BENCH_ROUNDS times (3), interleaved, median counts:
 *     - baseline: every row read once in (firm_id, created_at, id) order and thrown away
 *       (COPY ... TO STDOUT into Node): the floor of any sealer that looks at every row;
 *     - seal: AuditSealService.seal() of every row from no seal at all (month by month, rows read
 *       once by a binary COPY in (firm_id, created_at, id) order, encoded and hashed in Node);
 *     - verify: AuditSealService.verifyAll(): every firm's chain, digests recomputed in Node from
 *       one COPY over the log;
 *     - verifyPerFirm: AuditSealService.verify() of 20 active firms in turn;
 *     - SQL digest: the digests of the firms' first seals computed in the database instead (sha256
 *       over string_agg of the encodings, one pass grouped by firm, work_mem 256MB), checked equal
 *       to the seals';
 *     - steadyRun: after BENCH_STEADY_ROWS (100) new rows of each active firm, one more run over
 *       every firm: the active firms' seals and one run row, however many firms are idle.
 *   node dist/bench/seals.js writer    # LlmUsageService.record ('buffered', 512 callers) for
 *                                      #   BENCH_WRITER_SECONDS (40) per variant, without and with
 *                                      #   background sealing of llm_usage_log every
 *                                      #   BENCH_SEAL_INTERVAL_MS (10,000; settle window 5 s and
 *                                      #   seals.maxDeferMs the defaults, or
 *                                      #   BENCH_SEAL_MAX_DEFER_MS), interleaved, median of
 *                                      #   BENCH_ROUNDS; then, untimed, how long sealing takes to
 *                                      #   catch up with every row once the writer stopped
 *
 *   npm run bench:build && node dist/bench/seals.js load && /work/bin/quiet node dist/bench/seals.js measure
 *
 * Writes bench/results/seals.json (measure) and bench/results/seals-writer.json (writer).
 * DATABASE_URL picks the server; otherwise the embedded one of the demo.
 */
import 'reflect-metadata';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import {
  demoDataSourceOptions,
  resolveDemoDatabase,
} from '../src/demo/database/data-source.js';
import {
  AuditSealService,
  LlmUsageService,
  LoggingModule,
  LogWriterService,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import { encodingSql } from '../src/logging/seals/seal-digest-sql.js';
import { SEAL_ENCODING } from '../src/logging/seals/seal-encoding.js';
import {
  GROUPS_SEPARATOR,
  STORED_GROUPS_SQL,
} from '../src/logging/seals/seal-references.js';
import { freshDatabase, machineLine, writeResults } from './support.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const WRITER_SECONDS = Number(process.env.BENCH_WRITER_SECONDS ?? 40);
/** Background sealing as a host would run it: every 10 s, with the default 5 s settle window. */
const SEAL_INTERVAL_MS = Number(process.env.BENCH_SEAL_INTERVAL_MS ?? 10_000);
/** `seals.maxDeferMs` of the sealing variant; the module's default when unset. */
const SEAL_MAX_DEFER_MS =
  process.env.BENCH_SEAL_MAX_DEFER_MS === undefined
    ? undefined
    : Number(process.env.BENCH_SEAL_MAX_DEFER_MS);
/** How long the writer's rows may take to be sealed after it stopped, before the bench fails. */
const CATCH_UP_LIMIT_MS = 180_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CALLERS = 512;
const FIRMS = Number(process.env.BENCH_FIRMS ?? 10_000);
const ACTIVE_FIRMS = Math.min(
  FIRMS,
  Number(process.env.BENCH_ACTIVE_FIRMS ?? 100),
);
/** Rows of each idle firm, sealed by the first run; the rest of BENCH_ROWS go to the active ones. */
const IDLE_ROWS = 10;
const STEADY_ROWS = Number(process.env.BENCH_STEADY_ROWS ?? 100);
const DB = 'logging_bench_seals';

/** The canonical encoding of an audit row computed in SQL, for the grouped in-database digest. */
const SQL_ENCODING = encodingSql('audit_log', true, SEAL_ENCODING);
/** The reference groups the firm's one seal stored, encoded, for the same digest. */
const SQL_GROUPS = `(SELECT ${STORED_GROUPS_SQL}
    FROM log_seal y, unnest(y.ref_ids, y.ref_rows, y.ref_digests) AS x(ref, n, d)
   WHERE y.log = 'audit_log' AND y.firm_id = a.firm_id AND y.seq = 1)`;

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function databaseUrl(fresh: boolean) {
  const server = await resolveDemoDatabase();
  if (fresh) return { server, url: await freshDatabase(server.url, DB) };
  const url = new URL(server.url);
  url.pathname = `/${DB}`;
  return { server, url: url.toString() };
}

function app(url: string, options: LoggingModuleOptions) {
  @Module({
    imports: [
      TypeOrmModule.forRoot(demoDataSourceOptions(url)),
      // the bench's one role owns the schema, knowingly
      LoggingModule.forRoot({
        database: { ownerConnection: 'allow' },
        ...options,
      }),
    ],
  })
  class BenchModule {}
  return NestFactory.createApplicationContext(BenchModule, {
    logger: ['error', 'warn'],
  });
}

/** Empties `tables` of the bench's own database, append-only guards off for the moment. */
async function empty(client: Client, tables: string[]): Promise<void> {
  for (const table of tables) {
    await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    await client.query(`TRUNCATE ${table}`);
    await client.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
  }
}

async function load(): Promise<void> {
  const { server, url } = await databaseUrl(true);
  const setup = await new DataSource(demoDataSourceOptions(url)).initialize();
  await setup.runMigrations();
  await setup.destroy();
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(
    `INSERT INTO firms (name) SELECT 'bench-' || lpad(i::text, 6, '0') FROM generate_series(1, $1) AS i`,
    [FIRMS],
  );
  const start = Date.now();
  const idle = (FIRMS - ACTIVE_FIRMS) * IDLE_ROWS;
  const rows = async (count: number, firms: string, offset: number) =>
    client.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, entity_id, metadata, ip_address, created_at)
       SELECT f.ids[1 + i % cardinality(f.ids)], NULL,
              (ARRAY['create_project','upload_file','run_extraction','resolve_review','download_cma'])[1 + i % 5],
              'cma_project', gen_random_uuid(),
              jsonb_build_object('pages', i % 500, 'files', i % 7, 'retry', i % 11 = 0),
              '10.' || (i % 250) || '.' || (i % 199) || '.0',
              now() - interval '30 days' + i * (interval '30 days' / $1) + (i % 997) * interval '1 microsecond'
         FROM generate_series(1, $1) AS i,
              (SELECT array_agg(id ORDER BY name) AS ids FROM (
                 SELECT id, name FROM firms ORDER BY name OFFSET $2 LIMIT $3) x) f`,
      [count, offset, firms === 'active' ? ACTIVE_FIRMS : FIRMS - ACTIVE_FIRMS],
    );
  await rows(ROWS - idle, 'active', 0);
  if (idle > 0) await rows(idle, 'idle', ACTIVE_FIRMS);
  await client.query('VACUUM ANALYZE audit_log');
  console.log(
    `bench/seals load: ${ROWS} audit rows of ${FIRMS} firms (${ACTIVE_FIRMS} active) in ${((Date.now() - start) / 1000).toFixed(1)} s, ${server.description}`,
  );
  await client.end();
  await server.stop();
}

async function measure(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const { server, url } = await databaseUrl(false);
  const client = new Client({ connectionString: url });
  await client.connect();
  /** Back to the loaded rows, none sealed: seals, runs and the rows of steady runs gone. */
  const reset = async () => {
    await empty(client, ['log_seal', 'log_seal_run']);
    await client.query(
      `SELECT set_config('logging.purge_cutoff', 'infinity', false);
       DELETE FROM audit_log WHERE action = 'bench_steady';
       RESET logging.purge_cutoff`,
    );
  };
  await reset();
  const [{ n }] = (
    await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM audit_log',
    )
  ).rows;
  console.log(
    `bench/seals: ${n} audit rows, ${FIRMS} firms (${ACTIVE_FIRMS} active), ${machineLine()}, ${server.description}`,
  );
  const context = await app(url, {
    seals: { settleMs: 0, logs: ['audit_log'] },
  });
  const seals = context.get(AuditSealService);
  // the active firms, which hold most rows, are the first by name
  const active = (
    await client.query<{ id: string }>(
      'SELECT id FROM firms ORDER BY name LIMIT $1',
      [ACTIVE_FIRMS],
    )
  ).rows.map((r) => r.id);
  const firms = active.slice(0, 20);
  const rounds: Record<string, number>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    await reset();
    const times: Record<string, number> = {};
    // the floor's plan, as the sealer's: the log in heap order, sorted (bench/README.md)
    await client.query(`SET enable_indexscan = off`);
    times.baseline = await seconds(async () => {
      const copy = client.query(
        copyTo(
          `COPY (SELECT * FROM audit_log ORDER BY firm_id, created_at, id) TO STDOUT`,
        ),
      );
      await pipeline(copy, new Writable({ write: (_c, _e, done) => done() }));
    });
    await client.query(`RESET enable_indexscan`);
    let digests = new Map<string, string>();
    times.seal = await seconds(async () => {
      const made = await seals.seal({ log: 'audit_log' });
      if (made.reduce((sum, s) => sum + s.rowCount, 0) !== n)
        throw new Error(
          `not every row sealed: ${made.reduce((sum, s) => sum + s.rowCount, 0)} of ${n} in ${made.length} seals`,
        );
      digests = new Map(
        made.filter((s) => s.seq === 1).map((s) => [s.firmId, s.digest]),
      );
    });
    times.verify = await seconds(async () => {
      const verdicts = await seals.verifyAll({ log: 'audit_log' });
      const bad = verdicts.find((verdict) => !verdict.ok);
      if (bad) throw new Error(`firm ${bad.firmId}: ${bad.problem?.message}`);
      if (verdicts.reduce((sum, v) => sum + v.rowsChecked, 0) !== n)
        throw new Error('not every row verified');
    });
    times.verifyPerFirm = await seconds(async () => {
      for (const firmId of firms) {
        const verdict = await seals.verify({ firmId });
        if (!verdict.ok)
          throw new Error(`firm ${firmId}: ${verdict.problem?.message}`);
      }
    });
    times.sqlDigest = await seconds(async () => {
      await client.query(`SET work_mem = '256MB'`);
      const { rows } = await client.query<{ firm: string; digest: string }>(
        `SELECT a.firm_id AS firm,
                encode(sha256(decode('${'00'.repeat(32)}', 'hex') || convert_to(
                  string_agg(${SQL_ENCODING}, '' ORDER BY a.created_at, a.id)
                  || '${GROUPS_SEPARATOR}' || ${SQL_GROUPS}, 'UTF8')), 'hex') AS digest
           FROM audit_log a JOIN log_seal s
             ON s.log = 'audit_log' AND s.firm_id = a.firm_id AND s.seq = 1
            AND (a.created_at, a.id) <= (s.to_created_at, s.to_id)
          GROUP BY a.firm_id`,
      );
      await client.query('RESET work_mem');
      for (const { firm, digest } of rows) {
        if (digest !== digests.get(firm)) throw new Error('SQL digest differs');
      }
    });
    // the next run: new rows of the active firms only, every firm covered
    await client.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       SELECT f.id, 'bench_steady', 'uploaded_file', clock_timestamp()
         FROM (SELECT id FROM firms ORDER BY name LIMIT $1) f, generate_series(1, $2)`,
      [ACTIVE_FIRMS, STEADY_ROWS],
    );
    times.steadyRun = await seconds(async () => {
      const made = await seals.seal({ log: 'audit_log' });
      if (made.length !== ACTIVE_FIRMS)
        throw new Error(`${made.length} seals, not one per active firm`);
    });
    const [{ runs, covered }] = (
      await client.query<{ runs: number; covered: number }>(
        `SELECT count(*)::int AS runs, max(heads_count)::int AS covered FROM log_seal_run`,
      )
    ).rows;
    if (runs !== 2 || covered !== FIRMS) {
      throw new Error(`${runs} runs covering ${covered} firms' heads`);
    }
    console.log(
      `round ${round}: ` +
        Object.entries(times)
          .map(([k, v]) => `${k} ${v.toFixed(2)} s`)
          .join(', '),
    );
    rounds.push(times);
  }
  const result = Object.fromEntries(
    Object.keys(rounds[0]).map((k) => [k, median(rounds.map((r) => r[k]))]),
  );
  for (const [k, v] of Object.entries(result)) {
    console.log(
      `${k.padEnd(14)} ${v.toFixed(2).padStart(6)} s  ${Math.round(n / v)
        .toString()
        .padStart(9)} rows/s  ${(v / result.baseline).toFixed(2)}× baseline`,
    );
  }
  await writeResults('seals', {
    rows: n,
    firms: FIRMS,
    activeFirms: ACTIVE_FIRMS,
    steadyRows: STEADY_ROWS * ACTIVE_FIRMS,
    median: result,
    rounds,
  });
  await context.close();
  await client.end();
  await server.stop();
}

async function writer(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const { server, url } = await databaseUrl(false);
  const client = new Client({ connectionString: url });
  await client.connect();
  const firms = (
    await client.query<{ id: string }>('SELECT id FROM firms ORDER BY id')
  ).rows;
  console.log(
    `bench/seals writer: ${WRITER_SECONDS} s windows, ${CALLERS} callers, sealing every ${SEAL_INTERVAL_MS} ms, seals.maxDeferMs ${SEAL_MAX_DEFER_MS ?? 'default'}, ${machineLine()}, Node ${process.version}`,
  );
  const sealingVariant = `writer + sealing every ${SEAL_INTERVAL_MS / 1000} s`;
  const rounds: Record<string, number>[] = [];
  const sealedShare: number[] = [];
  const catchUpSeconds: number[] = [];
  const sealedCount = async () =>
    (
      await client.query<{ n: number }>(
        `SELECT coalesce(sum(row_count), 0)::int AS n FROM log_seal WHERE log = 'llm_usage_log'`,
      )
    ).rows[0].n;
  for (let round = 1; round <= ROUNDS; round++) {
    const times: Record<string, number> = {};
    for (const variant of ['writer', sealingVariant]) {
      await empty(client, ['llm_usage_log', 'log_seal']);
      await client.query('VACUUM ANALYZE llm_usage_log');
      const sealing = variant !== 'writer';
      const context = await app(url, {
        writer: { durability: 'buffered' },
        seals: sealing
          ? {
              intervalMs: SEAL_INTERVAL_MS,
              logs: ['llm_usage_log'],
              ...(SEAL_MAX_DEFER_MS === undefined
                ? {}
                : { maxDeferMs: SEAL_MAX_DEFER_MS }),
            }
          : {},
      });
      const usage = context.get(LlmUsageService);
      // both variants write for the same window; the time counted ends when the last row is in
      let written = 0;
      const until = Date.now() + WRITER_SECONDS * 1000;
      const s = await seconds(async () => {
        await Promise.all(
          Array.from({ length: CALLERS }, async () => {
            while (Date.now() < until) {
              const i = written++;
              await usage.record({
                firmId: firms[i % firms.length].id,
                model: 'gemini-3-flash',
                taskType: 'extraction',
                inputTokens: 1000 + (i % 5000),
                outputTokens: 100 + (i % 900),
                costUsd: '0.000124',
                latencyMs: 200 + (i % 3000),
              });
            }
          }),
        );
        await context.get(LogWriterService).flush();
      });
      // untimed: the rows sealed within the window, then the background sealer left to catch up
      let sealed = 0;
      let caughtUp = 0;
      if (sealing) {
        sealed = await sealedCount();
        const stopped = Date.now();
        while ((await sealedCount()) < written) {
          if (Date.now() - stopped > CATCH_UP_LIMIT_MS)
            throw new Error(
              `sealing did not catch up within ${CATCH_UP_LIMIT_MS} ms`,
            );
          await new Promise((r) => setTimeout(r, 250));
        }
        caughtUp = (Date.now() - stopped) / 1000;
        if ((await sealedCount()) !== written)
          throw new Error('rows sealed more than once');
        sealedShare.push(sealed / written);
        catchUpSeconds.push(caughtUp);
      }
      await context.close();
      times[variant] = written / s;
      console.log(
        `round ${round}: ${variant.padEnd(30)} ${Math.round(written / s)} rows/s (${written} rows in ${s.toFixed(1)} s)${sealing ? `, ${sealed} rows sealed within the window, all sealed ${caughtUp.toFixed(1)} s after the writer stopped` : ''}`,
      );
    }
    rounds.push(times);
  }
  const result = Object.fromEntries(
    Object.keys(rounds[0]).map((k) => [k, median(rounds.map((r) => r[k]))]),
  );
  const base = result.writer;
  for (const [k, v] of Object.entries(result)) {
    console.log(
      `${k.padEnd(30)} ${Math.round(v).toString().padStart(8)} rows/s  ${(v / base).toFixed(2)}× writer alone`,
    );
  }
  // machine time per row while the writer saturates both cores, against sealing's own cost
  console.log(
    `writer alone: ${((2 * 1e6) / base).toFixed(1)} µs of the 2 cores per row; rows sealed within the window: ${sealedShare.map((x) => `${Math.round(x * 100)}%`).join(', ')}; every row sealed after the writer stopped, in ${catchUpSeconds.map((x) => `${x.toFixed(1)} s`).join(', ')}`,
  );
  await writeResults('seals-writer', {
    windowSeconds: WRITER_SECONDS,
    sealIntervalMs: SEAL_INTERVAL_MS,
    sealMaxDeferMs: SEAL_MAX_DEFER_MS ?? 'default',
    node: process.version,
    sealedShare,
    catchUpSeconds,
    callers: CALLERS,
    median: result,
    rounds,
  });
  await client.end();
  await server.stop();
}

const phase = process.argv[2] ?? 'measure';
const phases: Record<string, () => Promise<void>> = { load, measure, writer };
if (!phases[phase]) {
  console.error('usage: node dist/bench/seals.js load|measure|writer');
  process.exit(2);
}
await phases[phase]();
