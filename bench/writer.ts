/**
 * bench/writer: N rows into llm_usage_log, on the same table in one run, through
 *   (a) the LoggingModule writer, many concurrent record() callers, in 'await' and 'buffered',
 *   (b) COPY FROM STDIN on one connection (the baseline),
 *   (c) TypeORM repository.save, one row at a time (a smaller N),
 *   (d) TypeORM repository.insert in batches of 1,000.
 * Prints rows/s and each as a ratio to COPY; writes bench/results/writer.json.
 *
 *   npm run bench:writer                    # N = 200,000
 *   BENCH_ROWS=50000 npm run bench:writer   # another N
 *
 * Every method runs BENCH_ROUNDS times (default 3), the methods interleaved round by round so that
 * drift (checkpoints, autovacuum) meets them alike; the median round counts.
 *
 * DATABASE_URL picks the server; otherwise the embedded one of the demo. It works in a database of
 * its own, `logging_bench`, dropped and migrated anew at the start.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import {
  demoDataSourceOptions,
  resolveDemoDatabase,
} from '../src/demo/database/data-source.js';
import {
  LlmUsageService,
  LogWriterService,
  LoggingModule,
  type LlmUsageEntry,
} from '../src/logging/index.js';
import {
  createRollupVariants,
  ROLLUP_VARIANTS,
  rolledUpCalls,
  type RollupVariant,
  useRollupVariant,
} from './rollup-variants.js';
import { LlmUsageLog } from '../src/logging/entities/index.js';
import type { Durability } from '../src/logging/writer/writer.options.js';
import { freshDatabase, machineLine, writeResults } from './support.js';

const N = Number(process.env.BENCH_ROWS ?? 200_000);
const SAVE_N = Math.min(N, Number(process.env.BENCH_SAVE_ROWS ?? 5_000));
const CALLERS = Number(process.env.BENCH_CALLERS ?? 512);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VARIANTS = (
  process.env.BENCH_ROLLUPS?.split(',') ?? [...ROLLUP_VARIANTS]
).map((v) => {
  if (!(ROLLUP_VARIANTS as readonly string[]).includes(v)) {
    throw new Error(
      `BENCH_ROLLUPS: ${v} is not one of ${ROLLUP_VARIANTS.join(', ')}`,
    );
  }
  return v as RollupVariant;
});
const METHOD_FILTER = process.env.BENCH_METHODS?.split(',') ?? [''];
const FIRMS = 10;
const MODELS = ['gemini-2.0-flash', 'gemini-3-flash', 'gemini-3.1-pro'];
const TASKS = [
  'extraction',
  'classification',
  'validation',
  'fallback',
] as const;

interface Result {
  method: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  ratioToCopy?: number;
  /** The daily rollup kept meanwhile (bench/rollup-variants.ts). */
  rollup?: RollupVariant;
  /** rows/s over the same method's without a rollup. */
  ratioToNoRollup?: number;
}

function entries(firms: { firmId: string; projectId: string }[], n: number) {
  return Array.from({ length: n }, (_, i): LlmUsageEntry => {
    const { firmId, projectId } = firms[i % firms.length];
    return {
      firmId,
      cmaProjectId: i % 3 === 0 ? null : projectId,
      model: MODELS[i % MODELS.length],
      taskType: TASKS[i % TASKS.length],
      inputTokens: 1000 + (i % 5000),
      outputTokens: 100 + (i % 900),
      costUsd: `0.${String(100000 + (i % 900000)).padStart(6, '0')}`,
      latencyMs: 200 + (i % 3000),
      success: i % 50 !== 0,
      errorMessage: i % 50 === 0 ? 'deadline exceeded' : null,
    };
  });
}

async function timed(
  method: string,
  rows: number,
  fn: () => Promise<number | void>,
): Promise<Result> {
  const start = process.hrtime.bigint();
  const own = await fn();
  const seconds = own ?? Number(process.hrtime.bigint() - start) / 1e9;
  const result = { method, rows, seconds, rowsPerSecond: rows / seconds };
  console.log(
    `${method.padEnd(34)} ${String(rows).padStart(8)} rows ${seconds.toFixed(2).padStart(7)} s ${Math.round(result.rowsPerSecond).toString().padStart(8)} rows/s`,
  );
  return result;
}

