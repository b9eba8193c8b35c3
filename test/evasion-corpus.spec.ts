import { AUDIT_TABLE } from '../src/logging/audit/audit-log.table.js';
import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Body, Controller, Logger, Param, Post } from '@nestjs/common';
import {
  Audit,
  CreditLedgerService,
  LlmUsageService,
  type LoggingModuleOptions,
  auditContext,
} from '../src/logging/index.js';
import { safeRequestId } from '../src/logging/core/metadata-policy.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import {
  amountProbes,
  carriers,
  CORPUS_ACTION,
  CorpusMetadata,
  idShapedProbes,
  moneyCarriers,
  type Probe,
  probes,
  sentenceProbes,
} from './support/evasion-corpus.js';
import { httpApp } from './support/http-app.js';
import { leaks } from './support/leak-finder.js';
import { loggingApp } from './support/logging-app.js';
import { seedFirm } from './support/seed.js';

/**
 * A generated corpus of evasions sent through every path where metadata reaches a row:
 * `AuditLogService.record`, `@Audit` metadata functions over HTTP, the request id header,
 * `auditContext.run`, the credit ledger and `LlmUsageService.track`. After each path the tables are
 * read back as text and none of the probes may be there. The controls at the end run the same
 * corpus against the rules of the previous release and find what they stored.
 */

interface Body {
  meta?: Record<string, unknown>;
}

@Controller('corpus')
class CorpusController {
  @Post(':entityId/declared')
  @Audit('corpus_http', 'cma_project', {
    entityId: { param: 'entityId' },
    metadata: ({ request }) => (request as unknown as { body: Body }).body.meta,
    metadataClass: CorpusMetadata,
  })
  declared(@Param('entityId') entityId: string, @Body() _body: Body) {
    return { entityId };
  }

  @Post(':entityId/undeclared')
  @Audit('corpus_http_undeclared', 'cma_project', {
    entityId: { param: 'entityId' },
    metadata: ({ request }) => (request as unknown as { body: Body }).body.meta,
  })
  undeclared(@Param('entityId') entityId: string, @Body() _body: Body) {
    return { entityId };
  }
}

const OPTIONS: LoggingModuleOptions = {
  audit: { actions: { [CORPUS_ACTION]: CorpusMetadata } },
  ledger: { metadata: { grant: CorpusMetadata } },
};

/** Every probe, in every written form, and what carries it. */
const ALL = [...probes(), ...amountProbes(), ...sentenceProbes()];
const CASES = ALL.flatMap((probe) =>
  carriers(probe).map((metadata) => ({ probe, metadata })),
);
const MONEY = moneyCarriers().map(({ label, metadata, needle }) => ({
  probe: { label, value: needle, needle } satisfies Probe,
  metadata,
}));
/** One carrier per probe, in turn, for the paths that cost a request each. */
const ROTATED = [
  ...ALL.map((probe, i) => {
    const all = carriers(probe);
    return { probe, metadata: all[i % all.length] };
  }),
  ...MONEY,
];

/** Runs `each` over `items`, `size` at a time: the writer groups each batch into few statements. */
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

