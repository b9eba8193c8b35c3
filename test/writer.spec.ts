import { IsBoolean, IsInt, Max } from 'class-validator';
import { Client } from 'pg';
import {
  LogBufferFullError,
  LogEntryValidationError,
  LogWriteError,
  LogWriterClosedError,
  LoggingModule,
  type AuditLogEntry,
  type LlmUsageEntry,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import { loggingApp } from './support/logging-app.js';
import { captureLogs } from './support/logs.js';
import { databaseSuite } from './support/suite.js';
import { seedFirm } from './support/seed.js';

/** The write path: validated record APIs over one group-commit writer, read back from the database. */

const MISSING_FIRM = '00000000-0000-4000-8000-000000000000';

/** What a `create_project` row may store in its metadata. */
class CreateProjectMetadata {
  @IsInt() @Max(100) files: number;
  @IsBoolean() reviewed: boolean;
}

describe('record() and the batched writer', () => {
  const suite = databaseSuite();

  async function start(options: LoggingModuleOptions = {}) {
    const app = suite.own(await loggingApp(suite.url, options));
    const firm = await seedFirm(app.dataSource, `firm-${suite.started}`);
    return { ...app, ...firm };
  }

  /** Counted by a separate connection: what is committed, not what a session sees. */
  async function count(table: string, firmId: string): Promise<number> {
    const { rows } = await suite.reader.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE firm_id = $1`,
      [firmId],
    );
    return rows[0].n;
  }

  /** Blocks inserts into llm_usage_log until the returned function is called. */
  async function lockUsageTable(): Promise<() => Promise<void>> {
    const blocker = new Client({ connectionString: suite.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE llm_usage_log IN EXCLUSIVE MODE');
    return async () => {
      await blocker.query('ROLLBACK');
      await blocker.end();
    };
  }

  const usageEntry = (
    firmId: string,
    overrides: Partial<LlmUsageEntry> = {},
  ): LlmUsageEntry => ({
    firmId,
    model: 'gemini-3-flash',
    taskType: 'extraction',
    inputTokens: 1200,
    outputTokens: 300,
    costUsd: '0.001500',
    latencyMs: 840,
    ...overrides,
  });

  const auditEntry = (
    firmId: string,
    overrides: Partial<AuditLogEntry> = {},
  ): AuditLogEntry => ({
    firmId,
    action: 'upload_file',
    entityType: 'uploaded_file',
    ...overrides,
  });

  it('groups concurrent record() calls into few statements, one commit each', async () => {
    const { usage, writer, firmId } = await start();
    const ids = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        usage.record(usageEntry(firmId, { inputTokens: i })),
      ),
    );
    expect(new Set(ids).size).toBe(500);
    const { rows } = await suite.reader.query<{ n: number; commits: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS commits
         FROM llm_usage_log WHERE firm_id = $1`,
      [firmId],
    );
    expect(rows[0].n).toBe(500);
    // 500 callers in one tick: at most a handful of statements, each its own transaction.
    expect(rows[0].commits).toBeLessThanOrEqual(4);
    expect(writer.stats()).toMatchObject({ rowsWritten: 500, rowsFailed: 0 });
    expect(writer.stats().batches).toBe(rows[0].commits);
  });

  it("resolves an 'await' record only once its row is committed and readable", async () => {
    const { audit, firmId, userId, projectId } = await start({
      audit: { actions: { create_project: CreateProjectMetadata } },
    });
    const id = await audit.record(
      auditEntry(firmId, {
        userId,
        action: 'create_project',
        entityType: 'cma_project',
        entityId: projectId,
        metadata: { files: 3, reviewed: true },
        ipAddress: '2001:db8::7',
      }),
    );
    const { rows } = await suite.reader.query(
      'SELECT firm_id, user_id, action, entity_type, entity_id, metadata, ip_address FROM audit_log WHERE id = $1',
      [id],
    );
    expect(rows).toEqual([
      {
        firm_id: firmId,
        user_id: userId,
        action: 'create_project',
        entity_type: 'cma_project',
        entity_id: projectId,
        metadata: { files: 3, reviewed: true },
        ip_address: '2001:db8::7',
      },
    ]);
  });

  it('stores costs exactly, from a decimal string or a number', async () => {
    const { usage, firmId } = await start();
    const fromString = await usage.record(
      usageEntry(firmId, { costUsd: '0.000124' }),
    );
    const fromNumber = await usage.record(
      usageEntry(firmId, { costUsd: 0.000124 }),
    );
    const largest = await usage.record(
      usageEntry(firmId, { costUsd: '9999.999999' }),
    );
    const { rows } = await suite.reader.query<{ id: string; cost: string }>(
      'SELECT id, cost_usd::text AS cost FROM llm_usage_log WHERE id = ANY($1)',
      [[fromString, fromNumber, largest]],
    );
    const cost = Object.fromEntries(rows.map((r) => [r.id, r.cost]));
    expect(cost).toEqual({
      [fromString]: '0.000124',
      [fromNumber]: '0.000124',
      [largest]: '9999.999999',
    });
  });

  /**
   * Records a failed call with error message `x <text>` for each of `texts` in one buffered batch,
   * and reads back what `llm_usage_log` stored, in the same order.
   */
  async function storedErrorMessages(texts: string[]) {
    const { usage, writer, firmId } = await start();
    const usageIds = await Promise.all(
      texts.map((text) =>
        usage.record(
          usageEntry(firmId, { success: false, errorMessage: `x ${text}` }),
          { durability: 'buffered' },
        ),
      ),
    );
    await writer.flush();
    const { rows } = await suite.reader.query<{ id: string; text: string }>(
      'SELECT id, error_message AS text FROM llm_usage_log WHERE id = ANY($1)',
      [usageIds],
    );
    const byId = Object.fromEntries(rows.map((r) => [r.id, r.text]));
    return { stored: usageIds.map((id) => byId[id]), writer };
  }

  it('stores text exactly in a buffered batch: quotes, backslashes, braces, commas, NULL, letters beyond ASCII and JSON escapes', async () => {
    const texts = [
      'He said "no" \\ then {a,b}',
      'NULL',
      '',
      'é, ü, 漢字 \\" end',
      '\\',
      'an emoji 😀 and \\ud83d\\ude00 as six letters each',
      '\\\\u0041 \\n \\t',
    ];
    const { stored } = await storedErrorMessages(texts);
    expect(stored).toEqual(texts.map((text) => `x ${text}`));
  });

  it('stores a lone surrogate as U+FFFD, as node-postgres writes text, and writes its batch', async () => {
    const { stored, writer } = await storedErrorMessages([
      'a \ud800 b',
      'c \udfff',
      'plain',
    ]);
    expect(stored).toEqual(['x a \ufffd b', 'x c \ufffd', 'x plain']);
    expect(writer.stats()).toMatchObject({ rowsFailed: 0 });
  });

  it('fails a bad row alone: the rest of its batch commits', async () => {
    const { audit, writer, firmId, moduleRef } = await start();
    const logs = captureLogs(moduleRef);
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        audit.record(
          auditEntry(i === 17 ? MISSING_FIRM : firmId, {
            metadata: { index: i },
          }),
        ),
      ),
    );
    const rejected = results.flatMap((r, i) =>
      r.status === 'rejected' ? [{ i, reason: r.reason as unknown }] : [],
    );
    expect(rejected.map((r) => r.i)).toEqual([17]);
    expect(rejected[0].reason).toBeInstanceOf(LogWriteError);
    expect((rejected[0].reason as Error).message).toContain(
      'fk_audit_log_firm_id',
    );
    expect(await count('audit_log', firmId)).toBe(39);
    expect(await count('audit_log', MISSING_FIRM)).toBe(0);
    expect(writer.stats()).toMatchObject({ rowsWritten: 39, rowsFailed: 1 });
    // the lost row is logged as an error, once
    // (PostgreSQL names the partition the row went to, on the partitioned layout)
    expect(logs.error).toEqual([
      expect.stringMatching(
        /^audit_log: 1 row\(s\) could not be written: insert or update on table "audit_log(_p\d{6}|_default)?" violates foreign key constraint "fk_audit_log_firm_id"/,
      ),
    ]);
  });

  it("sends 'buffered' rows after bufferedDelayMs, and at once with an 'await' row", async () => {
    const { usage, writer, firmId } = await start({
      writer: { bufferedDelayMs: 400, maxDelayMs: 2 },
    });
    for (let i = 0; i < 3; i++) {
      await usage.record(usageEntry(firmId), { durability: 'buffered' });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await count('llm_usage_log', firmId)).toBe(0);
    const deadline = Date.now() + 5000;
    while (
      (await count('llm_usage_log', firmId)) < 3 &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await count('llm_usage_log', firmId)).toBe(3);
    expect(writer.stats().batches).toBe(1);

    // A buffered row waiting its long delay leaves with the next 'await' row, in one statement.
    const slow = await start({ writer: { bufferedDelayMs: 60_000 } });
    await slow.usage.record(usageEntry(slow.firmId), {
      durability: 'buffered',
    });
    await slow.usage.record(usageEntry(slow.firmId), { durability: 'await' });
    expect(await count('llm_usage_log', slow.firmId)).toBe(2);
    expect(slow.writer.stats().batches).toBe(1);
  });

  it('flushes buffered rows on application shutdown', async () => {
    const app = await start({
      writer: {
        durability: 'buffered',
        batchSize: 5000,
        bufferSize: 5000,
        bufferedDelayMs: 60_000,
      },
    });
    for (let i = 0; i < 300; i++) {
      await app.usage.record(usageEntry(app.firmId, { outputTokens: i }));
    }
    // Accepted, but still in the buffer: the batch is not full and the delay is long.
    expect(await count('llm_usage_log', app.firmId)).toBe(0);
    expect(app.writer.stats().bufferDepth.llm_usage_log).toBe(300);

    await app.close();
    expect(await count('llm_usage_log', app.firmId)).toBe(300);
    await expect(
      app.usage.record(usageEntry(app.firmId)),
    ).rejects.toBeInstanceOf(LogWriterClosedError);
    expect(app.writer.stats()).toMatchObject({
      rowsWritten: 300,
      rowsRejected: 1,
      rowsUnwritten: 0,
    });
  });

  it('flush() settles the rows accepted before it while buffered callers keep recording', async () => {
    const { usage, writer, firmId } = await start({
      writer: { bufferedDelayMs: 60_000 },
    });
    const before: string[] = [];
    for (let i = 0; i < 200; i++) {
      before.push(
        await usage.record(usageEntry(firmId), { durability: 'buffered' }),
      );
    }
    let running = true;
    const after: string[] = [];
    const steady = async () => {
      while (running) {
        after.push(
          await usage.record(usageEntry(firmId), { durability: 'buffered' }),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const callers = Array.from({ length: 4 }, steady);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await writer.flush();
    const took = Date.now() - started;
    const { rows } = await suite.reader.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM llm_usage_log WHERE id = ANY($1::uuid[])',
      [before],
    );
    // the rows accepted after the call, 60 s from their batch's delay, did not hold it
    const waiting = writer.stats().bufferDepth.llm_usage_log;
    running = false;
    await Promise.all(callers);
    expect(rows[0].n).toBe(200);
    expect(took).toBeLessThan(2_000);
    expect(waiting).toBeGreaterThan(0);
    await writer.flush();
    expect(await count('llm_usage_log', firmId)).toBe(200 + after.length);
  });

  it('ends its shutdown at writer.shutdownTimeoutMs while its statements get no answer, and reports the rows it did not write', async () => {
    const app = await start({
      writer: { shutdownTimeoutMs: 500, statementTimeoutMs: 0 },
    });
    const logs = captureLogs(app.moduleRef);
    const unlock = await lockUsageTable();
    let took: number | undefined;
    let awaited: unknown;
    try {
      const waiting = app.usage
        .record(usageEntry(app.firmId))
        .catch((error: unknown) => error);
      for (let i = 0; i < 10; i++) {
        await app.usage.record(usageEntry(app.firmId), {
          durability: 'buffered',
        });
      }
      // audit_log is not locked: its row is written on the way out
      await app.audit.record(auditEntry(app.firmId), {
        durability: 'buffered',
      });
      const started = Date.now();
      await app.close();
      took = Date.now() - started;
      awaited = await waiting;
    } finally {
      await unlock();
    }
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(1_500);
    expect(awaited).toBeInstanceOf(LogWriteError);
    expect((awaited as LogWriteError).cause).toBeInstanceOf(
      LogWriterClosedError,
    );
    expect(app.writer.stats()).toMatchObject({
      rowsWritten: 1,
      rowsUnwritten: 11,
      rowsFailed: 0,
      bufferDepth: { llm_usage_log: 0, audit_log: 0 },
    });
    expect(logs.error).toEqual([
      expect.stringContaining(
        'llm_usage_log: 11 accepted row(s) not written by the shutdown deadline (writer.shutdownTimeoutMs, 500 ms): ' +
          '0 queued, 0 tried and refused, 11 sent without an answer (these may have been committed); ' +
          '10 of them buffered',
      ),
    ]);
    expect(await count('audit_log', app.firmId)).toBe(1);
    // The statements were sent before the writer gave them up: the server, blocked on the lock,
    // commits them once it is free, which is why the report says they may have been.
    const deadline = Date.now() + 5_000;
    while ((await count('llm_usage_log', app.firmId)) < 11) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it("with onFullBuffer 'reject', refuses the row that does not fit and counts it", async () => {
    const { usage, writer, firmId } = await start({
      writer: {
        durability: 'buffered',
        batchSize: 10,
        bufferSize: 10,
        concurrency: 1,
        bufferedDelayMs: 60_000,
        onFullBuffer: 'reject',
      },
    });
    // Hold the only connection slot: the first batch waits on the table lock.
    const unlock = await lockUsageTable();
    try {
      for (let i = 0; i < 10; i++) await usage.record(usageEntry(firmId));
      await expect(usage.record(usageEntry(firmId))).rejects.toBeInstanceOf(
        LogBufferFullError,
      );
      expect(writer.stats()).toMatchObject({
        rowsRejected: 1,
        bufferDepth: { llm_usage_log: 10 },
      });
    } finally {
      await unlock();
    }
    await writer.flush();
    expect(await count('llm_usage_log', firmId)).toBe(10);
  });

  it("with onFullBuffer 'wait', holds the writer back until there is room, lets callers in the order they came, and loses nothing", async () => {
    const { usage, writer, firmId } = await start({
      writer: {
        durability: 'buffered',
        batchSize: 10,
        bufferSize: 10,
        concurrency: 1,
        bufferedDelayMs: 1,
        onFullBuffer: 'wait',
      },
    });
    const unlock = await lockUsageTable();
    let settled = 0;
    const writes = Array.from({ length: 25 }, (_, i) =>
      usage
        .record(usageEntry(firmId, { inputTokens: i }))
        .then(() => settled++),
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Ten accepted (and blocked on the lock); the other fifteen are waiting for room.
      expect(settled).toBe(10);
      expect(writer.stats().bufferDepth.llm_usage_log).toBe(10);
    } finally {
      await unlock();
    }
    await Promise.all(writes);
    await writer.flush();
    expect(await count('llm_usage_log', firmId)).toBe(25);
    expect(writer.stats().rowsRejected).toBe(0);
    // ids are made as rows are let in: in id order, the rows are in the order of the calls
    const { rows } = await suite.reader.query<{ i: number }>(
      'SELECT input_tokens AS i FROM llm_usage_log WHERE firm_id = $1 ORDER BY id',
      [firmId],
    );
    expect(rows.map((row) => row.i)).toEqual(
      Array.from({ length: 25 }, (_, i) => i),
    );
  });

  it('writes through the caller’s EntityManager: the row rolls back with the transaction', async () => {
    const { audit, dataSource, firmId, projectId } = await start();
    await expect(
      dataSource.transaction(async (manager) => {
        await manager.query('UPDATE cma_projects SET name = $1 WHERE id = $2', [
          'renamed',
          projectId,
        ]);
        await audit.record(
          auditEntry(firmId, {
            action: 'resolve_review',
            entityType: 'review_item',
          }),
          { manager },
        );
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await count('audit_log', firmId)).toBe(0);

    const id = await dataSource.transaction((manager) =>
      audit.record(auditEntry(firmId), { manager }),
    );
    const { rows } = await suite.reader.query(
      'SELECT id FROM audit_log WHERE id = $1',
      [id],
    );
    expect(rows).toEqual([{ id }]);
  });

  it('rejects an invalid entry with one error naming every bad field, and writes nothing', async () => {
    const { usage, writer, firmId } = await start();
    const bad = {
      firmId: 'firm-1',
      cmaProjectId: 42,
      model: '',
      taskType: 'summarization',
      inputTokens: -1,
      outputTokens: 2 ** 31,
      costUsd: '10000.5',
      latencyMs: Number.NaN,
      success: 'yes',
      errorMessage: 7,
      extra: 'field',
    } as unknown as LlmUsageEntry;
    const total = async () =>
      (
        await suite.reader.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM llm_usage_log',
        )
      ).rows[0].n;
    const before = await total();
    const error = await usage.record(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogEntryValidationError);
    const fields = (error as LogEntryValidationError).violations.map(
      (v) => v.field,
    );
    expect(new Set(fields)).toEqual(
      new Set([
        'firmId',
        'cmaProjectId',
        'model',
        'taskType',
        'inputTokens',
        'outputTokens',
        'costUsd',
        'latencyMs',
        'success',
        'errorMessage',
        'extra',
      ]),
    );
    expect((error as Error).message).toContain(
      'costUsd must be a non-negative decimal that fits NUMERIC(10,6)',
    );
    expect((error as Error).message).toContain(
      'taskType must be one of extraction, classification, validation, fallback',
    );
    expect(writer.stats()).toMatchObject({ rowsRejected: 1, batches: 0 });
    expect(await total()).toBe(before);
    await expect(
      usage.record(usageEntry(firmId, { costUsd: 0.1 + 0.2 })),
    ).rejects.toThrow(/costUsd must be a non-negative decimal/);
  });

  it('cuts error messages to their bound', async () => {
    const { usage, firmId } = await start();
    const id = await usage.record(
      usageEntry(firmId, { success: false, errorMessage: 'x'.repeat(10_000) }),
    );
    const { rows } = await suite.reader.query<{
      length: number;
      success: boolean;
    }>(
      'SELECT length(error_message)::int AS length, success FROM llm_usage_log WHERE id = $1',
      [id],
    );
    expect(rows).toEqual([{ length: 2000, success: false }]);
  });

  it('refuses invalid writer options, naming the field and the rule', async () => {
    // At the forRoot call itself, before Nest builds the module or the host connects.
    expect(() => LoggingModule.forRoot({ writer: { batchSize: 0 } })).toThrow(
      'LoggingModule option writer.batchSize must be an integer of at least 1',
    );
    await expect(
      loggingApp(suite.url, { writer: { batchSize: 0 } }),
    ).rejects.toThrow(
      'LoggingModule option writer.batchSize must be an integer of at least 1',
    );
    await expect(
      loggingApp(suite.url, {
        writer: { onFullBuffer: 'drop' as 'wait' },
      }),
    ).rejects.toThrow(
      "LoggingModule option writer.onFullBuffer must be 'wait' or 'reject'",
    );
    await expect(
      loggingApp(suite.url, { writer: { statementTimeoutMs: -1 } }),
    ).rejects.toThrow(
      'LoggingModule option writer.statementTimeoutMs must be an integer of at least 0',
    );
    expect(() =>
      LoggingModule.forRoot({ writer: { shutdownTimeoutMs: 0 } }),
    ).toThrow(
      'LoggingModule option writer.shutdownTimeoutMs must be an integer of at least 1',
    );
    expect(() =>
      LoggingModule.forRoot({ writer: { shutdownTimeoutMs: 2.5 } }),
    ).toThrow('writer.shutdownTimeoutMs must be an integer of at least 1');
    expect(() => LoggingModule.forRoot({ writer: { poolSize: 0 } })).toThrow(
      'LoggingModule option writer.poolSize must be an integer of at least 1',
    );
  });
});
