import { randomUUID } from 'node:crypto';
import { IsUUID, Matches, MaxLength } from 'class-validator';
import { detectIdentity } from '../src/logging/core/sensitive-values.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import * as previous from './support/previous-detectors.js';
import { seedFirm } from './support/seed.js';
import {
  type InnocentReference,
  innocentReferences,
} from './fixtures/corpora/innocent-references.js';
import {
  type ProviderError,
  providerErrors,
} from './fixtures/corpora/provider-errors.js';

/**
 * The innocent corpus beside the leak corpus (test/leak-corpus.spec.ts): real-world references
 * (model names with dates, dates, invoice and batch numbers, SHAs, provider request ids, ULIDs,
 * UUIDs, file names) stored as declared identifiers, and real provider error messages (OpenAI,
 * Anthropic, Gemini) stored through `track()` and `record({ errorMessage })`. The suite prints the
 * rates: innocent references refused (at most 1%), error messages that lost their status code,
 * error type or model name (none). The controls run the corpus against the previous detectors and
 * find what they refused.
 */

const LOOSE = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

/** A reference of a loose pattern and a file id: only the detectors stand between them and a row. */
class InnocentMetadata {
  @Matches(LOOSE)
  @MaxLength(64)
  ref: string;

  @IsUUID()
  fileId: string;
}

const ACTION = 'innocent_reference';
const REFERENCES = innocentReferences();
const ERRORS = providerErrors();

const isUuid = (value: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
/** The reference as a declared identifier (which starts with a letter): `ref-` before a digit. */
const asIdentifier = (value: string) =>
  /^[A-Za-z]/.test(value) ? value : `ref-${value}`;

/** `n` written in letters, for model names. */
const letters = (n: number) =>
  n
    .toString(26)
    .replace(/./g, (c) => String.fromCharCode(97 + parseInt(c, 26)));

const percent = (part: number, whole: number) =>
  `${((100 * part) / whole).toFixed(2)}%`;

/** Per category: how many, how many refused. */
function byCategory(
  refs: readonly InnocentReference[],
  refused: ReadonlySet<InnocentReference>,
): string {
  const counts = new Map<string, [number, number]>();
  for (const ref of refs) {
    const [n, r] = counts.get(ref.category) ?? [0, 0];
    counts.set(ref.category, [n + 1, r + (refused.has(ref) ? 1 : 0)]);
  }
  return [...counts]
    .map(([category, [n, r]]) => `${category} ${r}/${n}`)
    .join(', ');
}

/** Which of `status`, error types and model name the stored text lost. */
const lostMarkers = (error: ProviderError, stored: string) =>
  [error.status, ...error.types, error.model].filter(
    (m) => !stored.includes(m),
  );

async function inBatches<T>(
  items: readonly T[],
  each: (item: T, index: number) => Promise<void>,
  size = 50,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(
      items.slice(i, i + size).map((item, j) => each(item, i + j)),
    );
  }
}

