import { jest } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  InjectRepository,
  TypeOrmModule,
  getDataSourceToken,
  getRepositoryToken,
} from '@nestjs/typeorm';
import { DataSource, type Repository } from 'typeorm';
import { demoDataSourceOptions } from '../src/demo/database/data-source.js';
import { Firm, User } from '../src/demo/entities/index.js';
import {
  AuditLogService,
  CreditLedgerService,
  LOGGING_ENTITIES,
  LOGGING_MIGRATIONS,
  LoggingModule,
} from '../src/logging/index.js';
import {
  AuditLog,
  AuditLogDaily,
  CreditTransaction,
  LlmUsageDaily,
  LlmUsageDailyProject,
  LlmUsageLog,
  LogSeal,
  LogSealRun,
  RetentionHorizon,
} from '../src/logging/entities/index.js';
import { AdminLoggingModule } from './fixtures/admin-logging.module.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { SINGLE_ROLE } from './support/roles.js';
import { seedFirm } from './support/seed.js';

/** A host feature module that does not import LoggingModule itself. */
@Injectable()
class ReportsService {
  constructor(
    @InjectRepository(AuditLog) readonly audit: Repository<AuditLog>,
  ) {}
}

@Module({ providers: [ReportsService], exports: [ReportsService] })
class ReportsModule {}

/** `path:line:column` of a place in a file, as the refusal of a second instance names it. */
const place = (file: string) =>
  new RegExp(`${file.replace(/[.]/g, '[.]')}:\\d+:\\d+`);

