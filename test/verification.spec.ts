import { QueryFailedError, type DataSource } from 'typeorm';
import { CmaProject, Firm, User } from '../src/demo/entities/index.js';
import {
  AuditLog,
  LLM_TASK_TYPES,
  LlmUsageLog,
} from '../src/logging/entities/index.js';
import { openTestDataSource } from './support/database.js';
import { seedFirm } from './support/seed.js';

/** The verification list of the table spec, item by item, through the entities. */

describe('table spec verification list', () => {
  let dataSource: DataSource;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ dataSource, close } = await openTestDataSource());
  });
  afterAll(() => close());

  function usage(
    firmId: string,
    overrides: Partial<LlmUsageLog> = {},
  ): Partial<LlmUsageLog> {
    return {
      firmId,
      model: 'gemini-3-flash',
      taskType: 'extraction',
      inputTokens: 1200,
      outputTokens: 300,
      costUsd: '0.000124',
      ...overrides,
    };
  }

  async function dbError(promise: Promise<unknown>) {
    const error: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueryFailedError);
    return (error as QueryFailedError).driverError as unknown as {
      code: string;
      constraint?: string;
    };
  }

  it('stores cost_usd = 0.000124 and reads it back as the exact string', async () => {
    const { firmId } = await seedFirm(dataSource, 'micro');
    const repository = dataSource.getRepository(LlmUsageLog);
    const { id } = await repository.save(usage(firmId));

    const entity = await repository.findOneByOrFail({ id });
    expect(entity.costUsd).toBe('0.000124');

    const [raw] = await dataSource.query<{ text: string }[]>(
      'SELECT cost_usd::text AS text FROM llm_usage_log WHERE id = $1',
      [id],
    );
    expect(raw.text).toBe('0.000124');
  });

  it('keeps the largest and the smallest NUMERIC(10,6) costs exact', async () => {
    const { firmId } = await seedFirm(dataSource, 'bounds');
    const repository = dataSource.getRepository(LlmUsageLog);
    for (const cost of ['9999.999999', '0.000001', '0.000000']) {
      const { id } = await repository.save(usage(firmId, { costUsd: cost }));
      expect((await repository.findOneByOrFail({ id })).costUsd).toBe(cost);
    }
  });

  it('refuses a cost beyond NUMERIC(10,6) instead of storing a wrong one', async () => {
    const { firmId } = await seedFirm(dataSource, 'overflow');
    const repository = dataSource.getRepository(LlmUsageLog);
    const driverError = await dbError(
      repository.insert(usage(firmId, { costUsd: '10000.000000' })),
    );
    expect(driverError.code).toBe('22003'); // numeric_value_out_of_range
    expect(await repository.countBy({ firmId })).toBe(0);
  });

  it('applies the column defaults: success is true and created_at is now()', async () => {
    const { firmId } = await seedFirm(dataSource, 'defaults');
    const before = await dataSource.query<{ now: Date }[]>('SELECT now()');
    const { id } = await dataSource
      .getRepository(LlmUsageLog)
      .save(usage(firmId));
    const row = await dataSource
      .getRepository(LlmUsageLog)
      .findOneByOrFail({ id });
    expect(row.success).toBe(true);
    expect(row.createdAt).toBeInstanceOf(Date);
    expect(row.createdAt!.getTime()).toBeGreaterThanOrEqual(
      before[0].now.getTime() - 1000,
    );
  });

  it.each(LLM_TASK_TYPES.map((t) => [t]))(
    'accepts task_type %s',
    async (taskType) => {
      const { firmId } = await seedFirm(dataSource, `task-${taskType}`);
      const repository = dataSource.getRepository(LlmUsageLog);
      const { id } = await repository.save(usage(firmId, { taskType }));
      expect((await repository.findOneByOrFail({ id })).taskType).toBe(
        taskType,
      );
    },
  );

  it.each([['summarization'], ['Extraction'], [''], ['extraction ']])(
    'rejects task_type %p through the CHECK constraint and stores nothing',
    async (taskType) => {
      const { firmId } = await seedFirm(dataSource, 'check');
      const repository = dataSource.getRepository(LlmUsageLog);
      const driverError = await dbError(
        repository.insert(
          usage(firmId, { taskType: taskType as LlmUsageLog['taskType'] }),
        ),
      );
      expect(driverError.code).toBe('23514'); // check_violation
      expect(driverError.constraint).toBe('chk_llm_usage_log_task_type');
      expect(await repository.countBy({ firmId })).toBe(0);
    },
  );

  it('keeps usage rows with cma_project_id NULL when their project is deleted', async () => {
    const { firmId, projectId } = await seedFirm(dataSource, 'project-delete');
    const repository = dataSource.getRepository(LlmUsageLog);
    const { id } = await repository.save(
      usage(firmId, { cmaProjectId: projectId }),
    );
    const other = await repository.save(usage(firmId)); // no project

    await dataSource.getRepository(CmaProject).delete({ id: projectId });

    const row = await repository.findOneByOrFail({ id });
    expect(row.cmaProjectId).toBeNull();
    expect(row.costUsd).toBe('0.000124');
    expect(await repository.countBy({ firmId })).toBe(2);
    expect(
      (await repository.findOneByOrFail({ id: other.id })).cmaProjectId,
    ).toBeNull();
  });

  it('keeps audit rows with user_id NULL when their user is deleted', async () => {
    const { firmId, userId, projectId } = await seedFirm(
      dataSource,
      'user-delete',
    );
    const repository = dataSource.getRepository(AuditLog);
    const { id } = await repository.save({
      firmId,
      userId,
      action: 'create_project',
      entityType: 'cma_project',
      entityId: projectId,
      metadata: { files: 2 },
      ipAddress: '203.0.113.7',
    });

    await dataSource.getRepository(User).delete({ id: userId });

    const row = await repository.findOneByOrFail({ id });
    expect(row).toMatchObject({
      userId: null,
      firmId,
      action: 'create_project',
      entityId: projectId,
      metadata: { files: 2 },
      ipAddress: '203.0.113.7',
    });
  });

  it("removes a deleted firm's rows from both logs and leaves other firms' rows alone", async () => {
    const doomed = await seedFirm(dataSource, 'doomed');
    const kept = await seedFirm(dataSource, 'kept');
    for (const { firmId, userId, projectId } of [doomed, kept]) {
      await dataSource
        .getRepository(LlmUsageLog)
        .save(usage(firmId, { cmaProjectId: projectId }));
      await dataSource.getRepository(AuditLog).save({
        firmId,
        userId,
        action: 'download_cma',
        entityType: 'generated_file',
      });
    }

    await dataSource.getRepository(Firm).delete({ id: doomed.firmId });

    for (const entity of [LlmUsageLog, AuditLog]) {
      const repository = dataSource.getRepository(entity);
      expect(await repository.countBy({ firmId: doomed.firmId })).toBe(0);
      expect(await repository.countBy({ firmId: kept.firmId })).toBe(1);
    }
  });

  it('refuses log rows for a firm that does not exist', async () => {
    const missingFirm = '00000000-0000-4000-8000-000000000000';
    const driverError = await dbError(
      dataSource.getRepository(AuditLog).insert({
        firmId: missingFirm,
        action: 'upload_file',
        entityType: 'uploaded_file',
      }),
    );
    expect(driverError.code).toBe('23503'); // foreign_key_violation
    expect(driverError.constraint).toBe('fk_audit_log_firm_id');
  });
});
