import { Test } from '@nestjs/testing';
import {
  AuditTrailService,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import {
  DocumentsController,
  ProjectsController,
} from './fixtures/audit-fixture.js';
import { PLATFORMS, type Platform, httpApp } from './support/http-app.js';
import { maskUuids } from './support/leak-finder.js';
import { seedFirm } from './support/seed.js';
import { eventually, readEvents } from './support/streams.js';
import { databaseSuite } from './support/suite.js';
import { plainUuid } from './support/ids.js';

/** @Audit (metadata) and the AuditInterceptor it binds over real HTTP, on Express and on Fastify, read back from audit_log. */

interface AuditRow {
  firm_id: string;
  user_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  metadata: Record<string, unknown> | null;
  ip_address: string | null;
}

describe.each(PLATFORMS)('@Audit over HTTP on %s', (platform: Platform) => {
  const suite = databaseSuite();

  async function start(
    options: LoggingModuleOptions = {},
    trustProxy?: string,
  ) {
    const app = suite.own(
      await httpApp(platform, suite.url, options, { trustProxy }),
    );
    const firm = await seedFirm(app.dataSource, `firm-${plainUuid()}`);
    const headers = { 'x-test-firm': firm.firmId, 'x-test-user': firm.userId };
    return { ...app, ...firm, headers };
  }

  /** What is committed, read by a connection of its own. */
  async function rows(firmId: string): Promise<AuditRow[]> {
    const result = await suite.reader.query<AuditRow>(
      `SELECT firm_id, user_id, action, entity_type, entity_id, metadata,
              ip_address
         FROM audit_log WHERE firm_id = $1 ORDER BY created_at, action`,
      [firmId],
    );
    return result.rows;
  }

  it('writes one row for a decorated POST, committed before the response arrives', async () => {
    const { send, headers, firmId, userId, app } = await start();
    const response = await send('POST', '/projects', {
      body: { name: 'Acme CMA' },
      headers: { ...headers, 'x-request-id': 'req-abc.1' },
    });
    // the request id is stored as its keyed digest, never as sent
    const requestId = app.get(AuditTrailService).requestIdDigest('req-abc.1');
    expect(requestId).toMatch(/^[a-p]{32}$/);
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ id: expect.any(String), name: 'Acme CMA' });
    // no flush: with durability 'await' the row is committed before the response leaves
    expect(await rows(firmId)).toEqual([
      {
        firm_id: firmId,
        user_id: userId,
        action: 'create_project',
        entity_type: 'cma_project',
        entity_id: response.body.id,
        metadata: { outcome: 'success', requestId },
        ip_address: '127.0.0.1',
      },
    ]);
  });

  it('generates a request id when the header is absent or not 1 to 200 visible ASCII characters', async () => {
    const { send, headers, firmId, app } = await start();
    await send('POST', '/projects', { body: { name: 'a' }, headers });
    await send('POST', '/projects', {
      body: { name: 'b' },
      headers: { ...headers, 'x-request-id': 'drop table; --' },
    });
    const ids = (await rows(firmId)).map((row) => row.metadata?.requestId);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(/^[a-p]{32}$/);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids).not.toContain(
      app.get(AuditTrailService).requestIdDigest('drop table; --'),
    );
  });

  it('records a failed action with its class and status, and passes the error on untouched', async () => {
    const { send, headers, firmId, projectId } = await start();
    const reviewId = plainUuid();
    const response = await send(
      'POST',
      `/projects/${projectId}/reviews/${reviewId}/resolve`,
      { headers },
    );
    expect(response.status).toBe(404);
    expect(response.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: `review ${reviewId} of PAN ABCPE1234F with balance 150000.50 not found`,
    });
    const [row, ...rest] = await rows(firmId);
    expect(rest).toEqual([]);
    expect(row).toMatchObject({
      action: 'resolve_review',
      entity_type: 'review_item',
      entity_id: reviewId,
      metadata: {
        outcome: 'failure',
        errorClass: 'NotFoundException',
        status: 404,
        requestId: expect.any(String),
      },
    });
    expect(Object.keys(row.metadata ?? {}).sort()).toEqual([
      'errorClass',
      'outcome',
      'requestId',
      'status',
    ]);
  });

  it('records an unexpected error as status 500 without its message, and the client gets the usual 500', async () => {
    const { send, headers, firmId, projectId } = await start();
    const response = await send('GET', `/projects/${projectId}/cma`, {
      headers,
    });
    expect(response).toEqual({
      status: 500,
      body: { statusCode: 500, message: 'Internal server error' },
    });
    const stored = await rows(firmId);
    expect(stored).toHaveLength(1);
    expect(stored[0].metadata).toMatchObject({
      outcome: 'failure',
      errorClass: 'Error',
      status: 500,
    });
    expect(JSON.stringify(stored)).not.toContain('disk full');
  });

  it('records a handler refusing bad input as a failure with status 400', async () => {
    const { send, headers, firmId } = await start();
    const response = await send('POST', '/projects', { body: {}, headers });
    expect(response.status).toBe(400);
    expect(await rows(firmId)).toMatchObject([
      {
        action: 'create_project',
        entity_id: null,
        metadata: {
          outcome: 'failure',
          errorClass: 'BadRequestException',
          status: 400,
        },
      },
    ]);
  });

  it('writes nothing for undecorated and @SkipAudit routes, and honours class-level @Audit', async () => {
    const { send, headers, firmId } = await start();
    const reportId = plainUuid();
    expect((await send('GET', '/projects/ping', { headers })).status).toBe(200);
    const preview = await send('GET', `/reports/${reportId}/preview`, {
      headers,
    });
    expect(preview.body).toEqual({ reportId, preview: true });
    expect(await rows(firmId)).toEqual([]);

    await send('GET', `/reports/${reportId}`, { headers });
    await send('POST', `/reports/${reportId}/export`, { headers });
    expect(
      (await rows(firmId)).map((row) => [
        row.action,
        row.entity_type,
        row.entity_id,
      ]),
    ).toEqual([
      ['view_report', 'report', reportId],
      ['export_report', 'report', reportId],
    ]);
  });

  it('stores none of the financial values or identity numbers a handler puts in metadata', async () => {
    const { send, headers, firmId, projectId } = await start();
    const secrets = {
      amount: 150000.5,
      balance: '2500000',
      ref: 'ABCPE1234F',
      gstin: '27AAPFU0939F1ZV',
      note: 'Balance sheet shows a loss of 12,40,000',
      x: 234567890123,
      contact: 'cfo@acme.example',
      bank: { ifsc: 'HDFC0001234', no: '000123456789' },
      ids: ['HDFC0001234', '2345 6789 0123'],
    };
    const response = await send('POST', `/projects/${projectId}/files`, {
      body: {
        pages: 40,
        meta: { ...secrets, pageCount: 40, kind: 'bank_statement' },
      },
      headers,
    });
    expect(response.status).toBe(201);
    const [row] = await rows(firmId);
    expect(row.entity_id).toBe(projectId);
    expect(row.metadata).toMatchObject({
      outcome: 'success',
      pageCount: 40,
      kind: 'bank_statement',
      fileId: response.body.fileId,
    });
    const text = maskUuids(JSON.stringify(row.metadata));
    for (const needle of [
      '150000',
      '2500000',
      'ABCPE1234F',
      '27AAPFU0939F1ZV',
      'loss',
      '234567890123',
      'cfo@',
      'HDFC0001234',
      '000123456789',
      '2345 6789',
    ]) {
      expect(text).not.toContain(needle);
    }
  });

  it('writes the row of an action whose metadata strict mode refuses, with the system keys and a marker, and answers as usual', async () => {
    const { send, headers, firmId, projectId, audit, app } = await start({
      audit: { metadataPolicy: { strict: true } },
    });
    const refused = await send('POST', `/projects/${projectId}/files`, {
      body: { meta: { amount: 5 } },
      headers: { ...headers, 'x-request-id': 'strict-1' },
    });
    // the action completed: the client is told so, and its row is there
    expect(refused.status).toBe(201);
    expect(await rows(firmId)).toEqual([
      expect.objectContaining({
        action: 'upload_file',
        entity_id: projectId,
        metadata: {
          outcome: 'success',
          metadataRefused: true,
          requestId: app.get(AuditTrailService).requestIdDigest('strict-1'),
        },
      }),
    ]);
    expect(audit.stats()).toMatchObject({
      actionsRecorded: 1,
      metadataRefused: 1,
      metadataDropped: 1,
      writeFailures: 0,
    });

    const accepted = await send('POST', `/projects/${projectId}/files`, {
      body: { meta: { pageCount: 5 } },
      headers,
    });
    expect(accepted.status).toBe(201);
    const [, second] = await rows(firmId);
    expect(second.metadata).toMatchObject({ pageCount: 5 });
    expect(second.metadata).not.toHaveProperty('metadataRefused');
  });

  it("keeps a failed action's error and row when strict mode refuses its metadata", async () => {
    const { send, headers, firmId, projectId, audit } = await start({
      audit: { metadataPolicy: { strict: true } },
    });
    // the handler throws after the client sent metadata the strict policy refuses
    const response = await send('POST', `/projects/${projectId}/files`, {
      body: { meta: { amount: 5 }, fail: true },
      headers,
    });
    expect(response.status).toBe(400);
    expect(await rows(firmId)).toMatchObject([
      {
        action: 'upload_file',
        metadata: {
          outcome: 'failure',
          errorClass: 'BadRequestException',
          metadataRefused: true,
        },
      },
    ]);
    expect(audit.stats()).toMatchObject({
      failuresRecorded: 1,
      metadataRefused: 1,
      writeFailures: 0,
    });
  });

  it('puts the request context in force for services called inside the action', async () => {
    const { send, headers, firmId, userId, projectId, audit, app } =
      await start();
    const response = await send('POST', `/projects/${projectId}/extractions`, {
      headers: { ...headers, 'x-request-id': 'trace-42' },
    });
    expect(response.status).toBe(201);
    expect(response.body.seen).toEqual({
      firmId,
      userId,
      ipAddress: '127.0.0.1',
      requestId: 'trace-42',
    });
    const usage = await suite.reader.query<{ id: string; firm_id: string }>(
      'SELECT id, firm_id FROM llm_usage_log WHERE cma_project_id = $1',
      [projectId],
    );
    expect(usage.rows).toEqual([
      { id: response.body.usageId, firm_id: firmId },
    ]);
    const stored = await rows(firmId);
    expect(stored.map((row) => row.action).sort()).toEqual([
      'extraction_step',
      'run_extraction',
    ]);
    for (const row of stored) {
      expect(row).toMatchObject({
        firm_id: firmId,
        user_id: userId,
        ip_address: '127.0.0.1',
        entity_id: projectId,
      });
      expect(row.metadata?.requestId).toBe(
        app.get(AuditTrailService).requestIdDigest('trace-42'),
      );
    }
    expect(audit.stats()).toMatchObject({
      actionsRecorded: 1,
      writeFailures: 0,
    });
  });

  it('takes the firm and user from an async resolveActor', async () => {
    const { send, firmId, userId, dataSource } = await start({
      audit: {
        resolveActor: async (request, context) => {
          if (request.transport !== undefined) return undefined;
          expect(context.getType()).toBe('http');
          const [user] = await dataSource.query<
            { id: string; firm_id: string }[]
          >('SELECT id, firm_id FROM users WHERE email = $1', [
            request.headers['x-user-email'],
          ]);
          return user && { firmId: user.firm_id, userId: user.id };
        },
      },
    });
    const [{ email }] = await dataSource.query<{ email: string }[]>(
      'SELECT email FROM users WHERE id = $1',
      [userId],
    );
    const response = await send('POST', '/projects', {
      body: { name: 'p' },
      headers: { 'x-user-email': email },
    });
    expect(response.status).toBe(201);
    // and where the controller binds AuditInterceptor a second time
    const intercepted = await send('POST', '/local', {
      headers: { 'x-user-email': email },
    });
    expect(intercepted.status).toBe(201);
    expect(await rows(firmId)).toMatchObject([
      { firm_id: firmId, user_id: userId, entity_id: response.body.id },
      { firm_id: firmId, user_id: userId, entity_id: intercepted.body.id },
    ]);
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const trusted = await start({}, '127.0.0.1');
    await trusted.send('POST', '/projects', {
      body: { name: 'p' },
      headers: {
        ...trusted.headers,
        'x-forwarded-for': '198.51.100.23, 203.0.113.9',
      },
    });
    expect((await rows(trusted.firmId))[0].ip_address).toBe('203.0.113.9');

    // A trusted proxy passes X-Forwarded-For on as written: what is not an address is not stored.
    await trusted.send('POST', '/projects', {
      body: { name: 'q' },
      headers: { ...trusted.headers, 'x-forwarded-for': 'unknown, <script>' },
    });
    expect((await rows(trusted.firmId)).map((row) => row.ip_address)).toEqual([
      '203.0.113.9',
      null,
    ]);

    const untrusted = await start();
    await untrusted.send('POST', '/projects', {
      body: { name: 'p' },
      headers: { ...untrusted.headers, 'x-forwarded-for': '203.0.113.9' },
    });
    expect((await rows(untrusted.firmId))[0].ip_address).toBe('127.0.0.1');
  });

  it('stores only the network of the client with audit.anonymizeIp, from @Audit and record() alike', async () => {
    const app = await start({ audit: { anonymizeIp: true } }, '127.0.0.1');
    for (const forwarded of [
      '203.0.113.77',
      '2001:db8:85a3:8d3:1319:8a2e:370:7348',
    ]) {
      await app.send('POST', '/projects', {
        body: { name: 'p' },
        headers: { ...app.headers, 'x-forwarded-for': forwarded },
      });
    }
    // the nested record() inside the action takes the context's address, already cut
    await app.send('POST', `/projects/${app.projectId}/extractions`, {
      headers: { ...app.headers, 'x-forwarded-for': '198.51.100.200' },
    });
    await app.audit.record({
      firmId: app.firmId,
      action: 'export_report',
      entityType: 'report',
      ipAddress: '192.0.2.250',
    });
    expect(
      (await rows(app.firmId)).map((row) => [row.action, row.ip_address]),
    ).toEqual([
      ['create_project', '203.0.113.0'],
      ['create_project', '2001:db8:85a3::'],
      ['extraction_step', '198.51.100.0'],
      ['run_extraction', '198.51.100.0'],
      ['export_report', '192.0.2.0'],
    ]);
  });

  it('refuses an audited request without a firm before the handler runs, or skips it when told to', async () => {
    const strict = await start();
    const calls = ProjectsController.created;
    const refused = await strict.send('POST', '/projects', {
      body: { name: 'p' },
    });
    expect(refused.status).toBe(500);
    expect(ProjectsController.created).toBe(calls);
    expect(strict.audit.stats().actionsRecorded).toBe(0);
    const { rows: all } = await suite.reader.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE metadata->>'outcome' IS NOT NULL
          AND firm_id NOT IN (SELECT id FROM firms)`,
    );
    expect(all[0].n).toBe(0);

    const lenient = await start({ audit: { onMissingFirm: 'skip' } });
    const skipped = await lenient.send('POST', '/projects', {
      body: { name: 'p' },
    });
    expect(skipped.status).toBe(201);
    expect(ProjectsController.created).toBe(calls + 1);
    expect(lenient.audit.stats().skippedNoFirm).toBe(1);
    // bound twice (the controller mounts AuditInterceptor too): still one call skipped
    expect((await lenient.send('POST', '/local')).status).toBe(201);
    expect(lenient.audit.stats().skippedNoFirm).toBe(2);
    expect(await rows(lenient.firmId)).toEqual([]);
  });

  it('holds resolved and entity ids to the entry rule for UUIDs', async () => {
    // hex in UUID shape, but neither a version nor a variant: @IsUUID('all') refuses it
    const notRfc = '12345678-1234-1234-1234-123456789012';
    const { send, headers, firmId, audit } = await start();
    const refused = await send('POST', '/projects', {
      body: { name: 'p' },
      headers: { ...headers, 'x-test-user': notRfc },
    });
    expect(refused.status).toBe(500);
    expect(await rows(firmId)).toEqual([]);

    await send('GET', `/reports/${notRfc}`, { headers });
    expect(await rows(firmId)).toMatchObject([
      { action: 'view_report', entity_id: null },
    ]);
    expect(audit.stats().entityIdsDropped).toBe(1);
  });

  it("fails the request when the row cannot be written under onWriteError 'fail', and not under 'continue'", async () => {
    const unknownFirm = {
      'x-test-firm': plainUuid(),
      'x-test-user': plainUuid(),
    };
    const failing = await start();
    const failed = await failing.send('POST', '/projects', {
      body: { name: 'p' },
      headers: unknownFirm,
    });
    expect(failed.status).toBe(500);
    expect(failing.audit.stats()).toMatchObject({
      writeFailures: 1,
      actionsRecorded: 0,
    });

    const continuing = await start({ audit: { onWriteError: 'continue' } });
    const served = await continuing.send('POST', '/projects', {
      body: { name: 'p' },
      headers: unknownFirm,
    });
    expect(served.status).toBe(201);
    expect(served.body).toEqual({ id: expect.any(String), name: 'p' });
    expect(continuing.audit.stats()).toMatchObject({
      writeFailures: 1,
      actionsRecorded: 0,
    });
    const { rows: stored } = await suite.reader.query(
      'SELECT 1 FROM audit_log WHERE firm_id = $1',
      [unknownFirm['x-test-firm']],
    );
    expect(stored).toEqual([]);
  });

  it('writes one row when the controller mounts AuditInterceptor as well', async () => {
    const { send, headers, firmId } = await start();
    const response = await send('POST', '/local', { headers });
    expect(
      (await rows(firmId)).map((row) => [row.action, row.entity_id]),
    ).toEqual([['create_project', response.body.id]]);
  });

  it('audits a handler whatever the order of its decorators, and adds no argument to it', async () => {
    const { send, headers, firmId } = await start();
    const response = await send('POST', '/documents?tag=q3', {
      body: { name: 'balance sheet' },
      headers,
    });
    expect(response.status).toBe(201);
    // body and tag, nothing more
    expect(response.body).toEqual({
      id: expect.any(String),
      name: 'balance sheet',
      tag: 'q3',
      argc: 2,
    });
    expect(
      (await rows(firmId)).map((row) => [row.action, row.entity_id]),
    ).toEqual([['create_document', response.body.id]]);
  });

  it('audits inherited handlers under a class-level @Audit, and handlers returning an Observable', async () => {
    const { send, headers, firmId, userId } = await start();
    const documentId = plainUuid();
    const shown = await send('GET', `/documents/${documentId}`, { headers });
    expect(shown).toEqual({ status: 200, body: { id: documentId } });
    const streamed = await send('GET', `/documents/${documentId}/stream`, {
      headers: { ...headers, 'x-request-id': 'stream-1' },
    });
    expect(streamed).toEqual({
      status: 200,
      body: {
        id: documentId,
        seen: {
          firmId,
          userId,
          ipAddress: '127.0.0.1',
          requestId: 'stream-1',
        },
      },
    });
    expect(
      (await rows(firmId)).map((row) => [row.action, row.entity_id]),
    ).toEqual([
      ['view_document', documentId],
      ['stream_document', documentId],
    ]);
  });

  describe('the outcome at the end of the call', () => {
    it('records an SSE stream in one row at its end: success, the count of events, the entity they carry and never an event id', async () => {
      const { baseUrl, headers, firmId } = await start();
      const documentId = plainUuid();
      const { status, events } = await readEvents(
        `${baseUrl}/streams/${documentId}/events?count=3`,
        headers,
      );
      expect(status).toBe(200);
      expect(events.map((event) => event.data)).toEqual([
        { id: documentId, step: 0 },
        { id: documentId, step: 1 },
        { id: documentId, step: 2 },
      ]);
      // no flush: the stream ends after its row is committed
      const [row, ...rest] = await rows(firmId);
      expect(rest).toEqual([]);
      expect(row).toMatchObject({
        action: 'watch_document',
        entity_id: documentId,
        metadata: {
          outcome: 'success',
          values: 3,
          requestId: expect.any(String),
        },
      });
      for (const { id } of events) expect(id).not.toBe(documentId);
    });

    it('records an SSE client that leaves before the end as cancelled, with what it was sent', async () => {
      const { baseUrl, headers, firmId, audit } = await start();
      const documentId = plainUuid();
      const { events } = await readEvents(
        `${baseUrl}/streams/${documentId}/events?count=1000`,
        headers,
        2,
      );
      expect(events).toHaveLength(2);
      const stored = await eventually(
        () => rows(firmId),
        (found) => found.length > 0,
      );
      expect(stored).toMatchObject([
        {
          action: 'watch_document',
          entity_id: documentId,
          metadata: { outcome: 'cancelled', requestId: expect.any(String) },
        },
      ]);
      expect(stored[0].metadata?.values).toBeGreaterThanOrEqual(2);
      expect(stored[0].metadata?.values).toBeLessThan(1000);
      expect(audit.stats()).toMatchObject({
        actionsRecorded: 1,
        cancelledRecorded: 1,
      });
    });

    it('records the last of several values, the one Nest answers with', async () => {
      const { send, headers, firmId } = await start();
      const documentId = plainUuid();
      const response = await send('GET', `/streams/${documentId}/versions`, {
        headers,
      });
      expect(response).toEqual({
        status: 200,
        body: { id: documentId, version: 2 },
      });
      expect(await rows(firmId)).toMatchObject([
        {
          action: 'view_document',
          entity_id: documentId,
          metadata: { outcome: 'success', values: 2 },
        },
      ]);
    });

    it('records an error after a value as a failure with its class, and passes the error on', async () => {
      const { send, headers, firmId } = await start();
      const documentId = plainUuid();
      const response = await send('GET', `/streams/${documentId}/broken`, {
        headers,
      });
      expect(response).toEqual({
        status: 409,
        body: { statusCode: 409, error: 'Conflict', message: 'moved' },
      });
      expect(await rows(firmId)).toMatchObject([
        {
          action: 'stream_document',
          entity_id: documentId,
          metadata: {
            outcome: 'failure',
            errorClass: 'ConflictException',
            status: 409,
            values: 1,
          },
        },
      ]);
    });

    it('records a call a timeout outside the audit gives up on as cancelled', async () => {
      const { send, headers, firmId } = await start();
      const documentId = plainUuid();
      const response = await send('POST', `/streams/${documentId}/slow`, {
        headers,
      });
      expect(response.status).toBe(408);
      const stored = await eventually(
        () => rows(firmId),
        (found) => found.length > 0,
      );
      expect(stored).toMatchObject([
        {
          action: 'run_extraction',
          entity_id: documentId,
          metadata: { outcome: 'cancelled', values: 0 },
        },
      ]);
    });

    it('writes one row per attempt, the second numbered, when a retry outside the audit runs the call again', async () => {
      const { send, headers, firmId, app } = await start();
      const documentId = plainUuid();
      const requestId = `flaky-${plainUuid()}`;
      const response = await send('POST', `/streams/${documentId}/flaky`, {
        headers: { ...headers, 'x-request-id': requestId },
      });
      expect(response).toEqual({ status: 201, body: { checked: true } });
      const digest = app.get(AuditTrailService).requestIdDigest(requestId);
      expect((await rows(firmId)).map((row) => row.metadata)).toEqual([
        {
          outcome: 'failure',
          errorClass: 'ServiceUnavailableException',
          status: 503,
          requestId: digest,
        },
        { outcome: 'success', attempt: 2, requestId: digest },
      ]);
    });

    it('writes one row per call when the retry runs inside the audit', async () => {
      const { send, headers, firmId } = await start();
      const documentId = plainUuid();
      const response = await send(
        'POST',
        `/streams/${documentId}/flaky-inside`,
        { headers: { ...headers, 'x-request-id': `flaky-${plainUuid()}` } },
      );
      expect(response).toEqual({ status: 201, body: { checked: true } });
      expect(await rows(firmId)).toMatchObject([
        {
          action: 'check_document',
          entity_id: documentId,
          metadata: { outcome: 'success', requestId: expect.any(String) },
        },
      ]);
      expect((await rows(firmId))[0].metadata).not.toHaveProperty('attempt');
    });
  });

  it('records a request a pipe refuses as a failure: the interceptor runs before the pipes', async () => {
    const { send, headers, firmId } = await start();
    for (const path of [
      '/documents/not-a-uuid/check',
      '/local/not-a-uuid/check',
    ]) {
      const refused = await send('POST', path, { headers });
      expect(refused.status).toBe(400);
    }
    const failure = {
      action: 'check_document',
      entity_id: null, // 'not-a-uuid' is no UUID
      metadata: {
        outcome: 'failure',
        errorClass: 'BadRequestException',
        status: 400,
      },
    };
    expect(await rows(firmId)).toMatchObject([failure, failure]);
  });

  it('writes nothing for a request a guard refuses: guards run before interceptors', async () => {
    const { send, firmId } = await start();
    // the fixture's guard lets every request through; a guard of the route refuses this one
    const refused = await send('POST', '/guarded', {
      headers: { 'x-test-firm': firmId },
    });
    expect(refused.status).toBe(403);
    expect(await rows(firmId)).toEqual([]);
  });

  it('audits the handlers of a request-scoped controller', async () => {
    const { send, headers, firmId } = await start();
    const response = await send('POST', '/scoped', { headers });
    expect(response.status).toBe(201);
    expect(
      (await rows(firmId)).map((row) => [row.action, row.entity_id]),
    ).toEqual([['create_project', response.body.id]]);
  });

  it('keeps to each application its own options when two serve the same controllers', async () => {
    const first = await start();
    const second = await start({
      audit: { requestIdHeader: 'x-correlation-id' },
    });
    const ids = { 'x-request-id': 'by-request', 'x-correlation-id': 'by-corr' };
    await Promise.all([
      first.send('POST', '/projects', {
        body: { name: 'a' },
        headers: { ...first.headers, ...ids },
      }),
      second.send('POST', '/projects', {
        body: { name: 'b' },
        headers: { ...second.headers, ...ids },
      }),
    ]);
    const trail = first.app.get(AuditTrailService);
    expect(
      (await rows(first.firmId)).map((row) => row.metadata?.requestId),
    ).toEqual([trail.requestIdDigest('by-request')]);
    expect(
      (await rows(second.firmId)).map((row) => row.metadata?.requestId),
    ).toEqual([trail.requestIdDigest('by-corr')]);
  });

  it('refuses to start an application serving @Audit without LoggingModule', async () => {
    // No database either: the refusal comes while Nest builds the module, before any connection.
    await expect(
      Test.createTestingModule({
        controllers: [DocumentsController],
      }).compile(),
    ).rejects.toThrow(
      'AuditInterceptor (bound by @Audit) finds no AuditLogService: import LoggingModule.forRoot()',
    );
  });

  it("audits with the binding of the @Audit that applies: a handler's own, inside the interceptors bound around it", async () => {
    const { send, headers, firmId } = await start();
    const reportId = plainUuid();
    const response = await send('POST', `/enveloped/${reportId}/export`, {
      headers,
    });
    expect(response).toEqual({ status: 201, body: { data: { id: reportId } } });
    // the controller's @Audit is bound outside the envelope, the handler's inside it
    expect(
      (await rows(firmId)).map((row) => [row.action, row.entity_id]),
    ).toEqual([['export_report', reportId]]);
  });

  it('records the same rows with audit.global on and off', async () => {
    const ids = { reportId: plainUuid(), documentId: plainUuid() };
    const recorded = async (options: LoggingModuleOptions, run: string) => {
      const { send, headers, firmId, projectId } = await start(options);
      const { reportId, documentId } = ids;
      await send('POST', '/projects', { body: { name: 'p' }, headers });
      await send('POST', '/local', { headers }); // bound by the controller too
      await send('GET', `/reports/${reportId}`, { headers }); // the controller's @Audit
      await send('POST', `/reports/${reportId}/export`, { headers }); // the handler's
      await send('GET', `/reports/${reportId}/preview`, { headers }); // @SkipAudit
      await send('GET', '/projects/ping', { headers }); // undecorated
      await send('POST', `/enveloped/${reportId}/export`, { headers });
      await send('GET', `/streams/${documentId}/versions`, { headers });
      await send('POST', `/streams/${documentId}/flaky`, {
        headers: { ...headers, 'x-request-id': `flaky-${run}-${reportId}` },
      });
      await send('POST', `/projects/${projectId}/files`, {
        body: { meta: { pageCount: 3 } },
        headers,
      });
      return (await rows(firmId)).map((row) => ({
        action: row.action,
        entity_id: row.entity_id === projectId ? 'project' : row.entity_id,
        metadata: maskUuids(
          JSON.stringify({ ...row.metadata, requestId: undefined }),
        ),
      }));
    };
    const without = await recorded({}, 'off');
    expect(without).toHaveLength(9);
    expect(await recorded({ audit: { global: true } }, 'on')).toEqual(
      without.map((row) =>
        row.action === 'create_project' && row.entity_id !== 'project'
          ? { ...row, entity_id: expect.any(String) }
          : row,
      ),
    );
  });

  it.each(['await', 'buffered'] as const)(
    "records a request still in flight when the app shuts down (durability '%s')",
    async (durability) => {
      // 'buffered' with a long delay: the row waits for the writer's last flush, which must come
      // before TypeORM closes the DataSource.
      const { sendOnce, headers, firmId, projectId, close } = await start({
        writer: { bufferedDelayMs: 60_000 },
        audit: { durability },
      });
      const pending = sendOnce('POST', `/projects/${projectId}/slow`, {
        body: { ms: 300 },
        headers,
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closing = close();
      const response = await pending;
      await closing;
      expect(response).toEqual({ status: 201, body: { done: true } });
      expect((await rows(firmId)).map((row) => row.action)).toEqual([
        'run_extraction',
      ]);
    },
  );

  it("answers at once with durability 'buffered' and writes the row on flush", async () => {
    const { send, headers, firmId, writer } = await start({
      writer: { bufferedDelayMs: 60_000 },
      audit: { durability: 'buffered' },
    });
    const response = await send('POST', '/projects', {
      body: { name: 'p' },
      headers,
    });
    expect(response.status).toBe(201);
    expect(await rows(firmId)).toEqual([]);
    await writer.flush();
    expect((await rows(firmId)).map((row) => row.entity_id)).toEqual([
      response.body.id,
    ]);
  });
});

describe('@Audit outside Nest', () => {
  it('leaves the handler as written: called by hand, it runs unaudited with the arguments given', () => {
    const controller = new DocumentsController();
    expect(controller.create({ name: 'direct' })).toEqual({
      id: expect.any(String),
      name: 'direct',
      tag: null,
      argc: 1,
    });
  });
});