describe('LoggingModule', () => {
  let database: TestDatabase;
  let moduleRef: TestingModule | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });
  afterAll(() => database.drop());

  it('exports its entities and migrations for the host DataSource', () => {
    expect(LOGGING_ENTITIES).toEqual([
      LlmUsageLog,
      AuditLog,
      CreditTransaction,
      LlmUsageDaily,
      LlmUsageDailyProject,
      AuditLogDaily,
      RetentionHorizon,
      LogSeal,
      LogSealRun,
    ]);
    expect(LOGGING_MIGRATIONS.map((m) => m.name)).toEqual([
      'CreateLoggingTables1795305660000',
      'AppendOnlyLogs1795305720000',
      'AddLlmUsageLogFirmCreatedAtIndex1795305750000',
      'CreateCreditLedger1795305780000',
      'CreateDailyRollups1795305800000',
      'CreateLogSeals1795305820000',
      'DatabaseGuarantees1795305840000',
      'LedgerRunningBalance1795305860000',
      'SealRuns1795305880000',
      'SealReferenceGroups1795305900000',
      'AddLlmUsageLogFirmCostIndex1795305920000',
      'AddAuditLogFirmCreatedAtIndex1795305930000',
      'LogPartitions1795305940000',
    ]);
  });

  it('forRoot provides repositories of both logs that write to the host database', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot(demoDataSourceOptions(database.url)),
        LoggingModule.forRoot(),
      ],
    }).compile();

    const firms = moduleRef.get(DataSource).getRepository(Firm);
    const usage = moduleRef.get<Repository<LlmUsageLog>>(
      getRepositoryToken(LlmUsageLog),
      { strict: false },
    );
    const firm = await firms.save({ name: 'module-forRoot' });
    await usage.insert({
      firmId: firm.id,
      model: 'gemini-3.1-pro',
      taskType: 'validation',
      inputTokens: 10,
      outputTokens: 5,
      costUsd: '0.000080',
    });
    const [row] = await usage.manager.query<{ cost: string }[]>(
      'SELECT cost_usd::text AS cost FROM llm_usage_log WHERE firm_id = $1',
      [firm.id],
    );
    expect(row.cost).toBe('0.000080');
  });

  it('forRootAsync accepts a factory and is global by default', async () => {
    const factory = jest.fn(() => ({}));
    moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot(demoDataSourceOptions(database.url)),
        LoggingModule.forRootAsync({ useFactory: factory }),
        ReportsModule,
      ],
    }).compile();

    expect(factory).toHaveBeenCalledTimes(1);
    const reports = moduleRef.get(ReportsService);
    expect(await reports.audit.count()).toBe(0);
  });

  it('with isGlobal: false, its repositories are not visible to modules that do not import it', async () => {
    let connecting: Promise<DataSource> | undefined;
    const compile = Test.createTestingModule({
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => demoDataSourceOptions(database.url),
          dataSourceFactory: (options) =>
            (connecting = new DataSource(options!).initialize()),
        }),
        LoggingModule.forRoot({ isGlobal: false }),
        ReportsModule,
      ],
    }).compile();
    await expect(compile).rejects.toThrow(/ReportsService/);
    // Nest gives up on the module without closing the connection it may have begun: close it here.
    await (await connecting)?.destroy();
  });

  it('uses the named DataSource given in dataSource', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot(demoDataSourceOptions(database.url), 'logs'),
        LoggingModule.forRoot({ dataSource: 'logs' }),
      ],
    }).compile();
    const audit = moduleRef.get<Repository<AuditLog>>(
      getRepositoryToken(AuditLog, 'logs'),
      { strict: false },
    );
    expect(audit.metadata.tableName).toBe('audit_log');
    expect(await audit.count()).toBe(0);
  });

  it('provides and exports CreditLedgerService, writing to the named DataSource', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot(demoDataSourceOptions(database.url), 'logs'),
        LoggingModule.forRoot({ dataSource: 'logs' }),
      ],
    }).compile();
    const dataSource = moduleRef.get<DataSource>(getDataSourceToken('logs'));
    const firm = await dataSource
      .getRepository(Firm)
      .save({ name: 'module-ledger' });
    const user = await dataSource
      .getRepository(User)
      .save({ firmId: firm.id, email: 'ledger@module.test' });
    const ledger = moduleRef.get(CreditLedgerService, { strict: false });
    await ledger.grant({ userId: user.id, amount: 7, idempotencyKey: 'g' });
    expect(await ledger.balance(user.id)).toBe(7);
    const ledgerRepository = moduleRef.get<Repository<CreditTransaction>>(
      getRepositoryToken(CreditTransaction, 'logs'),
      { strict: false },
    );
    expect(await ledgerRepository.countBy({ userId: user.id })).toBe(1);
  });

  describe('one instance per application', () => {
    /** Compiles `imports` on a connection it closes itself, for apps that fail to start. */
    async function refused(imports: unknown[]): Promise<Error> {
      let connecting: Promise<DataSource> | undefined;
      const compile = Test.createTestingModule({
        imports: [
          TypeOrmModule.forRootAsync({
            useFactory: () => demoDataSourceOptions(database.url),
            dataSourceFactory: (options) =>
              (connecting = new DataSource(options!).initialize()),
          }),
          ...(imports as []),
        ],
      }).compile();
      const error = await compile.then(
        () => new Error('the application started'),
        (e: unknown) => e as Error,
      );
      // Nest gives up on the module without closing the connection it may have begun.
      await (await connecting)?.destroy();
      return error;
    }

    it('a second forRoot in one application is refused at startup, naming both calls', async () => {
      const error = await refused([
        LoggingModule.forRoot(SINGLE_ROLE),
        AdminLoggingModule,
      ]);
      expect(error.message).toMatch(
        /^LoggingModule is imported 2 times in one application: LoggingModule\.forRoot\(\) at \S+ and LoggingModule\.forRoot\(\) at \S+\. One application has one LoggingModule/,
      );
      expect(error.message).toMatch(place('test/logging-module.spec.ts'));
      expect(error.message).toMatch(
        place('test/fixtures/admin-logging.module.ts'),
      );
    });

    it('forRootAsync is refused alike; calls through one helper name their callers', async () => {
      const logging = () =>
        LoggingModule.forRootAsync({ useFactory: () => SINGLE_ROLE });
      const first = logging();
      const second = logging();
      const error = await refused([first, second, AdminLoggingModule]);
      const helper = '(test/logging-module\\.spec\\.ts:\\d+:\\d+)';
      const match = new RegExp(
        `^LoggingModule is imported 3 times in one application: ` +
          `LoggingModule\\.forRootAsync\\(\\) at ${helper} \\(called from ${helper}\\), ` +
          `LoggingModule\\.forRootAsync\\(\\) at ${helper} \\(called from ${helper}\\) ` +
          `and LoggingModule\\.forRoot\\(\\) at test/fixtures/admin-logging\\.module\\.ts:\\d+:\\d+\\. `,
      ).exec(error.message);
      expect(match).not.toBeNull();
      const [, inFirst, fromFirst, inSecond, fromSecond] = match!;
      expect(inFirst).toBe(inSecond); // the helper's line
      expect(fromFirst).not.toBe(fromSecond); // the two lines that call it
    });

    it('one forRoot value imported by several modules is one instance', async () => {
      const logging = LoggingModule.forRoot({
        ...SINGLE_ROLE,
        isGlobal: false,
      });
      @Module({ imports: [logging] })
      class BillingModule {}
      @Module({ imports: [logging] })
      class SupportModule {}
      moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot(demoDataSourceOptions(database.url)),
          BillingModule,
          SupportModule,
        ],
      }).compile();
      expect(moduleRef.select(BillingModule).get(AuditLogService)).toBe(
        moduleRef.select(SupportModule).get(AuditLogService),
      );
    });

    it('two applications in one process each keep their own instance and options', async () => {
      const apps = await Promise.all(
        [false, true].map((anonymizeIp) =>
          Test.createTestingModule({
            imports: [
              TypeOrmModule.forRoot(demoDataSourceOptions(database.url)),
              LoggingModule.forRoot({ ...SINGLE_ROLE, audit: { anonymizeIp } }),
            ],
          }).compile(),
        ),
      );
      try {
        await Promise.all(apps.map((app) => app.init()));
        const firm = await seedFirm(apps[0].get(DataSource), 'two-apps');
        for (const app of apps) {
          await app.get(AuditLogService).record({
            firmId: firm.firmId,
            action: 'two_apps',
            entityType: 'firm',
            ipAddress: '203.0.113.7',
          });
        }
        const rows = await apps[0]
          .get(DataSource)
          .query<{ ip: string }[]>(
            'SELECT ip_address AS ip FROM audit_log WHERE firm_id = $1 ORDER BY id',
            [firm.firmId],
          );
        expect(rows.map((r) => r.ip)).toEqual(['203.0.113.7', '203.0.113.0']);
      } finally {
        await Promise.all(apps.map((app) => app.close()));
      }
    });
  });
});
