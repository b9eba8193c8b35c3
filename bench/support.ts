/** What the benches share: a database of their own, the machine, and where results go. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  demoDataSourceOptions,
  resolveDemoDatabase,
} from '../src/demo/database/data-source.js';

/** Drops and creates `name` on the server behind `adminUrl`, and returns its URL. */
export async function freshDatabase(
  adminUrl: string,
  name: string,
): Promise<string> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `<where the server is>, PostgreSQL <version>`: the server a bench ran on, for its first line. */
export async function serverLine(server: {
  url: string;
  description: string;
}): Promise<string> {
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  try {
    const version = (
      await admin.query<{ server_version: string }>('SHOW server_version')
    ).rows[0].server_version;
    return `${server.description}, PostgreSQL ${version}`;
  } finally {
    await admin.end();
  }
}

/** The machine, as the results record it. */
export function machine(): { cores: number; memoryGiB: number } {
  return {
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
}

/** `2 cores, 24 GiB`, for a bench's first line. */
export function machineLine(): string {
  const { cores, memoryGiB } = machine();
  return `${cores} cores, ${memoryGiB} GiB`;
}

/**
 * Writes `bench/results/<name>.json` (beside the sources, wherever the bench runs from): the date,
 * the machine, then `results`.
 */
export async function writeResults(
  name: string,
  results: Record<string, unknown>,
): Promise<void> {
  // compiled to dist/bench/support.js: the results folder is ../../bench/results
  const out = join(
    dirname(fileURLToPath(import.meta.url)),
    '..',
    '..',
    'bench',
    'results',
  );
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, `${name}.json`),
    JSON.stringify(
      { date: new Date().toISOString(), machine: machine(), ...results },
      null,
      2,
    ) + '\n',
  );
}

/**
 * The bench's database made anew (`logging_bench_endpoint` on the demo's server, or DATABASE_URL's),
 * migrated, with one firm, its user and its project: what the bench app's requests act for.
 */
export async function seedEndpointDatabase() {
  const server = await resolveDemoDatabase();
  const url = await freshDatabase(server.url, 'logging_bench_endpoint');
  const setup = await new DataSource(demoDataSourceOptions(url)).initialize();
  await setup.runMigrations();
  const [firm] = await setup.query<{ id: string }[]>(
    `INSERT INTO firms (name) VALUES ('bench') RETURNING id`,
  );
  const [user] = await setup.query<{ id: string }[]>(
    `INSERT INTO users (firm_id, email) VALUES ($1, 'bench@bench.test') RETURNING id`,
    [firm.id],
  );
  const [project] = await setup.query<{ id: string }[]>(
    `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'bench CMA') RETURNING id`,
    [firm.id],
  );
  return { server, url, setup, firm, user, project };
}
