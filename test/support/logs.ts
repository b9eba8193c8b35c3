import {
  type INestApplicationContext,
  Logger,
  type LoggerService,
} from '@nestjs/common';

/** What an app logged, by level, instead of printing it. */
export interface CapturedLogs {
  log: string[];
  warn: string[];
  error: string[];
}

/**
 * Makes `app` (and every `new Logger()` in it), or without an app every Nest logger of the test
 * file, log into arrays the test reads instead of the console: a test that provokes errors asserts
 * them rather than printing them.
 */
export function captureLogs(app?: INestApplicationContext): CapturedLogs {
  const logs: CapturedLogs = { log: [], warn: [], error: [] };
  const logger: LoggerService = {
    log: (message: unknown) => logs.log.push(String(message)),
    warn: (message: unknown) => logs.warn.push(String(message)),
    error: (message: unknown) => logs.error.push(String(message)),
    debug: () => undefined,
    verbose: () => undefined,
    fatal: (message: unknown) => logs.error.push(String(message)),
  };
  // Without an app: Nest's loggers made outside one (`new LogRetentionService(dataSource)`).
  if (app) app.useLogger(logger);
  else Logger.overrideLogger(logger);
  return logs;
}
