import { randomUUID } from 'node:crypto';
import { Body, Controller, Param, Post } from '@nestjs/common';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsUUID,
  Matches,
  Max,
  MaxLength,
} from 'class-validator';
import { AUDIT_TABLE } from '../src/logging/audit/audit-log.table.js';
import {
  Audit,
  CreditLedgerService,
  LlmUsageService,
  type LoggingModuleOptions,
  auditContext,
} from '../src/logging/index.js';
import { detectIdentity } from '../src/logging/core/sensitive-values.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { httpApp } from './support/http-app.js';
import { leaks } from './support/leak-finder.js';
import { loggingApp } from './support/logging-app.js';
import * as previous from './support/previous-detectors.js';
import { seedFirm } from './support/seed.js';
import { type LeakProbe, leakProbes } from './fixtures/corpora/leak-probes.js';

/**
 * The leak corpus of issue 24 (test/fixtures/corpora/leak-probes.ts), over every path where a
 * caller's text reaches a row: `AuditLogService.record`, `@Audit` over HTTP, the request id header,
 * `auditContext.run`, the credit ledger, `LlmUsageService.track` and `record({ errorMessage })`.
 * On each path every probe's row is asserted to exist first (a dropped row cannot pass for a clean
 * one), then the tables are read back as text and no probe may be there. The controls run the
 * corpus against weakened detectors and find what they stored.
 */

const LOOSE = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

/** What the corpus's action may store: a reference of a loose pattern, tags, counts, a file id. */
class LeakMetadata {
  @Matches(LOOSE)
  @MaxLength(64)
  ref: string;

  @IsArray()
  @ArrayMaxSize(10)
  @Matches(LOOSE, { each: true })
  tags: string[];

  @IsArray()
  @ArrayMaxSize(10)
  @IsInt({ each: true })
  @Max(99_999, { each: true })
  parts: number[];

  @IsUUID()
  fileId: string;

  @IsInt()
  @Max(500)
  pages: number;
}

interface RequestBody {
  meta?: Record<string, unknown>;
}

@Controller('leak')
class LeakController {
  @Post(':entityId')
  @Audit('leak_http', 'cma_project', {
    entityId: { param: 'entityId' },
    metadata: ({ request }) =>
      (request as unknown as { body: RequestBody }).body.meta,
    metadataClass: LeakMetadata,
  })
  send(@Param('entityId') entityId: string, @Body() _body: RequestBody) {
    return { entityId };
  }
}

const ACTION = 'leak_probe';
const OPTIONS: LoggingModuleOptions = {
  audit: { actions: { [ACTION]: LeakMetadata } },
  ledger: { metadata: { grant: LeakMetadata } },
};

const PROBES = leakProbes();

/** The metadata objects that carry a probe. */
function carriers(probe: LeakProbe): Record<string, unknown>[] {
  switch (probe.shape) {
    case 'identifier':
      return [
        { ref: probe.value, pages: 1 },
        { tags: ['ok_tag', probe.value], pages: 1 },
      ];
    case 'uuid':
      return [{ fileId: probe.value, pages: 1 }];
    case 'tags':
      return [{ tags: probe.parts, pages: 1 }];
    case 'counts':
      return [{ parts: probe.parts, pages: 1 }];
    case 'text':
      return [{ ref: probe.value, pages: 1 }];
  }
}

/** The text of an error that carries a probe, or null for counts. */
const errorOf = (probe: LeakProbe) =>
  probe.shape === 'counts' ? null : `provider refused the input ${probe.value}`;

/** `n` written in letters (a model name must not add digits a needle could match). */
const letters = (n: number) =>
  n
    .toString(26)
    .replace(/./g, (c) => String.fromCharCode(97 + parseInt(c, 26)));

/** Runs `each` over `items`, 25 at a time. */
async function inBatches<T>(
  items: readonly T[],
  each: (item: T, index: number) => Promise<void>,
  size = 25,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(
      items.slice(i, i + size).map((item, j) => each(item, i + j)),
    );
  }
}

