import type { DataSource } from 'typeorm';
import { WriterPool } from './writer-pool.js';

/** The writer's own pool is opened from the host DataSource's node-postgres pool, or not at all. */
describe("the writer's pool", () => {
  it('refuses a DataSource without the node-postgres driver, naming what it found', () => {
    const mysql = {
      driver: {},
      options: { type: 'mysql' },
      isInitialized: true,
    } as unknown as DataSource;
    expect(() => new WriterPool(mysql, 4, 0).open()).toThrow(
      "LoggingModule: the writer opens its connections with the DataSource's node-postgres driver, and found none (type 'mysql')",
    );
  });

  it('is closed for good once closed', async () => {
    const pool = new WriterPool({} as DataSource, 4, 0);
    await pool.close(0);
    await expect(pool.execute('SELECT 1', [], 0)).rejects.toThrow(
      'the log writer is shut down',
    );
  });
});
