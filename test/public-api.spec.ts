import { readFile, writeFile } from 'node:fs/promises';
import {
  ENTRY_POINTS,
  type ExportedName,
  readApi,
  renderReport,
  reportFile,
} from './support/api-report.js';

/**
 * The public surface of the package, held in review: the exports of each entry point, their kinds
 * and types, are recorded in `api/*.api.md`. A change to the surface changes a report, which
 * `npm run api:report` rewrites (API_REPORT=update) for the change to be committed with it.
 */

describe('public API', () => {
  let api: Record<string, ExportedName[]>;

  beforeAll(() => {
    api = readApi();
  }, 120_000);

  it('the root entry exports 63 names or fewer', () => {
    expect(api['@cma/logging'].length).toBeLessThanOrEqual(63);
  });

  it.each(Object.keys(ENTRY_POINTS))(
    '%s matches its committed report',
    async (entry) => {
      const report = renderReport(entry, api[entry]);
      if (process.env.API_REPORT === 'update') {
        await writeFile(reportFile(entry), report);
      }
      expect(report).toBe(await readFile(reportFile(entry), 'utf8'));
    },
  );

  it('documents every export with TSDoc', () => {
    const undocumented = Object.entries(api).flatMap(([entry, names]) =>
      names.filter((n) => !n.documented).map((n) => `${entry}: ${n.name}`),
    );
    expect(undocumented).toEqual([]);
  });

  it('has no @internal member on an exported class', () => {
    const internal = Object.entries(api).flatMap(([entry, names]) =>
      names.flatMap((n) =>
        n.internalMembers.map((member) => `${entry}: ${n.name}.${member}`),
      ),
    );
    expect(internal).toEqual([]);
  });
});
