/** What the benches share: a database of their own, the machine, and where results go. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'pg';

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
