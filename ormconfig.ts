import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  demoDataSourceOptions,
  resolveDemoDatabase,
} from './src/demo/database/data-source.js';

/** Stops the embedded server it runs on once the CLI destroys it, so the command can exit. */
class CliDataSource extends DataSource {
  constructor(
    options: DataSourceOptions,
    private readonly release: () => Promise<void>,
  ) {
    super(options);
  }

  override async destroy(): Promise<void> {
    try {
      if (this.isInitialized) await super.destroy();
    } finally {
      await this.release();
    }
  }
}

/**
 * The DataSource the TypeORM CLI loads (`npm run migration:run` and friends): `DATABASE_URL` when
 * set, otherwise the embedded PostgreSQL kept in `.pgdata/`.
 */
export default resolveDemoDatabase().then(
  (database) =>
    new CliDataSource(demoDataSourceOptions(database.url), () =>
      database.stop(),
    ),
);
