/**
 * bench/writer: N rows into llm_usage_log, on the same table in one run, through
 *   (a) the LoggingModule writer, many concurrent record() callers, in 'await' and 'buffered', and
 *       track() of a call that returns at once; 'buffered' also under the telemetry setups below,
 *   (b) COPY FROM STDIN on one connection (the baseline),
 *   (c) TypeORM repository.save, one row at a time (a smaller N),
 *   (d) TypeORM repository.insert in batches of 1,000.
 * Prints rows/s and each as a ratio to COPY; writes bench/results/writer.json.
 *
 * Database time: the writer also runs through an application role (INSERT, SELECT, EXECUTE:
 * docs/retention-and-append-only.md), the way the database's guarantees are meant to be used, with
 * the statement trigger that checks created_at against the database clock (for every role but the
 * owner) enabled and, as the baseline, disabled, in the same rounds.
 *
 *   npm run bench:writer                    # N = 200,000
 *   BENCH_ROWS=50000 npm run bench:writer   # another N
 *
 * Every method runs BENCH_ROUNDS times (default 3), the methods interleaved round by round so that
 * drift (checkpoints, autovacuum) meets them alike, every other round in reverse order; the median
 * round counts. BENCH_WARMUP_ROUNDS (default 0) rounds run first and are not counted.
 *
 * Telemetry: the writer and track() methods run with no OpenTelemetry SDK, and with a host's SDK
 * registered whose exporters drop everything (bench/otel-noop.ts) with the module's telemetry off
 * and on; track() also with the SDK and, instead of the module's telemetry, a span and metric
 * points of the same shape written by hand (the SDK's own floor), and as a call that answers
 * after BENCH_SLOW_CALL_MS (50) ms. BENCH_METHODS=track,writer picks methods by name.
 *
 * DATABASE_URL picks the server; otherwise the embedded one of the demo. It works in a database of
 * its own, `logging_bench`, dropped and migrated anew at the start.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  type Attributes,
  context,
  metrics,
  SpanKind,
  trace,
} from '@opentelemetry/api';
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
import {
  OPERATION_DURATION_BUCKETS,
  TOKEN_USAGE_BUCKETS,
} from '../src/logging/core/otel.js';
import { registerNoopSdk } from './otel-noop.js';
import { freshDatabase, machineLine, writeResults } from './support.js';

const N = Number(process.env.BENCH_ROWS ?? 200_000);
const SAVE_N = Math.min(N, Number(process.env.BENCH_SAVE_ROWS ?? 5_000));
const CALLERS = Number(process.env.BENCH_CALLERS ?? 512);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Rounds run first and not counted: the JIT and the caches warm up on them. */
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP_ROUNDS ?? 0);
/** The duration of the slower tracked call (ms), and its rows: 512 callers make ~10,000 calls/s. */
const SLOW_CALL_MS = Number(process.env.BENCH_SLOW_CALL_MS ?? 50);
const SLOW_N = Math.min(N, Number(process.env.BENCH_SLOW_ROWS ?? 20_000));
const SLOW_KIND = `track() of a ${SLOW_CALL_MS} ms call`;
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

/**
 * The telemetry setups of the writer and track() variants: no SDK registered (the API's no-op
 * providers); a host's SDK registered (bench/otel-noop.ts) with the module's telemetry off or on;
 * and the floor, the SDK with the module's telemetry off and a span and metric points of the same
 * shape written by hand with the API around each call (handWrittenTelemetry).
 */
type Setup = 'none' | 'sdk-off' | 'sdk-on' | 'sdk-floor';
const SETUPS: Record<Setup, string> = {
  none: '',
  'sdk-off': ', SDK, telemetry off',
  'sdk-on': ', SDK, telemetry on',
  'sdk-floor': ', SDK, hand-written span',
};

/** A method's own measure of its run: seconds, and this process's CPU time meanwhile. */
interface Timing {
  seconds: number;
  cpuUs: number;
}

interface Result {
  method: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** This process's CPU time per row (µs), for the methods that measure it. */
  cpuUsPerRow?: number;
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
  fn: () => Promise<Timing | void>,
): Promise<Result> {
  const start = process.hrtime.bigint();
  const own = await fn();
  const seconds = own?.seconds ?? Number(process.hrtime.bigint() - start) / 1e9;
  const result: Result = {
    method,
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
  };
  if (own) result.cpuUsPerRow = own.cpuUs / rows;
  console.log(
    `${method.padEnd(44)} ${String(rows).padStart(8)} rows ${seconds.toFixed(2).padStart(7)} s ${Math.round(result.rowsPerSecond).toString().padStart(8)} rows/s${own ? ` ${result.cpuUsPerRow!.toFixed(1)} µs CPU/row` : ''}`,
  );
  return result;
}

