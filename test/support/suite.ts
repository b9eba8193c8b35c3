import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from './database.js';

/**
 * Call inside a `describe`: a database of its own for the block, created before its tests and
 * dropped after them; a connection of its own that reads what is committed, not what a session of
 * the app sees; and the apps each test starts, closed after it.
 */
export function databaseSuite() {
  let database: TestDatabase | undefined;
  let reader: Client | undefined;
  const apps: { close: () => Promise<void> }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    reader = new Client({ connectionString: database.url });
    await reader.connect();
  });
  afterAll(async () => {
    await reader?.end();
    await database?.drop();
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  return {
    get url(): string {
      return database!.url;
    },
    get reader(): Client {
      return reader!;
    },
    /** Apps started by the current test so far. */
    get started(): number {
      return apps.length;
    },
    /** Closes `app` after the current test, and returns it. */
    own<App extends { close: () => Promise<void> }>(app: App): App {
      apps.push(app);
      return app;
    },
  };
}