describe('the evasion corpus stores none of its probes', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof httpApp>>;
  let firm: { firmId: string; userId: string; projectId: string };
  let headers: Record<string, string>;

  let warnings: string[];

  beforeAll(async () => {
    database = await createTestDatabase();
    const warn = jest.spyOn(Logger.prototype, 'warn');
    app = await httpApp('express', database.url, OPTIONS, {
      controllers: [CorpusController],
    });
    warnings = warn.mock.calls.map(([message]) => String(message));
    warn.mockRestore();
    firm = await seedFirm(app.dataSource, `corpus-${randomUUID()}`);
    headers = { 'x-test-firm': firm.firmId, 'x-test-user': firm.userId };
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  const count = async (sql: string, parameters: unknown[]) =>
    (await app.dataSource.query<{ n: number }[]>(sql, parameters))[0].n;
  const auditRows = (entityId: string) =>
    count('SELECT count(*)::int AS n FROM audit_log WHERE entity_id = $1', [
      entityId,
    ]);

  it('warns at startup of the audited actions without a declaration, and only of them', () => {
    const startup = warnings.filter((w) =>
      w.includes('no metadata declaration'),
    );
    expect(startup).toHaveLength(1);
    expect(startup[0]).toContain(
      'corpus_http_undeclared (CorpusController.undeclared)',
    );
    expect(startup[0]).not.toContain('corpus_http ');
  });

  it('has at least 500 evasions on the record() path alone', () => {
    expect(CASES.length + MONEY.length).toBeGreaterThanOrEqual(500);
    expect(ROTATED.length).toBeGreaterThanOrEqual(250);
  });

  it('AuditLogService.record with a declaration: every row written, no probe stored', async () => {
    const entityIds: string[] = [];
    const all = [...CASES, ...MONEY];
    // 50 at a time: the writer groups them into one INSERT
    for (let i = 0; i < all.length; i += 50) {
      await Promise.all(
        all.slice(i, i + 50).map(({ metadata }) => {
          const entityId = randomUUID();
          entityIds.push(entityId);
          return app.audit.record({
            firmId: firm.firmId,
            action: CORPUS_ACTION,
            entityType: 'cma_project',
            entityId,
            metadata,
          });
        }),
      );
    }
    expect(
      await count(
        'SELECT count(*)::int AS n FROM audit_log WHERE entity_id = ANY($1::uuid[])',
        [entityIds],
      ),
    ).toBe(entityIds.length);
    expect(
      await leaks(app.dataSource, [...ALL, ...MONEY.map((c) => c.probe)]),
    ).toEqual([]);
    // the declared references and counts were kept: the policy took out values, not rows
    expect(
      await count(
        `SELECT count(*)::int AS n FROM audit_log
          WHERE action = $1 AND (metadata->>'pages')::int = 3`,
        [CORPUS_ACTION],
      ),
    ).toBeGreaterThan(ALL.length);
  });

  it('AuditLogService.record without a declaration: only the system keys', async () => {
    await inBatches(ROTATED, async ({ metadata }) => {
      await app.audit.record({
        firmId: firm.firmId,
        action: 'corpus_no_declaration',
        entityType: 'cma_project',
        metadata,
      });
    });
    const stored = await app.dataSource.query<{ metadata: object }[]>(
      `SELECT DISTINCT metadata FROM audit_log WHERE action = 'corpus_no_declaration'`,
    );
    expect(stored).toEqual([{ metadata: {} }]);
  });

  it('@Audit metadata functions over HTTP: each row is written, then no probe is in the table', async () => {
    for (const route of ['declared', 'undeclared']) {
      await inBatches(ROTATED, async ({ probe, metadata }) => {
        const entityId = randomUUID();
        const response = await app.send(
          'POST',
          `/corpus/${entityId}/${route}`,
          { body: { meta: metadata }, headers },
        );
        expect({ probe: probe.label, status: response.status }).toEqual({
          probe: probe.label,
          status: 201,
        });
        expect({ probe: probe.label, rows: await auditRows(entityId) }).toEqual(
          { probe: probe.label, rows: 1 },
        );
      });
    }
    // every row is in, so every probe had its chance to leak: one search of the tables for all
    expect(
      await leaks(
        app.dataSource,
        ROTATED.map(({ probe }) => probe),
      ),
    ).toEqual([]);
  });

  it('the request id header: each row is written, then no probe is in the table', async () => {
    const header = [...probes(true), ...amountProbes(), ...idShapedProbes()];
    expect(header.length).toBeGreaterThanOrEqual(150);
    await inBatches(header, async (probe) => {
      const entityId = randomUUID();
      const response = await app.send('POST', `/corpus/${entityId}/declared`, {
        body: { meta: { pages: 1 } },
        headers: { ...headers, 'x-request-id': probe.value },
      });
      expect({ probe: probe.label, status: response.status }).toEqual({
        probe: probe.label,
        status: 201,
      });
      const [row] = await app.dataSource.query<
        { metadata: { requestId?: string } }[]
      >('SELECT metadata FROM audit_log WHERE entity_id = $1', [entityId]);
      expect({ probe: probe.label, found: row !== undefined }).toEqual({
        probe: probe.label,
        found: true,
      });
      // the id is stored as its keyed digest, a generated id's when the header's was replaced
      expect(row.metadata.requestId).toMatch(/^[a-p]{32}$/);
    });
    expect(
      await leaks(
        app.dataSource,
        header.map((probe) => ({ ...probe, exact: true })),
      ),
    ).toEqual([]);
  });

  it('auditContext.run: the rows of a run are written, and no probe is in the tables', async () => {
    const all = [...ALL, ...idShapedProbes()];
    const usage = app.app.get(LlmUsageService);
    const entityIds: string[] = [];
    await inBatches(all, async (probe) => {
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
            action: CORPUS_ACTION,
            entityType: 'cma_project',
            entityId,
            metadata: { pages: 1 },
          });
          await usage.record({
            cmaProjectId: firm.projectId,
            model: 'gemini-3-flash',
            taskType: 'extraction',
            inputTokens: 1,
            outputTokens: 1,
            costUsd: '0.000001',
          });
        },
      );
    });
    const rows = await app.dataSource.query<
      { n: number; ids: number; same: boolean }[]
    >(
      `SELECT count(*)::int AS n,
              count(DISTINCT metadata->>'requestId')::int AS ids,
              bool_and(metadata->>'requestId' ~ '^[a-p]{32}$') AS same
         FROM audit_log WHERE entity_id = ANY($1::uuid[])`,
      [entityIds],
    );
    // one id per run: the probe itself when it may serve as one (stored as its digest, so equal
    // probes share it), else a new UUID
    const runIds = new Set(
      all.map((probe) => safeRequestId(probe.value) ?? randomUUID()),
    );
    expect(rows).toEqual([{ n: all.length, ids: runIds.size, same: true }]);
    expect(
      await leaks(
        app.dataSource,
        all.map((p) => ({ ...p, exact: true })),
      ),
    ).toEqual([]);
  });

  it('the credit ledger: every grant written, no probe stored', async () => {
    const ledger = app.app.get(CreditLedgerService);
    await inBatches(ROTATED, async ({ metadata }, n) => {
      await ledger.grant({
        userId: firm.userId,
        amount: 1,
        idempotencyKey: `corpus-${n}`,
        metadata,
      });
    });
    expect(
      await count(
        'SELECT count(*)::int AS n FROM credit_transaction WHERE user_id = $1',
        [firm.userId],
      ),
    ).toBe(ROTATED.length);
    expect(
      await leaks(
        app.dataSource,
        ROTATED.map((c) => c.probe),
      ),
    ).toEqual([]);
  });

  it('LlmUsageService.track: failed calls are recorded, their messages without the probes', async () => {
    const usage = app.app.get(LlmUsageService);
    const all = [...ALL, ...idShapedProbes()];
    const before = await count(
      'SELECT count(*)::int AS n FROM llm_usage_log WHERE success = false',
      [],
    );
    await inBatches(all, async (probe) => {
      await expect(
        usage.track(
          {
            firmId: firm.firmId,
            model: 'gemini-3-flash',
            taskType: 'extraction',
          },
          () => {
            throw new Error(`provider refused the input ${probe.value}`);
          },
        ),
      ).rejects.toThrow('provider refused');
    });
    expect(
      await count(
        'SELECT count(*)::int AS n FROM llm_usage_log WHERE success = false',
        [],
      ),
    ).toBe(before + all.length);
    expect(await leaks(app.dataSource, all)).toEqual([]);
  });
});

