import { resolve } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { LOGGING_ENTITIES } from '../../logging/entities/index.js';
import { LOGGING_MIGRATIONS } from '../../logging/migrations/index.js';
import { DEMO_ENTITIES } from '../entities/index.js';
import { DEMO_MIGRATIONS } from '../migrations/index.js';
import { ensureDatabase, startEmbeddedPostgres } from './embedded-postgres.js';

/**
 * The embedded server's port for a data folder: 55000 to 59999, from a hash of the folder's path,
 * so two clones on one machine run two servers rather than share one.
 */
export function embeddedPortFor(dataDir: string): number {
  let hash = 0x811c9dc5; // FNV-1a
  for (const byte of Buffer.from(resolve(dataDir))) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return 55000 + (hash % 5000);
}

const dataDir = resolve(process.env.EMBEDDED_PG_DIR ?? '.pgdata');

/** Where the demo and the CLI keep the embedded server when `DATABASE_URL` is unset. */
export const EMBEDDED_DEFAULTS = {
  /** Git-ignored, so the data survives between commands. */
  dataDir,
  /** `EMBEDDED_PG_PORT`, else derived from the data folder's path. */
  port: Number(process.env.EMBEDDED_PG_PORT ?? embeddedPortFor(dataDir)),
  database: 'cma_logging',
} as const;

/** Entities and migrations of the demo host followed by those of the logging module. */
export function demoDataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [...DEMO_ENTITIES, ...LOGGING_ENTITIES],
    migrations: [...DEMO_MIGRATIONS, ...LOGGING_MIGRATIONS],
    migrationsTableName: 'migrations',
    // gen_random_uuid() is built into PostgreSQL 13+: no extension is installed or needed.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
  };
}

export interface DemoDatabase {
  url: string;
  /** `DATABASE_URL`, or the embedded server's port and data folder. */
  description: string;
  /** Stops the embedded server if this process started it. */
  stop(): Promise<void>;
}

/** `DATABASE_URL` when set; otherwise the embedded PostgreSQL in {@link EMBEDDED_DEFAULTS}. */
export async function resolveDemoDatabase(): Promise<DemoDatabase> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) {
    return {
      url: fromEnv,
      description: 'DATABASE_URL',
      stop: () => Promise.resolve(),
    };
  }
  const { dataDir, port, database } = EMBEDDED_DEFAULTS;
  const server = await startEmbeddedPostgres({
    dataDir,
    port,
    persistent: true,
  });
  try {
    await ensureDatabase(server.url('postgres'), database);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return {
    url: server.url(database),
    description: `embedded PostgreSQL on port ${port} (${server.started ? 'started' : 'reused'}, data in ${dataDir})`,
    stop: () => server.stop(),
  };
}