function copyLine(e: LlmUsageEntry, createdAt: string): string {
  const nul = (v: string | number | null | undefined) =>
    v === null || v === undefined ? '\\N' : String(v);
  return [
    randomUUID(),
    e.firmId,
    nul(e.cmaProjectId),
    e.model,
    e.taskType,
    e.inputTokens,
    e.outputTokens,
    e.costUsd,
    nul(e.latencyMs),
    e.success ? 't' : 'f',
    nul(e.errorMessage),
    createdAt,
  ].join('\t');
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const server = await resolveDemoDatabase();
  const url = await freshDatabase(server.url, 'logging_bench');
  const setup = await new DataSource(demoDataSourceOptions(url)).initialize();
  await setup.runMigrations();
  const firms: { firmId: string; projectId: string }[] = [];
  for (let f = 0; f < FIRMS; f++) {
    const [firm] = await setup.query<{ id: string }[]>(
      'INSERT INTO firms (name) VALUES ($1) RETURNING id',
      [`bench-${f}`],
    );
    const [project] = await setup.query<{ id: string }[]>(
      'INSERT INTO cma_projects (firm_id, name) VALUES ($1, $2) RETURNING id',
      [firm.id, `bench-${f} CMA`],
    );
    firms.push({ firmId: firm.id, projectId: project.id });
  }
  const data = entries(firms, N);
  // The log is append-only (TRUNCATE is refused): empty it through the retention path.
  const truncate = async () => {
    await setup.query(
      `SELECT logging_purge_batch('llm_usage_log', 'infinity', 100000000)`,
    );
    await setup.query('VACUUM ANALYZE llm_usage_log');
  };
  const countRows = async () =>
    Number(
      (
        await setup.query<{ n: string }[]>(
          'SELECT count(*) AS n FROM llm_usage_log',
        )
      )[0].n,
    );
  const check = async (expected: number) => {
    const actual = await countRows();
    if (actual !== expected) {
      throw new Error(
        `expected ${expected} rows in the table, found ${actual}`,
      );
    }
  };

  console.log(
    `bench/writer: ${N} rows, ${CALLERS} concurrent callers, ${machineLine()}, ${server.description}`,
  );

  /** The methods, each a function that writes its rows into the emptied table. */
  const copy = async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    const createdAt = new Date().toISOString();
    function* lines() {
      for (let i = 0; i < data.length; i += 1000) {
        yield (
          data
            .slice(i, i + 1000)
            .map((e) => copyLine(e, createdAt))
            .join('\n') + '\n'
        );
      }
    }
    await pipeline(
      Readable.from(lines()),
      client.query(
        copyFrom(
          'COPY llm_usage_log (id, firm_id, cma_project_id, model, task_type, input_tokens, output_tokens, cost_usd, latency_ms, success, error_message, created_at) FROM STDIN',
        ),
      ),
    );
    await client.end();
  };
  const writer = (durability: Durability) => async () => {
    @Module({
      imports: [
        TypeOrmModule.forRoot(demoDataSourceOptions(url)),
        LoggingModule.forRoot({
          writer: { durability },
          rollups: { compactIntervalMs: 0 },
        }),
      ],
    })
    class BenchModule {}
    const app = await NestFactory.createApplicationContext(BenchModule, {
      logger: ['error', 'warn'],
    });
    const usage = app.get(LlmUsageService);
    const logWriter = app.get(LogWriterService);
    const start = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (next < N) await usage.record(data[next++]);
      }),
    );
    await logWriter.flush(); // 'buffered': until every row is committed
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await app.close();
    return seconds; // the app's start and close are not timed
  };
  const repository = setup.getRepository(LlmUsageLog);
  const METHODS: {
    name: string;
    rows: number;
    run: () => Promise<number | void>;
  }[] = [
    { name: 'COPY FROM STDIN (1 connection)', rows: N, run: copy },
    {
      name: `writer, 'await' (${CALLERS} callers)`,
      rows: N,
      run: writer('await'),
    },
    {
      name: `writer, 'buffered' (${CALLERS} callers)`,
      rows: N,
      run: writer('buffered'),
    },
    {
      name: 'repository.insert, 1,000 per call',
      rows: N,
      run: async () => {
        for (let i = 0; i < N; i += 1000) {
          await repository.insert(
            data
              .slice(i, i + 1000)
              .map((e) => ({ ...e, costUsd: String(e.costUsd) })),
          );
        }
      },
    },
    {
      name: 'repository.save, 1 row per call',
      rows: SAVE_N,
      run: async () => {
        for (let i = 0; i < SAVE_N; i++) {
          await repository.save({
            ...data[i],
            costUsd: String(data[i].costUsd),
          });
        }
      },
    },
  ].filter((m) => METHOD_FILTER.some((f) => m.name.includes(f)));

  await createRollupVariants(setup);
  const rounds: Result[][] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round} of ${ROUNDS}`);
    const results: Result[] = [];
    for (const variant of VARIANTS) {
      for (const method of METHODS) {
        await truncate();
        await useRollupVariant(setup, variant);
        const result = await timed(
          `${method.name} [${variant}]`,
          method.rows,
          method.run,
        );
        results.push({ ...result, method: method.name, rollup: variant });
        await check(method.rows);
        const rolled = await rolledUpCalls(setup, variant);
        if (variant !== 'none' && rolled !== method.rows) {
          throw new Error(
            `${variant}: rollup counts ${rolled} calls, expected ${method.rows}`,
          );
        }
      }
    }
    rounds.push(results);
  }
  const results = rounds[0].map((first, m) => {
    const sorted = rounds
      .map((r) => r[m])
      .sort((a, b) => a.rowsPerSecond - b.rowsPerSecond);
    return { ...sorted[Math.floor(sorted.length / 2)], method: first.method };
  });
  const copyRate = (variant: string) =>
    results.find((r) => r.method.startsWith('COPY') && r.rollup === variant)
      ?.rowsPerSecond;
  for (const r of results) {
    const base = results.find(
      (x) => x.method === r.method && x.rollup === 'none',
    );
    r.ratioToCopy =
      r.rowsPerSecond /
      (copyRate('none') ?? copyRate(r.rollup!) ?? r.rowsPerSecond);
    if (base) r.ratioToNoRollup = r.rowsPerSecond / base.rowsPerSecond;
  }
  console.log(
    `\nmedian of ${ROUNDS} rounds: rows/s, ratio to COPY without rollup, ratio to the same method without rollup`,
  );
  for (const r of results) {
    console.log(
      `  ${`${r.method} [${r.rollup}]`.padEnd(56)} ${Math.round(r.rowsPerSecond).toString().padStart(8)} rows/s ${r.ratioToCopy!.toFixed(2)}x ${r.ratioToNoRollup?.toFixed(3) ?? ''}`,
    );
  }

  await writeResults('writer', {
    database: server.description,
    rows: N,
    callers: CALLERS,
    rounds: ROUNDS,
    median: results,
    allRounds: rounds,
  });
  await setup.destroy();
  await server.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
