/**
 * bench/ids: what time-ordered ids do to the primary-key B-tree. N ids go into a table of one
 * `uuid PRIMARY KEY` column, once random (UUIDv4, `gen_random_uuid()`, the ids before) and once
 * time-ordered (UUIDv7, PostgreSQL 18's `uuidv7()`, the same layout as the writer's: 48 bits of
 * milliseconds, 12 bits of sub-millisecond precision), 1,000,000 rows per statement. Prints the
 * load rate overall and over the last million (the index at its largest), and the index's size.
 * Writes bench/results/ids.json.
 *
 *   npm run bench:ids                        # N = 10,000,000
 *   BENCH_ID_ROWS=1000000 npm run bench:ids  # another N
 *
 * The ids are made by the server so that the figures are the index's, not the client's or the
 * wire's. DATABASE_URL picks the server (PostgreSQL 18 or newer); otherwise the embedded one of the
 * demo. It works in a database of its own, `logging_bench_ids`, dropped and created anew.
 */
import { Client } from 'pg';
import { resolveDemoDatabase } from '../src/demo/database/data-source.js';
import { freshDatabase, machineLine, writeResults } from './support.js';

const N = Number(process.env.BENCH_ID_ROWS ?? 10_000_000);
const CHUNK = 1_000_000;

const VARIANTS = [
  { name: 'v4 (random)', table: 'ids_v4', id: 'gen_random_uuid()' },
  { name: 'v7 (time-ordered)', table: 'ids_v7', id: 'uuidv7()' },
] as const;

interface Result {
  variant: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  lastMillionRowsPerSecond: number;
  indexMiB: number;
  /** Leaf pages' average fill, from pgstattuple when it is there. */
  leafFillPercent: number | null;
}

async function load(
  client: Client,
  variant: (typeof VARIANTS)[number],
): Promise<Result> {
  await client.query(`DROP TABLE IF EXISTS ${variant.table}`);
  await client.query(
    `CREATE TABLE ${variant.table} (id uuid NOT NULL, CONSTRAINT pk_${variant.table} PRIMARY KEY (id))`,
  );
  const started = performance.now();
  let lastChunk = 0;
  for (let done = 0; done < N; done += CHUNK) {
    const rows = Math.min(CHUNK, N - done);
    const chunkStarted = performance.now();
    await client.query(
      `INSERT INTO ${variant.table} SELECT ${variant.id} FROM generate_series(1, $1)`,
      [rows],
    );
    lastChunk = rows / ((performance.now() - chunkStarted) / 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  const [{ bytes }] = (
    await client.query<{ bytes: string }>(
      `SELECT pg_relation_size('pk_${variant.table}') AS bytes`,
    )
  ).rows;
  const fill = await client
    .query<{ fill: number }>(
      `SELECT avg_leaf_density AS fill FROM pgstatindex('pk_${variant.table}')`,
    )
    .then(
      ({ rows }) => rows[0].fill,
      () => null,
    );
  return {
    variant: variant.name,
    rows: N,
    seconds: Math.round(seconds * 10) / 10,
    rowsPerSecond: Math.round(N / seconds),
    lastMillionRowsPerSecond: Math.round(lastChunk),
    indexMiB: Math.round(Number(bytes) / 2 ** 20),
    leafFillPercent: fill,
  };
}

async function main(): Promise<void> {
  const server = await resolveDemoDatabase();
  try {
    const url = await freshDatabase(server.url, 'logging_bench_ids');
    const client = new Client({ connectionString: url });
    await client.connect();
    const [{ version }] = (
      await client.query<{ version: string }>(
        "SELECT current_setting('server_version') AS version",
      )
    ).rows;
    await client
      .query('CREATE EXTENSION IF NOT EXISTS pgstattuple')
      .catch(() => undefined);
    console.log(
      `bench/ids: ${N.toLocaleString('en')} ids per variant; ${machineLine()}; PostgreSQL ${version}`,
    );
    const results: Result[] = [];
    for (const variant of VARIANTS) {
      const result = await load(client, variant);
      results.push(result);
      await client.query(`DROP TABLE ${variant.table}`);
      console.log(
        `${result.variant.padEnd(18)} ${String(result.rowsPerSecond).padStart(9)} rows/s` +
          `  last 1M ${String(result.lastMillionRowsPerSecond).padStart(9)} rows/s` +
          `  index ${result.indexMiB} MiB` +
          (result.leafFillPercent === null
            ? ''
            : `  leaf fill ${result.leafFillPercent}%`),
      );
    }
    const [v4, v7] = results;
    const ratios = {
      loadRate: Math.round((v7.rowsPerSecond / v4.rowsPerSecond) * 100) / 100,
      lastMillionRate:
        Math.round(
          (v7.lastMillionRowsPerSecond / v4.lastMillionRowsPerSecond) * 100,
        ) / 100,
      indexSize: Math.round((v7.indexMiB / v4.indexMiB) * 100) / 100,
    };
    console.log(
      `v7 / v4: load ${ratios.loadRate}x, last 1M ${ratios.lastMillionRate}x, index size ${ratios.indexSize}x`,
    );
    await client.end();
    await writeResults('ids', { postgres: version, results, ratios });
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
