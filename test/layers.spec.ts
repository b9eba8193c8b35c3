import { cp, mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { childEnv, run } from './support/processes.js';

/**
 * The layers of the module are held by `npm run lint:layers` (dependency-cruiser with
 * .dependency-cruiser.cjs). Each case copies src/logging into a scratch folder, plants one
 * violation, and runs the same command there: it must fail naming the rule, and pass untouched.
 */

const root = resolve(import.meta.dirname, '..');
const cruiser = join(
  root,
  'node_modules/dependency-cruiser/bin/dependency-cruise.mjs',
);

describe('lint:layers', () => {
  let scratch: string;

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'logging-layers-'));
    await cp(join(root, 'src/logging'), join(scratch, 'src/logging'), {
      recursive: true,
    });
    for (const file of ['.dependency-cruiser.cjs', 'tsconfig.json']) {
      await cp(join(root, file), join(scratch, file));
    }
  });
  afterEach(() => rm(scratch, { recursive: true, force: true }));

  const cruise = () =>
    run(
      process.execPath,
      [cruiser, '--config', join(scratch, '.dependency-cruiser.cjs'), 'src'],
      childEnv({}),
      60_000,
      scratch,
    );

  it('passes the module as it is', async () => {
    const result = await cruise();
    expect(result.output).toContain('no dependency violations found');
    expect(result.code).toBe(0);
  }, 60_000);

  it('fails on an import from writer/ into audit/', async () => {
    await appendFile(
      join(scratch, 'src/logging/writer/log-table.ts'),
      `import type { AuditLogService } from '../audit/audit-log.service.js';\n` +
        `export type Planted = AuditLogService;\n`,
    );
    const result = await cruise();
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(
      /writer-imports-core-only: src\/logging\/writer\/log-table\.ts → src\/logging\/audit\/audit-log\.service\.ts/,
    );
  }, 60_000);

  it('fails on a feature importing another feature', async () => {
    await appendFile(
      join(scratch, 'src/logging/ledger/credit-ledger.errors.ts'),
      `export { LlmUsageService as Planted } from '../llm-usage/llm-usage.service.js';\n`,
    );
    const result = await cruise();
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(
      /features-apart: src\/logging\/ledger\/credit-ledger\.errors\.ts → src\/logging\/llm-usage\/llm-usage\.service\.ts/,
    );
  }, 60_000);

  it('fails on an import cycle, even one of type-only imports', async () => {
    await writeFile(
      join(scratch, 'src/logging/core/planted-a.ts'),
      `import type { B } from './planted-b.js';\nexport interface A { b?: B }\n`,
    );
    await writeFile(
      join(scratch, 'src/logging/core/planted-b.ts'),
      `import type { A } from './planted-a.js';\nexport interface B { a?: A }\n`,
    );
    const result = await cruise();
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(
      /no-circular: src\/logging\/core\/planted-a\.ts → \n?\s*src\/logging\/core\/planted-b\.ts/,
    );
  }, 60_000);
});