describe('the leak corpus stores none of its probes, on any path', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof httpApp>>;
  let firm: { firmId: string; userId: string; projectId: string };
  let headers: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await httpApp('express', database.url, OPTIONS, {
      controllers: [LeakController],
    });
    firm = await seedFirm(app.dataSource, `leak-${randomUUID()}`);
    headers = { 'x-test-firm': firm.firmId, 'x-test-user': firm.userId };
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  /** The audit rows missing among `entityIds` (each probe's row must be there). */
  async function missingAuditRows(entityIds: string[]): Promise<string[]> {
    const rows = await app.dataSource.query<{ entity_id: string }[]>(
      'SELECT entity_id FROM audit_log WHERE entity_id = ANY($1::uuid[])',
      [entityIds],
    );
    const found = new Set(rows.map((r) => r.entity_id));
    return entityIds.filter((id) => !found.has(id));
  }

  it('has at least 1,000 probes, in every class of the issue', () => {
    expect(PROBES.length).toBeGreaterThanOrEqual(1000);
    const classes = new Set(PROBES.map((p) => p.class));
    console.log(
      `leak corpus: ${PROBES.length} probes in ${classes.size} classes, over 7 paths`,
    );
    for (const shape of ['identifier', 'uuid', 'tags', 'counts', 'text']) {
      expect(PROBES.some((p) => p.shape === shape)).toBe(true);
    }
  });

  it('AuditLogService.record: every probe in every carrier has its row, and none is stored', async () => {
    const entityIds: string[] = [];
    const cases = PROBES.flatMap((probe) =>
      carriers(probe).map((metadata) => ({ probe, metadata })),
    );
    await inBatches(
      cases,
      async ({ metadata }) => {
        const entityId = randomUUID();
        entityIds.push(entityId);
        await app.audit.record({
          firmId: firm.firmId,
          action: ACTION,
          entityType: 'cma_project',
          entityId,
          metadata,
        });
      },
      50,
    );
    expect(await missingAuditRows(entityIds)).toEqual([]);
    expect(await leaks(app.dataSource, PROBES)).toEqual([]);
    // the policy took out values, not rows: the declared count is kept
    const [{ kept }] = await app.dataSource.query<{ kept: number }[]>(
      `SELECT count(*)::int AS kept FROM audit_log
        WHERE action = $1 AND (metadata->>'pages')::int = 1`,
      [ACTION],
    );
    expect(kept).toBe(cases.length);
  });

  it('@Audit over HTTP: each request writes its row, and no probe is stored', async () => {
    const entityIds: string[] = [];
    const statuses: string[] = [];
    await inBatches(PROBES, async (probe) => {
      const entityId = randomUUID();
      entityIds.push(entityId);
      const response = await app.send('POST', `/leak/${entityId}`, {
        body: { meta: carriers(probe)[0] },
        headers,
      });
      if (response.status !== 201)
        statuses.push(`${probe.label}: ${response.status}`);
    });
    expect(statuses).toEqual([]);
    expect(await missingAuditRows(entityIds)).toEqual([]);
    expect(await leaks(app.dataSource, PROBES)).toEqual([]);
  });

  it('the request id header: each request writes its row, and no probe is stored', async () => {
    const header = PROBES.filter(
      (p) => p.shape !== 'counts' && /^[\x20-\x7e]+$/.test(p.value),
    );
    expect(header.length).toBeGreaterThanOrEqual(800);
    const entityIds: string[] = [];
    await inBatches(header, async (probe) => {
      const entityId = randomUUID();
      entityIds.push(entityId);
      const response = await app.send('POST', `/leak/${entityId}`, {
        body: { meta: { pages: 1 } },
        headers: { ...headers, 'x-request-id': probe.value },
      });
      expect({ probe: probe.label, status: response.status }).toEqual({
        probe: probe.label,
        status: 201,
      });
    });
    expect(await missingAuditRows(entityIds)).toEqual([]);
    expect(
      await leaks(
        app.dataSource,
        header.map((p) => ({ ...p, exact: true })),
      ),
    ).toEqual([]);
  });

  it('auditContext.run: each run writes its audit and usage rows, and no probe is stored', async () => {
    const usage = app.app.get(LlmUsageService);
    const entityIds: string[] = [];
    const usageIds: string[] = [];
    await inBatches(PROBES, async (probe) => {
      const entityId = randomUUID();
      entityIds.push(entityId);
      await auditContext.run(
        {
          firmId: firm.firmId,
          userId: firm.userId,
          ipAddress: null,
          requestId: probe.value,
        },
        async () => {
          await app.audit.record({
            action: ACTION,
            entityType: 'cma_project',
            entityId,
            metadata: { pages: 1 },
          });
          usageIds.push(
            await usage.record({
              cmaProjectId: firm.projectId,
              model: 'gemini-3-flash',
              taskType: 'extraction',
              inputTokens: 1,
              outputTokens: 1,
              costUsd: '0.000001',
            }),
          );
        },
      );
    });
    expect(await missingAuditRows(entityIds)).toEqual([]);
    const [{ n }] = await app.dataSource.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM llm_usage_log WHERE id = ANY($1::uuid[])',
      [usageIds],
    );
    expect(n).toBe(PROBES.length);
    expect(
      await leaks(
        app.dataSource,
        PROBES.map((p) => ({ ...p, exact: true })),
      ),
    ).toEqual([]);
  });

  it('the credit ledger: every grant is written, and no probe is stored', async () => {
    const ledger = app.app.get(CreditLedgerService);
    const keys = PROBES.map((_, i) => `leak-${letters(i)}`);
    await inBatches(PROBES, async (probe, i) => {
      await ledger.grant({
        userId: firm.userId,
        amount: 1,
        idempotencyKey: keys[i],
        metadata: carriers(probe)[0],
      });
    });
    const [{ n }] = await app.dataSource.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM credit_transaction WHERE user_id = $1 AND idempotency_key = ANY($2)',
      [firm.userId, keys],
    );
    expect(n).toBe(PROBES.length);
    expect(await leaks(app.dataSource, PROBES)).toEqual([]);
  });

  it('LlmUsageService.track and record({ errorMessage }): every failure has its row, the same text on both paths, no probe in it', async () => {
    const usage = app.app.get(LlmUsageService);
    const texts = PROBES.flatMap((probe, i) => {
      const message = errorOf(probe);
      return message === null
        ? []
        : [{ probe, message, model: `probe-${letters(i)}` }];
    });
    await inBatches(texts, async ({ message, model }) => {
      await expect(
        usage.track(
          { firmId: firm.firmId, model, taskType: 'extraction', costUsd: '0' },
          () => {
            throw new Error(message);
          },
        ),
      ).rejects.toThrow(message);
    });
    const recorded = new Map<string, string>();
    await inBatches(texts, async ({ message, model }) => {
      recorded.set(
        model,
        await usage.record({
          firmId: firm.firmId,
          model,
          taskType: 'extraction',
          inputTokens: 0,
          outputTokens: 0,
          costUsd: '0',
          success: false,
          errorMessage: `Error: ${message}`,
        }),
      );
    });
    const rows = await app.dataSource.query<
      { id: string; model: string; error_message: string }[]
    >(
      `SELECT id, model, error_message FROM llm_usage_log WHERE model = ANY($1)`,
      [texts.map((t) => t.model)],
    );
    const byModel = new Map<string, { tracked?: string; recorded?: string }>();
    for (const row of rows) {
      const entry = byModel.get(row.model) ?? {};
      if (recorded.get(row.model) === row.id)
        entry.recorded = row.error_message;
      else entry.tracked = row.error_message;
      byModel.set(row.model, entry);
    }
    const incomplete = texts.filter(({ model }) => {
      const entry = byModel.get(model);
      return entry?.tracked === undefined || entry.recorded === undefined;
    });
    expect(incomplete.map((t) => t.probe.label)).toEqual([]);
    const different = texts.filter(
      ({ model }) =>
        byModel.get(model)!.tracked !== byModel.get(model)!.recorded,
    );
    expect(different.map((t) => t.probe.label)).toEqual([]);
    expect(await leaks(app.dataSource, PROBES)).toEqual([]);
  });
});