describe('the innocent corpus is stored as given', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof loggingApp>>;
  let firmId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await loggingApp(database.url, {
      audit: { actions: { [ACTION]: InnocentMetadata } },
    });
    firmId = (await seedFirm(app.dataSource, `innocent-${randomUUID()}`))
      .firmId;
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  it('has at least 1,000 references and 200 provider error messages', () => {
    expect(REFERENCES.length).toBeGreaterThanOrEqual(1000);
    expect(ERRORS.length).toBeGreaterThanOrEqual(200);
    for (const provider of ['openai', 'anthropic', 'gemini']) {
      expect(
        ERRORS.filter((e) => e.provider === provider).length,
      ).toBeGreaterThanOrEqual(60);
    }
  });

  it('refuses at most 1% of the references declared as identifiers, each row written', async () => {
    const entityIds = REFERENCES.map(() => randomUUID());
    await inBatches(REFERENCES, async (ref, i) => {
      await app.audit.record({
        firmId,
        action: ACTION,
        entityType: 'cma_project',
        entityId: entityIds[i],
        metadata: isUuid(ref.value)
          ? { fileId: ref.value }
          : { ref: asIdentifier(ref.value) },
      });
    });
    const rows = await app.dataSource.query<
      { entity_id: string; metadata: { ref?: string; fileId?: string } }[]
    >(
      'SELECT entity_id, metadata FROM audit_log WHERE entity_id = ANY($1::uuid[])',
      [entityIds],
    );
    const stored = new Map(rows.map((r) => [r.entity_id, r.metadata]));
    expect(entityIds.filter((id) => !stored.has(id))).toEqual([]);
    const refused = new Set(
      REFERENCES.filter((ref, i) => {
        const metadata = stored.get(entityIds[i])!;
        return isUuid(ref.value)
          ? metadata.fileId !== ref.value
          : metadata.ref !== asIdentifier(ref.value);
      }),
    );
    console.log(
      `innocent references refused: ${refused.size} of ${REFERENCES.length} (${percent(refused.size, REFERENCES.length)}); ${byCategory(REFERENCES, refused)}` +
        (refused.size > 0
          ? `\n  refused: ${[...refused].map((r) => r.value).join(', ')}`
          : ''),
    );
    expect(refused.size / REFERENCES.length).toBeLessThanOrEqual(0.01);
  });

  it('takes at most 1% of the references for identity data (the reference columns)', () => {
    const taken = REFERENCES.filter(
      (ref) => detectIdentity(ref.value) !== null,
    );
    console.log(
      `innocent references taken for identity data: ${taken.length} of ${REFERENCES.length} (${percent(taken.length, REFERENCES.length)})`,
    );
    expect(taken.length / REFERENCES.length).toBeLessThanOrEqual(0.01);
  });

  it('keeps the status code, error type and model name of every provider error, the same text from track() and record()', async () => {
    const usage = app.usage;
    const cases = ERRORS.map((error, i) => ({
      error,
      model: `call-${letters(i)}`,
    }));
    await inBatches(cases, async ({ error, model }) => {
      const thrown = new Error(error.message);
      thrown.name = error.name;
      await expect(
        usage.track(
          { firmId, model, taskType: 'extraction', costUsd: '0' },
          () => {
            throw thrown;
          },
        ),
      ).rejects.toBe(thrown);
    });
    const recorded = new Set<string>();
    await inBatches(cases, async ({ error, model }) => {
      recorded.add(
        await usage.record({
          firmId,
          model,
          taskType: 'extraction',
          inputTokens: 0,
          outputTokens: 0,
          costUsd: '0',
          success: false,
          errorMessage: `${error.name}: ${error.message}`,
        }),
      );
    });
    const rows = await app.dataSource.query<
      { id: string; model: string; error_message: string }[]
    >(
      'SELECT id, model, error_message FROM llm_usage_log WHERE model = ANY($1)',
      [cases.map((c) => c.model)],
    );
    const tracked = new Map<string, string>();
    const viaRecord = new Map<string, string>();
    for (const row of rows) {
      (recorded.has(row.id) ? viaRecord : tracked).set(
        row.model,
        row.error_message,
      );
    }
    expect(
      cases.filter((c) => !tracked.has(c.model) || !viaRecord.has(c.model)),
    ).toEqual([]);
    expect(
      cases
        .filter((c) => tracked.get(c.model) !== viaRecord.get(c.model))
        .map((c) => c.model),
    ).toEqual([]);
    const lost = cases.filter(
      ({ error, model }) => lostMarkers(error, tracked.get(model)!).length > 0,
    );
    const changed = cases.filter(
      ({ error, model }) =>
        tracked.get(model) !== `${error.name}: ${error.message}`.slice(0, 2000),
    );
    console.log(
      `innocent error messages that lost their status code, error type or model name: ${lost.length} of ${cases.length} (${percent(lost.length, cases.length)}); ${changed.length} had something else redacted (token counts, project numbers, request ids)`,
    );
    expect(
      lost.map(
        ({ error, model }) =>
          `${lostMarkers(error, tracked.get(model)!).join(', ')} in ${tracked.get(model)}`,
      ),
    ).toEqual([]);
  });
});

describe('the innocent corpus catches a planted regression', () => {
  it('with the previous release detectors (six digits in a row refused), far more than 1% is refused', () => {
    const refused = REFERENCES.filter(
      (ref) => previous.detectSensitive(ref.value) !== null,
    );
    console.log(
      `innocent references refused by the previous detectors: ${refused.length} of ${REFERENCES.length} (${percent(refused.length, REFERENCES.length)})`,
    );
    expect(refused.length / REFERENCES.length).toBeGreaterThan(0.2);
  });

  it('with the previous release scrubber, error messages lose their model names and durations', () => {
    const lost = ERRORS.filter(
      (error) =>
        lostMarkers(
          error,
          previous.redactSensitive(`${error.name}: ${error.message}`),
        ).length > 0,
    );
    console.log(
      `innocent error messages the previous scrubber damaged: ${lost.length} of ${ERRORS.length}`,
    );
    expect(lost.length).toBeGreaterThan(20);
  });
});
