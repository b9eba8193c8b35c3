import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  location,
  loggingInstance,
  oneInstanceMessage,
} from './logging.instance.js';

describe('where a LoggingModule instance was called', () => {
  it('is the caller of the method that reads it, as path:line:column relative to the working folder', () => {
    function forRoot() {
      return loggingInstance('forRoot');
    }
    const { method, frames } = forRoot();
    expect(method).toBe('forRoot');
    expect(frames[0]).toMatch(
      /^src\/logging\/logging\.instance\.spec\.ts:\d+:\d+$/,
    );
    expect(frames.length).toBeLessThanOrEqual(3);
    expect(frames.some((f) => f.includes('node_modules'))).toBe(false);
  });

  it('reads the frames of ES modules, CommonJS modules and Node', () => {
    const app = join(process.cwd(), 'dist/src/app.module.js');
    expect(location(`    at ${pathToFileURL(app).href}:25:23`)).toBe(
      'dist/src/app.module.js:25:23',
    );
    expect(location(`    at Object.<anonymous> (${app}:25:23)`)).toBe(
      'dist/src/app.module.js:25:23',
    );
    expect(location('    at Module._compile (/srv/host/main.js:7:1)')).toBe(
      '/srv/host/main.js:7:1',
    );
    // no place: such frames are left out of an instance's frames
    expect(location('    at async Promise.all (index 0)')).not.toMatch(
      /:\d+:\d+$/,
    );
  });

  it('names every call, and the callers of calls made on one line', () => {
    const message = oneInstanceMessage([
      { method: 'forRoot', frames: ['src/app.module.ts:12:5'] },
      {
        method: 'forRootAsync',
        frames: ['src/logging.ts:3:9', 'src/admin.module.ts:8:3'],
      },
      {
        method: 'forRootAsync',
        frames: ['src/logging.ts:3:9', 'src/reports.module.ts:6:3'],
      },
    ]);
    expect(message).toMatch(
      /^LoggingModule is imported 3 times in one application: LoggingModule\.forRoot\(\) at src\/app\.module\.ts:12:5, LoggingModule\.forRootAsync\(\) at src\/logging\.ts:3:9 \(called from src\/admin\.module\.ts:8:3\) and LoggingModule\.forRootAsync\(\) at src\/logging\.ts:3:9 \(called from src\/reports\.module\.ts:6:3\)\. One application has one LoggingModule/,
    );
  });
});