describe('the leak corpus catches a planted regression', () => {
  /** Stores what a weakened detector lets through, around the policy, and finds the leaks. */
  async function plant(
    keeps: (value: string) => boolean,
    scrub: (text: string) => string,
  ): Promise<Set<string>> {
    // a database of its own: the logs are append-only, each control starts empty
    const database = await createTestDatabase();
    const app = await loggingApp(database.url);
    try {
      const { firmId } = await seedFirm(
        app.dataSource,
        `planted-${randomUUID()}`,
      );
      return await store(app, firmId, keeps, scrub);
    } finally {
      await app.close();
      await database.drop();
    }
  }

  async function store(
    app: Awaited<ReturnType<typeof loggingApp>>,
    firmId: string,
    keeps: (value: string) => boolean,
    scrub: (text: string) => string,
  ): Promise<Set<string>> {
    const audit = app.writer.register(AUDIT_TABLE);
    for (const probe of PROBES) {
      if (probe.shape === 'identifier' && keeps(probe.value)) {
        await audit.record({
          firmId,
          action: 'leak_planted',
          entityType: 'cma_project',
          metadata: { ref: probe.value },
        });
      }
      const message = errorOf(probe);
      if (message !== null) {
        await app.dataSource.query(
          `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens,
              cost_usd, success, error_message)
           VALUES ($1, 'planted', 'extraction', 0, 0, 0, false, $2)`,
          [firmId, scrub(`Error: ${message}`)],
        );
      }
    }
    const found = await leaks(app.dataSource, PROBES);
    return new Set(
      PROBES.filter((p) => found.includes(p.label)).map((p) => p.class),
    );
  }

  it('with the previous release detectors, it finds the classes of the issue', async () => {
    const classes = await plant(
      (value) => previous.detectSensitive(value) === null,
      previous.redactSensitive,
    );
    console.log(
      `leak corpus against the previous detectors: leaks in ${classes.size} classes: ${[...classes].join(', ')}`,
    );
    expect([...classes]).toEqual(
      expect.arrayContaining([
        'amount with paise',
        'number words',
        'other digit grouping',
        'pan in base64',
        'e-mail with the @ spelled out',
        'spaced or look-alike PAN',
        'phone with brackets',
        'e-mail spelled out or percent-encoded',
      ]),
    );
  });

  it('with identity detectors alone (no amounts), it finds the amounts', async () => {
    const classes = await plant(
      (value) => detectIdentity(value) === null,
      (text) => text,
    );
    expect([...classes]).toEqual(
      expect.arrayContaining([
        'amount with a currency glued',
        'lakh or crore shorthand',
        'scientific notation',
        'number and unit in separate words',
        'grouped amount',
      ]),
    );
  });
});
