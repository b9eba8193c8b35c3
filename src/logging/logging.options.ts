/**
 * Options of {@link LoggingModule}, given to `LoggingModule.forRoot(options)` or produced by the
 * factory of `LoggingModule.forRootAsync(...)`. Every field is optional; each documents its default.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the writer and services add fields
export interface LoggingModuleOptions {}

/**
 * Options of `forRoot`/`forRootAsync` that shape the module itself. They sit beside the options (or
 * beside `useFactory`) and never reach the injected options.
 */
export interface LoggingModuleExtras {
  /**
   * Register the module globally, so its exports are injectable everywhere without importing it
   * again. Default: `true`.
   */
  isGlobal?: boolean;
  /**
   * Name of the host's TypeORM DataSource the logs live in, as given to
   * `TypeOrmModule.forRoot(options, name)`. Default: the host's default DataSource.
   */
  dataSource?: string;
}