describe('the corpus catches a planted regression', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  /** The request id rule of the previous release: any token of the header's characters. */
  const previousRule = (value: string) =>
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(value) ? value : randomUUID();

  it('with the request id check removed, the header probes are found in the table', async () => {
    const app = await loggingApp(database.url);
    try {
      const firm = await seedFirm(app.dataSource, `planted-${randomUUID()}`);
      const header = [...probes(true), ...amountProbes()];
      for (const probe of header) {
        await app.writer.register(AUDIT_TABLE).record({
          firmId: firm.firmId,
          action: 'corpus_planted',
          entityType: 'cma_project',
          metadata: { requestId: previousRule(probe.value) },
        });
      }
      const found = await leaks(app.dataSource, header);
      expect(found.length).toBeGreaterThanOrEqual(header.length * 0.9);
    } finally {
      await app.close();
    }
  });

  it('under the key-word rules alone (the heuristic mode), the money keys and split numbers are found', async () => {
    const app = await loggingApp(database.url, {
      audit: { metadataPolicy: { mode: 'heuristic' } },
    });
    try {
      const firm = await seedFirm(app.dataSource, `heuristic-${randomUUID()}`);
      for (const { metadata } of [...MONEY, ...CASES]) {
        await app.audit.record({
          firmId: firm.firmId,
          action: 'corpus_heuristic',
          entityType: 'cma_project',
          metadata,
        });
      }
      const found = await leaks(app.dataSource, [
        ...MONEY.map((c) => c.probe),
        ...ALL,
      ]);
      expect(found).toEqual(
        expect.arrayContaining(['totalamount: 150000', 'loan: 150000']),
      );
      expect(found.length).toBeGreaterThanOrEqual(20);
    } finally {
      await app.close();
    }
  });
});
