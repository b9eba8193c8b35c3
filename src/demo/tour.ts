/**
 * `npm run demo`: boots the demo host on the embedded database (or `DATABASE_URL`), performs the
 * seed's five actions for two firms over HTTP, with simulated LLM calls of the three seed models,
 * prints each firm's audit trail and cost summary, then the OpenTelemetry spans of the LLM calls
 * (`OTEL=console`: exported to the console as they end), adds a month of history, seals each
 * firm's rows and prints the `audit:verify` command that checks them, and exits.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { AppModule, DASHBOARD_PATH } from '../app.module.js';
import {
  AuditSealService,
  AuditTrailService,
  LlmUsageReportService,
  LogWriterService,
} from '../logging/index.js';
import { configureDemoApp } from './configure.js';
import { resolveDemoDatabase } from './database/data-source.js';
import { type Row, formatTable } from './format-table.js';
import { DemoProcess } from './demo-process.js';
import { startDemoTelemetry } from './telemetry.js';
import { seedUsageHistory } from './usage-history.js';

interface Actor {
  firm: string;
  firmId: string;
  userId: string;
  projectId?: string;
}

/** Nest's logger prints errors and warnings only here; what the tour says of its stop goes to stderr. */
const demo = new DemoProcess({
  logger: {
    log: (line) => console.error(line),
    error: (line) => console.error(line),
  },
});

/**
 * The `audit:verify` command for a firm of the demo: on the embedded server, with its URL (the
 * repository's script starts that server for the command when it is down); on `DATABASE_URL`,
 * without it, so that its password is not printed.
 */
function verifyCommand(url: string, firmId: string): string {
  const target = url === process.env.DATABASE_URL ? '' : `--url ${url} `;
  return `npm run audit:verify -- ${target}--firm ${firmId}`;
}