/**
 * The floor of track()'s telemetry: what the SDK alone charges for a span and metric points of
 * the module's shape, with no module code. Around each call (track() with telemetry off): a CLIENT
 * span with the same six attributes started with the tracer, made active with context.with while
 * fn runs, three attributes added when fn returned and the row id after, then ended; and the same
 * metrics (operation duration, input and output tokens recorded; the cost summed per model and
 * task type and read by an observable counter) on attribute objects built once per model and task
 * type, the cheapest a caller could make them.
 */
function handWrittenTelemetry() {
  const tracer = trace.getTracer('bench-floor');
  const meter = metrics.getMeter('bench-floor');
  const duration = meter.createHistogram('gen_ai.client.operation.duration', {
    unit: 's',
    advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS },
  });
  const tokens = meter.createHistogram('gen_ai.client.token.usage', {
    unit: '{token}',
    advice: { explicitBucketBoundaries: TOKEN_USAGE_BUCKETS },
  });
  const shapes = new Map<
    string,
    {
      name: string;
      base: Attributes;
      input: Attributes;
      output: Attributes;
      costUsd: number;
    }
  >();
  meter
    .createObservableCounter('cma_logging.llm.cost', { unit: 'USD' })
    .addCallback((result) => {
      for (const shape of shapes.values()) {
        result.observe(shape.costUsd, shape.base);
      }
    });
  const rowId = randomUUID();
  return async <T>(
    e: LlmUsageEntry,
    track: (fn: () => T) => Promise<unknown>,
    fn: () => T,
  ): Promise<void> => {
    const key = `${e.model}\u0000${e.taskType}`;
    let shape = shapes.get(key);
    if (!shape) {
      const base = {
        'gen_ai.operation.name': 'generate_content',
        'gen_ai.request.model': e.model,
        'cma_logging.task_type': e.taskType,
        'gen_ai.provider.name': 'gcp.gemini',
      };
      shape = {
        name: `generate_content ${e.model}`,
        base,
        input: { ...base, 'gen_ai.token.type': 'input' },
        output: { ...base, 'gen_ai.token.type': 'output' },
        costUsd: 0,
      };
      shapes.set(key, shape);
    }
    const attributes: Attributes = {
      ...shape.base,
      'cma_logging.firm_id': e.firmId,
    };
    if (e.cmaProjectId) attributes['cma_logging.project_id'] = e.cmaProjectId;
    const span = tracer.startSpan(shape.name, {
      kind: SpanKind.CLIENT,
      attributes,
    });
    const started = performance.now();
    await track(() => context.with(trace.setSpan(context.active(), span), fn));
    const settled = performance.now();
    span.setAttributes({
      'gen_ai.usage.input_tokens': e.inputTokens,
      'gen_ai.usage.output_tokens': e.outputTokens,
      'cma_logging.cost_usd': e.costUsd,
    });
    duration.record((settled - started) / 1000, shape.base);
    tokens.record(e.inputTokens, shape.input);
    tokens.record(e.outputTokens, shape.output);
    shape.costUsd += Number(e.costUsd);
    span.setAttribute('cma_logging.row_id', rowId);
    span.end(settled);
  };
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
  // The log is append-only: the owner (the bench's admin) empties it, as only the owner may.
  const truncate = async () => {
    await setup.query(
      `SELECT set_config('logging.purge_cutoff', 'infinity', false);
       DELETE FROM llm_usage_log;
       RESET logging.purge_cutoff`,
    );
    await setup.query('VACUUM ANALYZE llm_usage_log');
  };
  // An application role with the grants the docs give; the owner keeps the schema.
  const appUrl = await appRole(setup, url);
  const clockCheck = (on: boolean) => () =>
    setup.query(
      `ALTER TABLE llm_usage_log ${on ? 'ENABLE' : 'DISABLE'} TRIGGER trg_llm_usage_log_created_at`,
    );
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
  /**
   * record() or track() of a call that returns at once, under one of the telemetry setups
   * (TELEMETRY): no SDK registered; the no-op SDK registered with the module's telemetry off or on;
   * or, the floor, the SDK with the module's telemetry off and a span and metric points of the
   * module's shape written by hand around each track() with the OpenTelemetry API alone.
   */
  const writer =
    (
      durability: Durability,
      call: 'record' | 'track' | 'track-slow' = 'record',
      setup: Setup = 'none',
      connectAs = url,
    ) =>
    async (): Promise<Timing> => {
      @Module({
        imports: [
          TypeOrmModule.forRoot(demoDataSourceOptions(connectAs)),
          LoggingModule.forRoot({
            database: { ownerConnection: 'allow' },
            writer: { durability },
            rollups: { compactIntervalMs: 0 },
            telemetry: { enabled: setup === 'sdk-on' },
          }),
        ],
      })
      class BenchModule {}
      const app = await NestFactory.createApplicationContext(BenchModule, {
        logger: ['error', 'warn'],
      });
      const usage = app.get(LlmUsageService);
      const logWriter = app.get(LogWriterService);
      const floor = setup === 'sdk-floor' ? handWrittenTelemetry() : undefined;
      const rows = call === 'track-slow' ? SLOW_N : N;
      const track = (e: LlmUsageEntry) => {
        const meta = {
          firmId: e.firmId,
          cmaProjectId: e.cmaProjectId,
          model: e.model,
          taskType: e.taskType,
        };
        const outcome = {
          result: null,
          usage: { inputTokens: e.inputTokens, outputTokens: e.outputTokens },
        };
        const fn: () => typeof outcome | Promise<typeof outcome> =
          call === 'track'
            ? () => outcome
            : () =>
                new Promise<typeof outcome>((resolve) =>
                  setTimeout(() => resolve(outcome), SLOW_CALL_MS),
                );
        return floor
          ? floor(e, (f) => usage.track(meta, f), fn)
          : usage.track(meta, fn);
      };
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      let next = 0;
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          while (next < rows) {
            const e = data[next++];
            await (call === 'record' ? usage.record(e) : track(e));
          }
        }),
      );
      await logWriter.flush(); // 'buffered': until every row is committed
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const { user, system } = process.cpuUsage(cpu);
      await app.close();
      return { seconds, cpuUs: user + system }; // the app's start and close are not timed
    };
  const repository = setup.getRepository(LlmUsageLog);
  const METHODS: {
    name: string;
    rows: number;
    /** Registers the no-op SDK for the method's run, and takes it out after. */
    sdk?: boolean;
    /** Run before the method, and after it the same with `true` (the database's setup). */
    setup?: (on: boolean) => Promise<unknown>;
    run: () => Promise<Timing | void>;
  }[] = [
    { name: 'COPY FROM STDIN (1 connection)', rows: N, run: copy },
    ...(['await', 'buffered'] as const).flatMap((durability) =>
      [true, false].map((on) => ({
        name: `writer, '${durability}', app role, created_at check ${on ? 'on' : 'off'} (${CALLERS} callers)`,
        rows: N,
        setup: (after: boolean) => clockCheck(after || on)(),
        run: writer(durability, 'record', 'none', appUrl),
      })),
    ),
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
    ...(['sdk-off', 'sdk-on'] as const).map((setup) => ({
      name: `writer, 'buffered'${SETUPS[setup]} (${CALLERS} callers)`,
      rows: N,
      sdk: true,
      run: writer('buffered', 'record', setup),
    })),
    ...(['none', 'sdk-off', 'sdk-on', 'sdk-floor'] as const).map((setup) => ({
      name: `track(), 'buffered'${SETUPS[setup]} (${CALLERS} callers)`,
      rows: N,
      sdk: setup !== 'none',
      run: writer('buffered', 'track', setup),
    })),
    // beside the instant call, one that answers after SLOW_CALL_MS, as an LLM call does (sooner)
    ...(['none', 'sdk-off', 'sdk-on'] as const).map((setup) => ({
      name: `${SLOW_KIND}, 'buffered'${SETUPS[setup]} (${CALLERS} callers)`,
      rows: SLOW_N,
      sdk: setup !== 'none',
      run: writer('buffered', 'track-slow', setup),
    })),
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
  for (let round = 1 - WARMUP_ROUNDS; round <= ROUNDS; round++) {
    console.log(
      round < 1 ? 'warm-up round, not counted' : `round ${round} of ${ROUNDS}`,
    );
    const results: Result[] = [];
    for (const [v, variant] of VARIANTS.entries()) {
      // every other round in reverse order, so that no method always runs first or after another
      const order = [...METHODS.keys()];
      if (round % 2 === 0) order.reverse();
      for (const m of order) {
        const method = METHODS[m];
        await truncate();
        await useRollupVariant(setup, variant);
        // A host's SDK with exporters that drop everything, for this method's run only
        const stopSdk = method.sdk ? registerNoopSdk() : undefined;
        await method.setup?.(false);
        const result = await timed(
          `${method.name} [${variant}]`,
          method.rows,
          method.run,
        );
        await method.setup?.(true);
        await stopSdk?.();
        results[v * METHODS.length + m] = {
          ...result,
          method: method.name,
          rollup: variant,
        };
        await check(method.rows);
        const rolled = await rolledUpCalls(setup, variant);
        if (variant !== 'none' && rolled !== method.rows) {
          throw new Error(
            `${variant}: rollup counts ${rolled} calls, expected ${method.rows}`,
          );
        }
      }
    }
    if (round >= 1) rounds.push(results);
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

  // Telemetry's cost, from the rounds: each setup's rows/s and CPU per row (medians), and the
  // ratios between setups taken round by round (the same round's runs side by side), with their
  // median and range over the rounds.
  const telemetry = telemetrySummary(rounds, VARIANTS[0]);
  await writeResults('writer', {
    database: server.description,
    rows: N,
    callers: CALLERS,
    rounds: ROUNDS,
    median: results,
    telemetry,
    allRounds: rounds,
  });
  await setup.destroy();
  await server.stop();
}

/**
 * Creates (anew) the login role `logging_bench_app` with the grants the docs give an application
 * (SELECT and INSERT on the tables, the sequences, EXECUTE on the functions), and returns `url`
 * logging in as it.
 */
async function appRole(owner: DataSource, url: string): Promise<string> {
  const role = 'logging_bench_app';
  const password = 'logging_bench_app';
  await owner.query(
    `DO $$ BEGIN
       IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
         EXECUTE 'REASSIGN OWNED BY ${role} TO ' || quote_ident(current_user);
         EXECUTE 'DROP OWNED BY ${role}';
         DROP ROLE ${role};
       END IF;
     END $$`,
  );
  await owner.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  for (const grant of [
    `GRANT USAGE ON SCHEMA public TO ${role}`,
    `GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO ${role}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`,
    `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${role}`,
  ]) {
    await owner.query(grant);
  }
  const app = new URL(url);
  app.username = role;
  app.password = password;
  return app.toString();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The ratios that tell the host's SDK's cost from the module's (see bench/README.md). */
const TELEMETRY_RATIOS: [label: string, over: Setup, under: Setup][] = [
  ["the host's SDK alone (SDK, telemetry off / no SDK)", 'sdk-off', 'none'],
  ["the module's telemetry (SDK: telemetry on / off)", 'sdk-on', 'sdk-off'],
  ['both (SDK, telemetry on / no SDK)', 'sdk-on', 'none'],
  [
    'the floor: a hand-written span (SDK: hand-written / off)',
    'sdk-floor',
    'sdk-off',
  ],
];

function telemetrySummary(rounds: Result[][], rollup: RollupVariant) {
  const summary = [];
  for (const kind of ['writer', 'track()', SLOW_KIND]) {
    const find = (round: Result[], setup: Setup) =>
      round.find(
        (r) =>
          r.method ===
            `${kind}, 'buffered'${SETUPS[setup]} (${CALLERS} callers)` &&
          r.rollup === rollup,
      );
    const setups = (Object.keys(SETUPS) as Setup[]).filter((setup) =>
      rounds.every((round) => find(round, setup)),
    );
    if (setups.length < 2) continue;
    console.log(`\ntelemetry, ${kind} (${rounds.length} rounds):`);
    const rates: Record<string, unknown> = {};
    for (const setup of setups) {
      const runs = rounds.map((round) => find(round, setup)!);
      const rowsPerSecond = median(runs.map((r) => r.rowsPerSecond));
      const cpuUsPerRow = median(runs.map((r) => r.cpuUsPerRow ?? NaN));
      rates[setup] = { rowsPerSecond, cpuUsPerRow };
      console.log(
        `  ${(SETUPS[setup].slice(2) || 'no SDK').padEnd(26)} ${Math.round(rowsPerSecond).toString().padStart(8)} rows/s  ${cpuUsPerRow.toFixed(1).padStart(6)} µs CPU/row`,
      );
    }
    const ratios = [];
    for (const [label, over, under] of TELEMETRY_RATIOS) {
      if (!setups.includes(over) || !setups.includes(under)) continue;
      const paired = rounds.map(
        (round) =>
          find(round, over)!.rowsPerSecond / find(round, under)!.rowsPerSecond,
      );
      const cpu = rounds.map(
        (round) =>
          find(round, over)!.cpuUsPerRow! - find(round, under)!.cpuUsPerRow!,
      );
      const ratio = {
        label,
        throughput: median(paired),
        min: Math.min(...paired),
        max: Math.max(...paired),
        cpuUsPerRowAdded: median(cpu),
      };
      ratios.push(ratio);
      console.log(
        `  ${label.padEnd(58)} ${ratio.throughput.toFixed(3)}x (rounds ${ratio.min.toFixed(3)} to ${ratio.max.toFixed(3)})  ${ratio.cpuUsPerRowAdded >= 0 ? '+' : ''}${ratio.cpuUsPerRowAdded.toFixed(1)} µs CPU/row`,
      );
    }
    summary.push({ kind, setups: rates, ratios });
  }
  return summary;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
