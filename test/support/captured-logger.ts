import type { LoggerService } from '@nestjs/common';

/** A Nest logger that keeps the messages of `error()`; an Error as `name: message`. */
export function capturedLogger() {
  const errors: string[] = [];
  const logger: LoggerService = {
    log: () => undefined,
    warn: () => undefined,
    error: (message: unknown) => {
      errors.push(
        message instanceof Error
          ? `${message.name}: ${message.message}`
          : String(message),
      );
    },
  };
  return { logger, errors };
}