async function main(): Promise<void> {
  await demo.handleSignals();
  const telemetry = startDemoTelemetry(); // before the app, as a host starts its SDK
  const database = await demo.start('the database', resolveDemoDatabase, (db) =>
    db.stop(),
  );
  const app = await demo.start(
    'the app',
    async () =>
      configureDemoApp(
        await NestFactory.create(
          // sealed right after its own writes are flushed, with nothing else writing: no settling
          AppModule.forDatabase(database.url, { seals: { settleMs: 0 } }),
          { logger: ['error', 'warn'] },
        ),
      ),
    (created) => created.close(),
    { deadline: true },
  );
  try {
    await app.listen(0, '127.0.0.1');
    const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    const dataSource = app.get(DataSource);
    const started = new Date();

    // Two firms of the host, each with one user (the host's own tables).
    const actors: Actor[] = [];
    for (const firm of ['Acme Advisors', 'Birch & Co']) {
      const [{ id: firmId }] = await dataSource.query<{ id: string }[]>(
        'INSERT INTO firms (name) VALUES ($1) RETURNING id',
        [firm],
      );
      const email = `owner-${firmId.slice(0, 8)}@example.test`;
      const [{ id: userId }] = await dataSource.query<{ id: string }[]>(
        'INSERT INTO users (firm_id, email) VALUES ($1, $2) RETURNING id',
        [firmId, email],
      );
      actors.push({ firm, firmId, userId });
    }

    const call = async (
      actor: Actor,
      method: string,
      path: string,
      body?: unknown,
    ) => {
      const response = await fetch(base + path, {
        method,
        headers: {
          'x-firm-id': actor.firmId,
          'x-user-id': actor.userId,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await response.json()) as Record<string, unknown>;
      console.log(
        `  ${actor.firm.padEnd(14)} ${method.padEnd(4)} ${path.replace(/[0-9a-f-]{36}/g, (id) => id.slice(0, 8))} -> ${response.status}`,
      );
      return json;
    };

    console.log("The seed's five actions, over HTTP:");
    for (const actor of actors) {
      const project = await call(actor, 'POST', '/projects', {
        name: `${actor.firm} FY2026 CMA`,
      });
      const projectId = project.id as string;
      actor.projectId = projectId;
      await call(actor, 'POST', `/projects/${projectId}/files`, {
        fileName: 'balance-sheet-fy2026.pdf',
        pages: 14,
      });
      await call(actor, 'POST', `/projects/${projectId}/files`, {
        fileName: 'bank-statement-q3.pdf',
        pages: 32,
      });
      await call(actor, 'POST', `/projects/${projectId}/extractions`);
      await call(
        actor,
        'POST',
        `/projects/${projectId}/reviews/${randomUUID()}/resolve`,
        { decision: 'accept' },
      );
      await call(actor, 'GET', `/projects/${projectId}/cma`);
    }
    // Another firm's project is not found, and the attempt is on record.
    const other = await dataSource.query<{ id: string }[]>(
      'SELECT id FROM cma_projects WHERE firm_id = $1 LIMIT 1',
      [actors[0].firmId],
    );
    await call(actors[1], 'GET', `/projects/${other[0].id}/cma`);
    await app.get(LogWriterService).flush();

    const reports = app.get(LlmUsageReportService);
    const until = new Date(Date.now() + 1000);
    for (const actor of actors) {
      console.log(
        `\n=== ${actor.firm} (firm ${actor.firmId}, project ${actor.projectId}) ===\n`,
      );
      const { items } = await app
        .get(AuditTrailService)
        .trail({ firmId: actor.firmId, from: started });
      const trail: Row[] = items.reverse().map((item) => {
        const { outcome, requestId: _requestId, ...rest } = item.metadata ?? {};
        return {
          time: item.createdAt?.toISOString().slice(11, 23) ?? '(no date)',
          user: item.userId?.slice(0, 8) ?? null,
          action: item.action,
          'entity type': item.entityType,
          entity: item.entityId?.slice(0, 8) ?? null,
          outcome: typeof outcome === 'string' ? outcome : null,
          metadata: JSON.stringify(rest),
          ip: item.ipAddress,
        };
      });
      console.log(formatTable('Audit trail', trail));
      const failed = await dataSource.query<Row[]>(
        `SELECT model, task_type AS task, error_message AS "error (as stored)"
           FROM llm_usage_log
          WHERE firm_id = $1 AND created_at >= $2 AND success = false
          ORDER BY created_at`,
        [actor.firmId, started],
      );
      console.log(formatTable('Failed LLM calls', failed));
      const byModel = await reports.summary({
        firmId: actor.firmId,
        from: started,
        to: until,
        groupBy: ['model', 'taskType'],
      });
      const [total] = await reports.summary({
        firmId: actor.firmId,
        from: started,
        to: until,
      });
      console.log(
        formatTable(
          'LLM cost summary (USD)',
          [...byModel, { ...total, model: 'total', taskType: '' }].map(
            (row) => ({
              model: row.model ?? null,
              task: row.taskType ?? null,
              calls: row.calls,
              failed: row.failures,
              'input tokens': row.inputTokens,
              'output tokens': row.outputTokens,
              'cost (USD)': row.costUsd,
            }),
          ),
        ),
      );
    }
    console.log(`\n=== OpenTelemetry ===\n\n${telemetry.table()}`);

    // A month of earlier use for each firm, so the dashboard has days to chart.
    const history = await seedUsageHistory(
      dataSource,
      actors.map(({ firmId, userId, projectId }) => ({
        firmId,
        userId,
        projectId: projectId!,
      })),
      started,
    );
    console.log(
      `\nAdded ${history.calls} LLM calls and ${history.actions} audited actions over the 30 days before today.`,
    );

    // Each firm's rows of both logs, hash-chained, and how an auditor checks them.
    const auditSeals = app.get(AuditSealService);
    console.log("\nSealed each firm's trail (docs/tamper-evidence.md):");
    for (const actor of actors) {
      for (const seal of await auditSeals.seal({ firmId: actor.firmId })) {
        console.log(
          `  ${actor.firm.padEnd(14)} ${seal.log.padEnd(13)} seal ${seal.seq}: ${seal.rowCount} rows, digest ${seal.digest.slice(0, 16)}…`,
        );
      }
    }
    console.log(
      database.url === process.env.DATABASE_URL
        ? "\nVerify the seals with the auditors' CLI, with DATABASE_URL set as for this demo:"
        : "\nVerify the seals with the auditors' CLI (it starts the embedded PostgreSQL for the command when npm start is not running):",
    );
    for (const actor of actors) {
      console.log(`  ${verifyCommand(database.url, actor.firmId)}`);
    }
    console.log(
      `Dashboard: run npm start, then open http://127.0.0.1:${process.env.PORT ?? 3000}/${DASHBOARD_PATH}/`,
    );
  } finally {
    // the app, then the embedded PostgreSQL, even when the app's close fails
    await demo.stop();
    await telemetry.shutdown();
  }
}

main().catch(async (error: unknown) => {
  if (demo.signalled) return; // the signal's handler stops the process
  console.error(error);
  await demo.stop();
  process.exit(1);
});
