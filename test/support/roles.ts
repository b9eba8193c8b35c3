import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { LoggingModuleOptions } from '../../src/logging/index.js';

/**
 * A second database role on the test server, connected to one test database, for tests of what the
 * database holds against the application itself. The schema's owner (the server's admin, who ran
 * the migrations) grants it:
 *
 * - `crud`: what hosts usually grant an application: every privilege on every table (SELECT,
 *   INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER), the sequences, EXECUTE on every function;
 * - `least`: what the module needs (docs/retention-and-append-only.md, "Roles"): SELECT and INSERT
 *   on the tables, the sequences, EXECUTE on the functions.
 */
export interface AppRole {
  readonly name: string;
  /** The test database's URL, logging in as this role. */
  readonly url: string;
  /** A new connection as this role; closed by `drop()`. */
  connect(): Promise<Client>;
  /** Closes its connections, removes its privileges and the role. */
  drop(): Promise<void>;
}

/**
 * The module's options for the suite's apps, which connect as the test server's superuser (the
 * owner of the schema): one role does everything, knowingly. The specs of the guarantees connect as
 * a second role instead ({@link createAppRole}).
 */
export const SINGLE_ROLE = {
  database: { ownerConnection: 'allow' },
} as const satisfies LoggingModuleOptions;

export const ROLE_GRANTS = {
  crud: [
    'GRANT USAGE ON SCHEMA public TO %r',
    'GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO %r',
    'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %r',
    'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO %r',
  ],
  least: [
    'GRANT USAGE ON SCHEMA public TO %r',
    'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO %r',
    'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %r',
    'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO %r',
  ],
} as const;

/** Creates a login role with `grants` on the database at `ownerUrl` (the owner's connection). */
export async function createAppRole(
  ownerUrl: string,
  grants: keyof typeof ROLE_GRANTS,
): Promise<AppRole> {
  const name = `logging_app_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const owner = new Client({ connectionString: ownerUrl });
  await owner.connect();
  try {
    await owner.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
    for (const grant of ROLE_GRANTS[grants]) {
      await owner.query(grant.replace('%r', name));
    }
  } finally {
    await owner.end();
  }
  const url = new URL(ownerUrl);
  url.username = name;
  url.password = password;
  const clients: Client[] = [];
  return {
    name,
    url: url.toString(),
    async connect() {
      const client = new Client({ connectionString: url.toString() });
      // the test database may be dropped (WITH FORCE) before the role's clients are closed
      client.on('error', () => undefined);
      await client.connect();
      clients.push(client);
      return client;
    },
    async drop() {
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => 0)));
      // Its privileges live in the test database, if that is still there; the role in the cluster.
      const inDatabase = new Client({ connectionString: ownerUrl });
      inDatabase.on('error', () => undefined);
      const reached = await inDatabase.connect().then(
        () => true,
        () => false,
      );
      if (reached) {
        try {
          await inDatabase.query(`DROP OWNED BY ${name}`);
        } finally {
          await inDatabase.end();
        }
      }
      const maintenance = new URL(ownerUrl);
      maintenance.pathname = '/postgres';
      const admin = new Client({ connectionString: maintenance.toString() });
      await admin.connect();
      try {
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`,
          [name],
        );
        await admin.query(`DROP ROLE ${name}`);
      } finally {
        await admin.end();
      }
    },
  };
}
