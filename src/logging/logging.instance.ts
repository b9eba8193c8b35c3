import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Provider } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';

/**
 * One application holds one LoggingModule. Two would split the trail: the same `record()` would
 * store a full IP through one and an anonymised one through the other, two writers would share one
 * table, and `@Audit` could not say which one it means. So a second `forRoot` or `forRootAsync` in
 * one application is refused at startup, naming where each was called.
 *
 * Each instance carries a {@link LoggingInstance} provider, and finds the others through Nest's
 * public `DiscoveryService`, which lists the providers of its own application only: two
 * applications in one process (tests, a worker beside a server) never see each other's.
 *
 * @module
 */

/** Where one `forRoot` or `forRootAsync` was called: the provider each instance carries. */
export interface LoggingInstance {
  readonly method: 'forRoot' | 'forRootAsync';
  /** The calling frames, nearest first, as `path:line:column` (relative to the working folder). */
  readonly frames: readonly string[];
}

/** The token of an instance's {@link LoggingInstance}. */
export const LOGGING_INSTANCE = Symbol('LOGGING_INSTANCE');

/** The token of the check that the application holds no other instance. */
export const LOGGING_INSTANCE_CHECK = Symbol('LOGGING_INSTANCE_CHECK');

/** Frames kept of each call: the caller, and two more to tell apart calls from one helper. */
const FRAMES = 3;
/** Frames read to find them: Node's own and those of packages are skipped. */
const FRAMES_READ = 12;

/**
 * The call of `method`, read from the stack: called by `forRoot` or `forRootAsync` itself, so the
 * frame after its caller's (the method's own) is where the host called the method.
 */
export function loggingInstance(
  method: LoggingInstance['method'],
): LoggingInstance {
  const holder = new Error();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = FRAMES_READ;
  try {
    Error.captureStackTrace(holder, loggingInstance);
  } finally {
    Error.stackTraceLimit = limit;
  }
  const frames = (holder.stack ?? '')
    .split('\n')
    .slice(2) // the message, and the frame of forRoot or forRootAsync
    .map(location)
    .filter(
      (frame) =>
        /:\d+:\d+$/.test(frame) &&
        !frame.startsWith('node:') &&
        !frame.split(sep).includes('node_modules'),
    )
    .slice(0, FRAMES);
  return Object.freeze({ method, frames: Object.freeze(frames) });
}

/** `path:line:column` of one stack frame, relative to the working folder when inside it. */
export function location(frame: string): string {
  const text = frame.trim().replace(/^at (async )?/, '');
  let where = /\(([^()]*)\)$/.exec(text)?.[1] ?? text;
  if (where.startsWith('file://')) {
    const [, path, position] = /^(file:\/\/.*?)((?::\d+)*)$/.exec(where)!;
    where = `${fileURLToPath(path)}${position}`;
  }
  const cwd = process.cwd();
  return where.startsWith(cwd + sep) ? relative(cwd, where) : where;
}

/**
 * The check every instance runs when the application instantiates its providers: it fails
 * startup when the application's modules hold another instance, with an error naming each call.
 */
export const LOGGING_INSTANCE_PROVIDERS: Provider[] = [
  {
    provide: LOGGING_INSTANCE_CHECK,
    useFactory: (discovery: DiscoveryService): true => {
      const instances = discovery
        .getProviders()
        .filter((wrapper) => wrapper.token === LOGGING_INSTANCE)
        .map((wrapper) => wrapper.instance as LoggingInstance);
      if (instances.length > 1) throw new Error(oneInstanceMessage(instances));
      return true;
    },
    inject: [DiscoveryService],
  },
];

/** The refusal, naming each call (and its callers when two calls share their nearest frame). */
export function oneInstanceMessage(
  instances: readonly LoggingInstance[],
): string {
  const nearest = instances.map((i) => i.frames[0] ?? 'an unknown place');
  const calls = instances.map((instance, i) => {
    const shared = nearest.filter((place) => place === nearest[i]).length > 1;
    const callers =
      shared && instance.frames.length > 1
        ? ` (called from ${instance.frames.slice(1).join(', from ')})`
        : '';
    return `LoggingModule.${instance.method}() at ${nearest[i]}${callers}`;
  });
  return (
    `LoggingModule is imported ${instances.length} times in one application: ` +
    `${calls.slice(0, -1).join(', ')} and ${calls[calls.length - 1]}. ` +
    'One application has one LoggingModule, with one set of options: import it once, in the ' +
    'root module (it is global by default, so every module injects its services), and remove ' +
    'the other imports. Modules that import it with isGlobal: false import the same value ' +
    '(export const logging = LoggingModule.forRoot({...})).'
  );
}
