/**
 * `npm run audit:verify`: the auditors' verifier (src/logging/seals/verify-cli.ts, the package's
 * `logging-audit-verify` bin) on the database behind `--url` or `DATABASE_URL`. In this repository,
 * with neither, or with the URL of the demo's embedded PostgreSQL (the one `npm run demo` prints),
 * it runs on that server: reused while `npm start` runs, otherwise started for the command and
 * stopped after it, as the migration scripts do. So the command the demo prints works after the
 * demo has ended.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EMBEDDED_DEFAULTS } from './database/data-source.js';
import {
  embeddedUrl,
  startEmbeddedPostgres,
} from './database/embedded-postgres.js';

/** The value of `--url` (either form), else `DATABASE_URL`; undefined when neither is given. */
function givenUrl(argv: string[]): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === '--url') return argv[i + 1];
    if (arg.startsWith('--url=')) return arg.slice('--url='.length);
  }
  return process.env.DATABASE_URL || undefined;
}

const verifier = '../logging/seals/verify-cli.js';
const { dataDir, port, database } = EMBEDDED_DEFAULTS;
const url = givenUrl(process.argv.slice(2));

if (url !== undefined && url !== embeddedUrl(port, database)) {
  await import(verifier);
} else if (!existsSync(join(dataDir, 'PG_VERSION'))) {
  console.error(
    `no --url and no DATABASE_URL, and no embedded PostgreSQL in ${dataDir} to verify:` +
      ' run npm run demo (or npm start) first, or give --url or DATABASE_URL',
  );
  process.exitCode = 2;
} else {
  const server = await startEmbeddedPostgres({
    dataDir,
    port,
    persistent: true,
  });
  try {
    process.env.DATABASE_URL = server.url(database);
    await import(verifier);
  } finally {
    await server.stop(); // a server `npm start` runs is left running
  }
}
