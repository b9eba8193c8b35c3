import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BAD_COUNTS, BAD_STRINGS, seeded } from './support/bad-input.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { demoHttpApp } from './support/http-app.js';

/**
 * The demo host's HTTP routes under 200+ generated bad requests: bad bodies, bad path params, bad
 * credentials. Each is answered 4xx with a message, never 5xx; none writes a project or a usage
 * row; the process keeps serving. A request a pipe refuses on an audited route leaves its failure
 * on the audit trail (the audit's interceptor runs before the pipes), and nothing else.
 */

interface BadRequest {
  label: string;
  method: string;
  path: string;
  /** A JSON value, or raw text when `raw` is set. */
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

describe('bad input to the demo routes', () => {
  let database: TestDatabase;
  let app: INestApplication;
  let base: string;
  let dataSource: DataSource;
  let auth: Record<string, string>;
  let projectId: string;
  let firmId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    ({ app, base } = await demoHttpApp(database.url));
    dataSource = app.get(DataSource);
    [{ id: firmId }] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO firms (name) VALUES ('bad-requests') RETURNING id`,
    );
    const [{ id: userId }] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO users (firm_id, email) VALUES ($1, 'owner@bad.test') RETURNING id`,
      [firmId],
    );
    auth = { 'x-firm-id': firmId, 'x-user-id': userId };
    const created = await send({
      label: 'a valid project',
      method: 'POST',
      path: '/projects',
      body: { name: 'valid' },
    });
    expect(created.status).toBe(201);
    projectId = (JSON.parse(created.text) as { id: string }).id;
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  async function send(request: BadRequest) {
    const response = await fetch(base + request.path, {
      method: request.method,
      headers: {
        ...auth,
        ...(request.body !== undefined || request.raw !== undefined
          ? { 'content-type': 'application/json' }
          : {}),
        ...request.headers,
      },
      body:
        request.raw ??
        (request.body === undefined ? undefined : JSON.stringify(request.body)),
    });
    return { status: response.status, text: await response.text() };
  }

  async function rows(): Promise<number[]> {
    const [counts] = await dataSource.query<
      { projects: number; usage: number; audit: number }[]
    >(
      `SELECT (SELECT count(*)::int FROM cma_projects WHERE firm_id = $1) AS projects,
              (SELECT count(*)::int FROM llm_usage_log WHERE firm_id = $1) AS usage,
              (SELECT count(*)::int FROM audit_log WHERE firm_id = $1) AS audit`,
      [firmId],
    );
    return [counts.projects, counts.usage, counts.audit];
  }

  function cases(): BadRequest[] {
    const list: BadRequest[] = [];
    const files = () => `/projects/${projectId}/files`;
    const validFile = { fileName: 'balance-sheet.pdf', pages: 12 };
    for (const name of [
      ...BAD_STRINGS.filter((v) => typeof v !== 'string'),
      '',
      'x'.repeat(201),
      null,
    ]) {
      list.push({
        label: `project name ${JSON.stringify(name)}`,
        method: 'POST',
        path: '/projects',
        body: { name },
      });
    }
    for (const fileName of [
      ...BAD_STRINGS,
      '../../etc/passwd',
      'a/b.pdf',
      '.hidden',
      'x'.repeat(201),
      null,
    ]) {
      list.push({
        label: `fileName ${String(fileName).slice(0, 20)}`,
        method: 'POST',
        path: files(),
        body: { ...validFile, fileName },
      });
    }
    for (const pages of [...BAD_COUNTS, 0, 10_001, null]) {
      list.push({
        label: `pages ${String(pages)}`,
        method: 'POST',
        path: files(),
        body: { ...validFile, pages },
      });
    }
    for (const decision of [
      'ACCEPT',
      'maybe',
      '',
      1,
      null,
      true,
      {},
      [],
      "accept' OR '1'='1",
    ]) {
      list.push({
        label: `decision ${JSON.stringify(decision)}`,
        method: 'POST',
        path: `/projects/${projectId}/reviews/${randomUUID()}/resolve`,
        body: { decision },
      });
    }
    // bodies that are not the DTO at all
    const raws = [
      'not json',
      '{"name":',
      '"a string"',
      '[]',
      '[{"name":"a"}]',
      'null',
      '123',
      '{"__proto__":{"polluted":true},"fileName":"a.pdf","pages":1,"decision":"accept"}',
      '{"constructor":{"prototype":{"polluted":true}},"fileName":"a.pdf","pages":1,"decision":"accept"}',
      '{"name":"a","extra":1}',
      '{"name":"a","firmId":"00000000-0000-0000-0000-000000000000"}',
      `{"name":${'{"a":'.repeat(500)}1${'}'.repeat(500)}}`,
    ];
    for (const [path, extra] of [
      ['/projects', ''],
      [files(), ''],
      [`/projects/${projectId}/reviews/${randomUUID()}/resolve`, ''],
    ] as const) {
      for (const raw of raws) {
        list.push({
          label: `${path} body ${raw.slice(0, 30)}${extra}`,
          method: 'POST',
          path,
          raw,
        });
      }
    }
    // path params that are not UUIDs, on every route that takes one
    const params = [
      'x',
      "1' OR '1'='1",
      '%00',
      '..%2F..%2Fetc%2Fpasswd',
      'a'.repeat(300),
      '00000000-0000-0000-0000-00000000000',
      encodeURIComponent('<script>alert(1)</script>'),
    ];
    for (const param of params) {
      list.push({
        label: `files of ${param.slice(0, 20)}`,
        method: 'POST',
        path: `/projects/${param}/files`,
        body: validFile,
      });
      list.push({
        label: `extraction of ${param.slice(0, 20)}`,
        method: 'POST',
        path: `/projects/${param}/extractions`,
      });
      list.push({
        label: `cma of ${param.slice(0, 20)}`,
        method: 'GET',
        path: `/projects/${param}/cma`,
      });
      list.push({
        label: `review ${param.slice(0, 20)}`,
        method: 'POST',
        path: `/projects/${projectId}/reviews/${param}/resolve`,
        body: { decision: 'accept' },
      });
    }
    // credentials that are missing or not UUIDs: refused before anything runs
    for (const headers of [
      { 'x-firm-id': '', 'x-user-id': '' },
      { 'x-firm-id': 'acme', 'x-user-id': auth['x-user-id'] },
      { 'x-firm-id': auth['x-firm-id'], 'x-user-id': "' OR 1=1 --" },
      {
        'x-firm-id': `${auth['x-firm-id']}, ${randomUUID()}`,
        'x-user-id': auth['x-user-id'],
      },
    ]) {
      for (const path of [
        '/projects',
        files(),
        `/projects/${projectId}/extractions`,
      ]) {
        list.push({
          label: `credentials ${JSON.stringify(headers).slice(0, 40)} on ${path.slice(0, 12)}`,
          method: 'POST',
          path,
          body: path === '/projects' ? { name: 'x' } : validFile,
          headers,
        });
      }
    }
    // two bad fields at once, drawn by a seeded generator
    const random = seeded(23);
    const pick = <T>(values: T[]) =>
      values[Math.floor(random() * values.length)];
    while (list.length < 240) {
      list.push({
        label: `file pair #${list.length}`,
        method: 'POST',
        path: files(),
        body: {
          fileName: pick([...BAD_STRINGS, null]),
          pages: pick([...BAD_COUNTS, 0, null]),
        },
      });
    }
    return list;
  }

  it('takes __proto__ and constructor keys out of a body, and stores the rest as sent', async () => {
    const before = await rows();
    for (const raw of [
      '{"__proto__":{"polluted":true},"name":"proto-key"}',
      '{"constructor":{"prototype":{"polluted":true}},"name":"constructor-key"}',
    ]) {
      const { status, text } = await send({
        label: raw,
        method: 'POST',
        path: '/projects',
        raw,
      });
      expect(status).toBe(201);
      const { id } = JSON.parse(text) as { id: string };
      const [project] = await dataSource.query<
        { name: string; firm_id: string }[]
      >('SELECT name, firm_id FROM cma_projects WHERE id = $1', [id]);
      expect(project).toEqual({
        name: JSON.parse(raw).name as string,
        firm_id: firmId,
      });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // two projects, each with its create_project row
    const after = await rows();
    expect(after).toEqual([before[0] + 2, before[1], before[2] + 2]);
  });

  /** The audit rows of the firm written after `count` rows, oldest first. */
  async function auditRowsAfter(count: number) {
    return dataSource.query<{ metadata: Record<string, unknown> }[]>(
      `SELECT metadata FROM audit_log WHERE firm_id = $1
        ORDER BY created_at, id OFFSET $2`,
      [firmId, count],
    );
  }

  it('answers 200+ bad requests with a 4xx and a message, and writes nothing but their failure on the audit trail', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThanOrEqual(200);
    const before = await rows();
    const wrong: string[] = [];
    let audited = before[2];
    let failures = 0;
    for (const request of all) {
      const { status, text } = await send(request);
      if (status < 400 || status >= 500) {
        wrong.push(`${request.label}: ${status}`);
        continue;
      }
      // at most the request's own failure row, with the status its client got and nothing more
      const added = await auditRowsAfter(audited);
      audited += added.length;
      failures += added.length;
      if (
        added.length > 1 ||
        (added.length === 1 &&
          JSON.stringify(Object.keys(added[0].metadata).sort()) !==
            '["errorClass","outcome","requestId","status"]') ||
        (added.length === 1 &&
          (added[0].metadata.outcome !== 'failure' ||
            added[0].metadata.status !== status))
      ) {
        wrong.push(`${request.label}: audit rows ${JSON.stringify(added)}`);
      }
      if (status !== 413) {
        const body = JSON.parse(text) as { message?: unknown };
        if (!body.message) wrong.push(`${request.label}: no message`);
      }
    }
    expect(wrong).toEqual([]);
    expect(failures).toBeGreaterThan(0);
    expect(await rows()).toEqual([before[0], before[1], before[2] + failures]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // and it still serves
    const ok = await send({
      label: 'valid upload',
      method: 'POST',
      path: `/projects/${projectId}/files`,
      body: { fileName: 'after.pdf', pages: 3 },
    });
    expect(ok.status).toBe(201);
  });
});
