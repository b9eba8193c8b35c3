import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import {
  AuditSealService,
  type LoggingModuleOptions,
} from '../src/logging/index.js';
import type { Seal } from '../src/logging/seals/seal.types.js';
import { encodingSql } from '../src/logging/seals/seal-digest-sql.js';
import { STORED_GROUPS_SQL } from '../src/logging/seals/seal-references.js';

type SealOptions = NonNullable<LoggingModuleOptions['seals']>;
import { loggingApp } from './support/logging-app.js';
import { auditVerify, childEnv, run } from './support/processes.js';
import { refusal } from './support/sql.js';
import { databaseSuite } from './support/suite.js';

/**
 * Seals: each firm's rows hash-chained in `(created_at, id)` order, published through `onSeal`, and
 * `verify` naming the first seal whose rows or neighbours changed, even when the database owner
 * turned the append-only triggers off to change them.
 */

describe('seals over the logs', () => {
  const suite = databaseSuite();

  // A run covers every firm's time up to its cutoff, and these fixtures date rows days back: each
  // test starts from logs no run has covered yet (the owner may delete runs).
  beforeEach(async () => {
    await suite.reader.query('DELETE FROM log_seal_run');
  });

  async function app(seals: SealOptions = {}) {
    const published: Seal[] = [];
    const started = suite.own(
      await loggingApp(suite.url, {
        seals: {
          settleMs: 0,
          onSeal: (seal) => void published.push(seal),
          ...seals,
        },
      }),
    );
    return {
      ...started,
      seals: started.moduleRef.get(AuditSealService),
      published,
    };
  }

  async function firm(client: Client = suite.reader): Promise<string> {
    const {
      rows: [{ id }],
    } = await client.query<{ id: string }>(
      `INSERT INTO firms (name) VALUES ($1) RETURNING id`,
      [`seals-${randomUUID()}`],
    );
    return id;
  }

  /** `count` audit rows of `firmId`, one second apart, the first `daysAgo` days ago. */
  async function auditRows(firmId: string, count: number, daysAgo = 2) {
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, entity_id, metadata, ip_address, created_at)
       SELECT $1, 'upload_file', 'uploaded_file', gen_random_uuid(),
              jsonb_build_object('pages', i, 'kind', 'pdf', 'nested', jsonb_build_object('b', 1, 'a', 'é')),
              '10.0.0.' || (i % 250), now() - $3 * interval '1 day' + i * interval '1 second' + interval '0.000123 second'
         FROM generate_series(1, $2) AS i`,
      [firmId, count, daysAgo],
    );
  }

  /** `count` audit rows of `firmId` dated now by the database clock, after every run so far. */
  async function freshRows(firmId: string, count: number) {
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
       SELECT $1, 'upload_file', 'uploaded_file', clock_timestamp() FROM generate_series(1, $2)`,
      [firmId, count],
    );
  }

  /** Runs `sql` as the database owner with the user triggers of `table` off, then on again. */
  async function asOwner(
    table: string,
    sql: string,
    parameters: unknown[] = [],
  ) {
    await suite.reader.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    try {
      await suite.reader.query(sql, parameters);
    } finally {
      await suite.reader.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    }
  }

  it('seals each firm once, records range, count and digest, and hands the seal to onSeal', async () => {
    const { seals, published } = await app();
    const a = await firm();
    const b = await firm();
    await auditRows(a, 30);
    await auditRows(b, 12);
    const made = await seals.seal({ log: 'audit_log' });
    const ours = made.filter((s) => s.firmId === a || s.firmId === b);
    expect(ours.map((s) => [s.firmId, s.seq, s.rowCount]).sort()).toEqual(
      [
        [a, 1, 30],
        [b, 1, 12],
      ].sort(),
    );
    expect(published).toEqual(made);
    const { rows } = await suite.reader.query(
      `SELECT seq, row_count::int AS n, encode(digest, 'hex') AS digest,
              encode(prev_digest, 'hex') AS prev
         FROM log_seal WHERE log = 'audit_log' AND firm_id = $1`,
      [a],
    );
    expect(rows).toEqual([
      {
        seq: 1,
        n: 30,
        digest: ours.find((s) => s.firmId === a)!.digest,
        prev: '0'.repeat(64),
      },
    ]);
    expect(await seals.seal({ firmId: a })).toEqual([]);
    await freshRows(a, 5);
    const [second] = await seals.seal({ firmId: a, log: 'audit_log' });
    expect(second).toMatchObject({
      seq: 2,
      rowCount: 5,
      prevDigest: rows[0].digest,
    });
    const verdict = await seals.verify({ firmId: a });
    expect(verdict).toMatchObject({
      ok: true,
      sealsChecked: 2,
      rowsChecked: 35,
    });
  });

  describe('tampering by the database owner, triggers off and on again', () => {
    /** A firm with three seals of 10 rows each, days 3, 2 and 1 ago, made by one run. */
    async function sealedFirm() {
      const started = await app({ maxRowsPerSeal: 10 });
      const firmId = await firm();
      for (const daysAgo of [3, 2, 1]) {
        await auditRows(firmId, 10, daysAgo);
      }
      await started.seals.seal({ firmId, log: 'audit_log' });
      expect(await started.seals.verify({ firmId })).toMatchObject({
        ok: true,
        sealsChecked: 3,
      });
      return { ...started, firmId };
    }
    const rowOfSeal = (firmId: string, daysAgo: number) =>
      suite.reader
        .query<{ id: string }>(
          `SELECT id FROM audit_log WHERE firm_id = $1
            AND created_at < now() - $2 * interval '1 day' + interval '5 second'
            AND created_at > now() - $2 * interval '1 day' ORDER BY created_at LIMIT 1 OFFSET 2`,
          [firmId, daysAgo],
        )
        .then((r) => r.rows[0].id);

    it('one column of one row edited: row-edited, naming the seal', async () => {
      const { seals, firmId } = await sealedFirm();
      const id = await rowOfSeal(firmId, 2);
      await asOwner(
        'audit_log',
        `UPDATE audit_log SET ip_address = '10.9.9.9' WHERE id = $1`,
        [id],
      );
      expect(await seals.verify({ firmId })).toMatchObject({
        ok: false,
        problem: { seq: 2, kind: 'row-edited' },
      });
    });

    it('a row deleted: row-missing, with the count', async () => {
      const { seals, firmId } = await sealedFirm();
      const id = await rowOfSeal(firmId, 1);
      await asOwner('audit_log', `DELETE FROM audit_log WHERE id = $1`, [id]);
      expect(await seals.verify({ firmId })).toMatchObject({
        ok: false,
        problem: { seq: 3, kind: 'row-missing', rows: 1 },
      });
    });

    it('a back-dated row inserted into a sealed range: row-inserted, and sealing again does not absorb it', async () => {
      const { seals, firmId } = await sealedFirm();
      await suite.reader.query(
        `INSERT INTO audit_log (firm_id, action, entity_type, created_at)
         VALUES ($1, 'download_cma', 'generated_file', now() - interval '3 days' + interval '4.5 second')`,
        [firmId],
      );
      const expected = {
        ok: false,
        problem: { seq: 1, kind: 'row-inserted', rows: 1 },
      };
      expect(await seals.verify({ firmId })).toMatchObject(expected);
      expect(await seals.seal({ firmId })).toEqual([]);
      expect(await seals.verify({ firmId })).toMatchObject(expected);
    });

    it('a seal edited (its digest, or its row count): seal-edited', async () => {
      const { seals, firmId } = await sealedFirm();
      await asOwner(
        'log_seal',
        `UPDATE log_seal SET digest = sha256('forged') WHERE firm_id = $1 AND seq = 2`,
        [firmId],
      );
      expect(await seals.verify({ firmId })).toMatchObject({
        ok: false,
        problem: { seq: 2, kind: 'seal-edited' },
      });
      const other = await sealedFirm();
      await asOwner(
        'log_seal',
        `UPDATE log_seal SET row_count = 9 WHERE firm_id = $1 AND seq = 1`,
        [other.firmId],
      );
      expect(await other.seals.verify({ firmId: other.firmId })).toMatchObject({
        ok: false,
        problem: { seq: 1, kind: 'seal-edited' },
      });
    });

    it('the latest seal deleted: seal-removed against the digest onSeal published', async () => {
      const { seals, firmId, published } = await sealedFirm();
      const latest = published.filter((s) => s.firmId === firmId).at(-1)!;
      expect(latest.seq).toBe(3);
      await asOwner(
        'log_seal',
        `DELETE FROM log_seal WHERE firm_id = $1 AND seq = 3`,
        [firmId],
      );
      const anchors = [{ seq: latest.seq, digest: latest.digest }];
      expect(await seals.verify({ firmId, anchors })).toMatchObject({
        ok: false,
        problem: { seq: 3, kind: 'seal-removed' },
      });
      // its rows lie in time the run covered: no later seal takes them in, and without the
      // anchor they are found after seal 2
      expect(await seals.seal({ firmId })).toEqual([]);
      expect(await seals.verify({ firmId, anchors })).toMatchObject({
        ok: false,
        problem: { seq: 3, kind: 'seal-removed' },
      });
      expect(await seals.verify({ firmId })).toMatchObject({
        ok: false,
        problem: { seq: 3, kind: 'row-inserted', rows: 10 },
      });
    });

    it('a seal in the middle deleted: seal-removed from the chain alone', async () => {
      const { seals, firmId } = await sealedFirm();
      await asOwner(
        'log_seal',
        `DELETE FROM log_seal WHERE firm_id = $1 AND seq = 2`,
        [firmId],
      );
      expect(await seals.verify({ firmId })).toMatchObject({
        ok: false,
        problem: { seq: 2, kind: 'seal-removed' },
      });
    });
  });

  it('log_seal is append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const { seals } = await app();
    const firmId = await firm();
    await auditRows(firmId, 3);
    await seals.seal({ firmId });
    for (const sql of [
      `UPDATE log_seal SET row_count = 0 WHERE firm_id = '${firmId}'`,
      `DELETE FROM log_seal WHERE firm_id = '${firmId}'`,
      'TRUNCATE log_seal',
    ]) {
      expect(await refusal(suite.reader, sql)).toMatchObject({ code: '42501' });
    }
    const { rows } = await suite.reader.query(
      'SELECT count(*)::int AS n FROM log_seal WHERE firm_id = $1',
      [firmId],
    );
    expect(rows[0].n).toBe(1);
  });

  it('rows with awkward text seal and verify to the digests the SQL encoding gives', async () => {
    const { seals } = await app();
    const firmId = await firm();
    const user = (
      await suite.reader.query<{ id: string }>(
        `INSERT INTO users (firm_id, email) VALUES ($1, $2) RETURNING id`,
        [firmId, `${randomUUID()}@example.com`],
      )
    ).rows[0].id;
    // tabs, newlines, backslashes and quotes (escaped by COPY's text format, not by binary),
    // 2-, 3- and 4-byte UTF-8, NULLs, and fields longer than the hash's 16 KiB buffer and its
    // quarter, where the encoder hashes a field apart
    const awkward = [
      'tab\there',
      'line\nbreak\r',
      'back\\slash \\N',
      `quote ' and "double"`,
      'é ü ₹ 漢字 😀',
      'x'.repeat(5_000),
      'y'.repeat(20_000) + 'ü',
    ];
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, entity_id, metadata, ip_address, created_at)
       SELECT $1, CASE WHEN i % 2 = 0 THEN $3::uuid END, t, t, NULL,
              jsonb_build_object(t, t, 'n', i * 1.5), CASE WHEN i % 3 = 0 THEN t END,
              now() - interval '2 days' + i * interval '1 second'
         FROM unnest($2::text[]) WITH ORDINALITY AS x(t, i)`,
      [firmId, awkward, user],
    );
    await suite.reader.query(
      `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens, cost_usd,
                                  latency_ms, success, error_message, created_at)
       SELECT $1, t, 'extraction', i, i * 7, i * 0.000123, i * 11, i % 2 = 0,
              CASE WHEN i % 2 = 1 THEN t END, now() - interval '2 days' + i * interval '1 second'
         FROM unnest($2::text[]) WITH ORDINALITY AS x(t, i)`,
      [firmId, awkward],
    );
    const made = await seals.seal({ firmId });
    expect(made.map((s) => [s.log, s.rowCount]).sort()).toEqual([
      ['audit_log', awkward.length],
      ['llm_usage_log', awkward.length],
    ]);
    for (const log of ['audit_log', 'llm_usage_log'] as const) {
      const { rows } = await suite.reader.query<{ digest: string }>(
        `SELECT encode(sha256(s.prev_digest || convert_to(
                  (SELECT string_agg(${encodingSql(log, true, 2)}, '' ORDER BY a.created_at, a.id)
                     FROM ${log} a WHERE a.firm_id = s.firm_id)
                  || '|' || (SELECT ${STORED_GROUPS_SQL}
                               FROM unnest(s.ref_ids, s.ref_rows, s.ref_digests) AS x(ref, n, d)),
                  'UTF8')), 'hex') AS digest
           FROM log_seal s WHERE s.log = $1 AND s.firm_id = $2 AND s.seq = 1`,
        [log, firmId],
      );
      expect(rows[0].digest).toBe(made.find((s) => s.log === log)!.digest);
      expect(await seals.verify({ firmId, log })).toMatchObject({
        ok: true,
        rowsChecked: awkward.length,
      });
    }

    // one byte of the long field changed is found, in the seal that holds it
    await asOwner(
      'audit_log',
      `UPDATE audit_log SET metadata = jsonb_set(metadata, '{n}', '0') WHERE firm_id = $1
          AND length(action) > 20000`,
      [firmId],
    );
    expect(await seals.verify({ firmId })).toMatchObject({
      ok: false,
      problem: { seq: 1, kind: 'row-edited' },
    });
  });

  it('the plain-Node verifier in docs/ recomputes the same digests without the library', async () => {
    const { seals } = await app({ maxRowsPerSeal: 41 });
    const firmId = await firm();
    await auditRows(firmId, 40, 3);
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, metadata, created_at)
       VALUES ($1, NULL, 'resolve_review', 'review_item',
               '{"zz": [1.50, {"b": null, "a": "line\\nbreak \\"q\\" ü"}], "a": true, "é": 0, "bb": -2e3}',
               now() - interval '3 days' + interval '0.5 second')`,
      [firmId],
    );
    await auditRows(firmId, 7, 2);
    const made = (await seals.seal({ firmId, log: 'audit_log' })).slice(1);
    const ran = await run(
      process.execPath,
      ['docs/verify-audit-seals.mjs', '--firm', firmId],
      childEnv({ DATABASE_URL: suite.url }),
    );
    expect(ran.code).toBe(0);
    const listed = await seals.list({ firmId });
    expect(listed.map((s) => s.seq)).toEqual([1, 2]);
    for (const seal of listed) {
      expect(ran.output).toContain(
        `seal ${seal.seq}: ok, ${seal.rowCount} rows, digest ${seal.digest}`,
      );
    }
    expect(made[0].digest).toBe(listed[1].digest);
    expect(ran.output).toContain('VERIFIED: 2 seal(s)');

    await asOwner(
      'audit_log',
      `UPDATE audit_log SET action = 'download_cma' WHERE firm_id = $1 AND action = 'resolve_review'`,
      [firmId],
    );
    const tampered = await run(
      process.execPath,
      ['docs/verify-audit-seals.mjs', '--firm', firmId],
      childEnv({ DATABASE_URL: suite.url }),
    );
    expect(tampered.code).toBe(1);
    expect(tampered.output).toMatch(/seal 1: FAIL/);
  });

  it('npm run audit:verify prints the verdict and exits 1 on tampering, naming seal and kind', async () => {
    const { seals, published } = await app();
    const firmId = await firm();
    await auditRows(firmId, 5, 2);
    await seals.seal({ firmId });
    const [anchor] = published.filter(
      (s) => s.firmId === firmId && s.log === 'audit_log',
    );
    const verify = (...args: string[]) =>
      auditVerify(suite.url, '--firm', firmId, ...args);
    const clean = await verify('--anchor', `${anchor.seq}:${anchor.digest}`);
    expect(clean.output).toContain(
      `VERIFIED  audit_log of firm ${firmId}: 1 seal(s), 5 row(s)`,
    );
    expect(clean.code).toBe(0);
    await asOwner(
      'audit_log',
      `DELETE FROM audit_log WHERE id = (SELECT id FROM audit_log WHERE firm_id = $1 LIMIT 1)`,
      [firmId],
    );
    const bad = await verify();
    expect(bad.output).toContain(
      `TAMPERED  audit_log of firm ${firmId}: seal 1, row-missing`,
    );
    expect(bad.code).toBe(1);
    const cli = (...args: string[]) => auditVerify(suite.url, ...args);
    const usage = await cli();
    expect(usage.code).toBe(2);
    expect(usage.output).toContain('--firm is required (or --all-firms)');
    const both = await cli('--all-firms', '--firm', firmId);
    expect(both.code).toBe(2);
    expect(both.output).toContain('--firm and --all-firms exclude each other');
    // four runs of the CLI, each compiling it with ts-node: about 50 s on a busy two-core machine
  }, 180_000);

  it('rows no seal holds yet are UNSEALED, never VERIFIED: verify counts them, and npm run audit:verify exits 3', async () => {
    const { seals } = await app();
    const firmId = await firm();
    await auditRows(firmId, 6, 2);
    const verify = () =>
      auditVerify(suite.url, '--firm', firmId, '--log', 'audit_log');

    // no seal at all: nothing verified, and the verifier says so
    expect(await seals.verify({ firmId })).toMatchObject({
      ok: true,
      sealsChecked: 0,
      rowsChecked: 0,
      unsealed: 6,
      last: null,
    });
    const none = await verify();
    expect(none.output).toContain(
      `UNSEALED  audit_log of firm ${firmId}: 6 row(s) not sealed yet, and no seal at all: not verified until a seal holds them`,
    );
    expect(none.output).not.toContain('VERIFIED');
    expect(none.code).toBe(3);
    // and so does the plain-Node verifier in docs/
    const plain = await run(
      process.execPath,
      ['docs/verify-audit-seals.mjs', '--firm', firmId],
      childEnv({ DATABASE_URL: suite.url }),
    );
    expect(plain.output.trim()).toBe(
      'UNSEALED: 6 row(s) and no seal at all: not verified until a seal holds them',
    );
    expect(plain.code).toBe(3);

    // sealed: all verified
    const [made] = await seals.seal({ firmId, log: 'audit_log' });
    const sealed = await verify();
    expect(sealed.output.trim()).toBe(
      `VERIFIED  audit_log of firm ${firmId}: 1 seal(s), 6 row(s), last seal 1 digest ${made.digest}`,
    );
    expect(sealed.code).toBe(0);

    // rows after the seal: the sealed ones verified, the new ones not
    await freshRows(firmId, 2);
    expect(await seals.verify({ firmId })).toMatchObject({
      ok: true,
      sealsChecked: 1,
      rowsChecked: 6,
      unsealed: 2,
    });
    const plainTail = await run(
      process.execPath,
      ['docs/verify-audit-seals.mjs', '--firm', firmId],
      childEnv({ DATABASE_URL: suite.url }),
    );
    expect(plainTail.output).toContain('VERIFIED: 1 seal(s) match their rows');
    expect(plainTail.output).toContain(
      'UNSEALED: 2 row(s) after the last seal: not verified until a seal holds them',
    );
    expect(plainTail.code).toBe(3);
    // a window that ends before them checks the sealed past alone
    expect(
      await seals.verify({ firmId, to: new Date(Date.now() - 3_600_000) }),
    ).toMatchObject({ ok: true, sealsChecked: 1, unsealed: 0 });
    // --all-firms names a firm with rows and no seal too
    const other = await firm();
    await auditRows(other, 3, 1);
    const all = await auditVerify(
      suite.url,
      '--all-firms',
      '--log',
      'audit_log',
    );
    expect(all.output).toContain(
      `VERIFIED  audit_log of firm ${firmId}: 1 seal(s), 6 row(s)`,
    );
    expect(all.output).toContain(
      `UNSEALED  audit_log of firm ${firmId}: 2 row(s) not sealed yet: not verified until a seal holds them`,
    );
    expect(all.output).toContain(
      `UNSEALED  audit_log of firm ${other}: 3 row(s) not sealed yet, and no seal at all`,
    );
    expect(all.output).not.toContain(`VERIFIED  audit_log of firm ${other}`);
    // (its exit code speaks of every firm of this file's database, tampered ones of other tests too)
    expect(
      (await seals.verifyAll({ log: 'audit_log' })).find(
        (v) => v.firmId === other,
      ),
    ).toMatchObject({ ok: true, sealsChecked: 0, unsealed: 3 });

    // tampering is told beside them (the CLI then exits 1: verify-verdict.spec.ts)
    await asOwner(
      'audit_log',
      `UPDATE audit_log SET action = 'download_cma' WHERE id = (SELECT id FROM audit_log WHERE firm_id = $1 ORDER BY created_at LIMIT 1)`,
      [firmId],
    );
    expect(await seals.verify({ firmId })).toMatchObject({
      ok: false,
      problem: { seq: 1, kind: 'row-edited' },
      unsealed: 2,
    });
    // three runs of the CLI, each a few seconds of node and ts-node, more on a loaded machine
  }, 180_000);

  it('npm run audit:verify --all-firms gives a verdict per sealed firm and log, and exits 1 when one is tampered', async () => {
    const { seals } = await app();
    const firmIds = [await firm(), await firm()];
    for (const firmId of firmIds) {
      await auditRows(firmId, 4, 3);
      await seals.seal({ firmId });
    }
    const allFirms = () =>
      auditVerify(suite.url, '--all-firms', '--log', 'audit_log');
    const before = await allFirms();
    for (const firmId of firmIds) {
      expect(before.output).toContain(
        `VERIFIED  audit_log of firm ${firmId}: 1 seal(s), 4 row(s)`,
      );
    }
    await asOwner(
      'audit_log',
      `UPDATE audit_log SET action = 'tampered' WHERE id = (SELECT id FROM audit_log WHERE firm_id = $1 LIMIT 1)`,
      [firmIds[1]],
    );
    const after = await allFirms();
    expect(after.output).toContain(
      `VERIFIED  audit_log of firm ${firmIds[0]}: 1 seal(s), 4 row(s)`,
    );
    expect(after.output).toContain(
      `TAMPERED  audit_log of firm ${firmIds[1]}: seal 1, row-edited`,
    );
    expect(after.code).toBe(1);
    // two CLI runs, each compiling its TypeScript: half a minute each on a loaded machine
  }, 180_000);

  it('llm_usage_log is sealed and verified the same way', async () => {
    const { seals } = await app();
    const firmId = await firm();
    await suite.reader.query(
      `INSERT INTO llm_usage_log (firm_id, model, task_type, input_tokens, output_tokens, cost_usd,
                                  latency_ms, success, error_message, created_at)
       SELECT $1, 'gemini-3-flash', 'extraction', i, 10, 0.000124 * i, CASE WHEN i % 2 = 0 THEN 80 END,
              i % 3 <> 0, CASE WHEN i % 3 = 0 THEN 'timeout' END, now() - interval '1 day' + i * interval '1 ms'
         FROM generate_series(1, 25) AS i`,
      [firmId],
    );
    const [seal] = await seals.seal({ firmId, log: 'llm_usage_log' });
    expect(seal).toMatchObject({ log: 'llm_usage_log', seq: 1, rowCount: 25 });
    expect(await seals.verify({ firmId, log: 'llm_usage_log' })).toMatchObject({
      ok: true,
      rowsChecked: 25,
    });
    const ran = await run(
      process.execPath,
      [
        'docs/verify-audit-seals.mjs',
        '--firm',
        firmId,
        '--log',
        'llm_usage_log',
      ],
      childEnv({ DATABASE_URL: suite.url }),
    );
    expect(ran.output).toContain(`seal 1: ok, 25 rows, digest ${seal.digest}`);
    await asOwner(
      'llm_usage_log',
      `UPDATE llm_usage_log SET cost_usd = 0 WHERE firm_id = $1 AND input_tokens = 7`,
      [firmId],
    );
    expect(await seals.verify({ firmId, log: 'llm_usage_log' })).toMatchObject({
      ok: false,
      problem: { seq: 1, kind: 'row-edited' },
    });
  });

  it('retention purges whole seals with their rows and leaves a tombstone the chain verifies through', async () => {
    // the schema owner lowers the retention floor (365 days by default) for this test's months
    await suite.reader.query(
      `UPDATE logging_retention_floor SET min_age = interval '10 days' WHERE log = 'audit_log'`,
    );
    const { seals, published } = await app({ maxRowsPerSeal: 10 });
    const firmId = await firm();
    for (const daysAgo of [40, 30, 20, 1]) {
      await auditRows(firmId, 10, daysAgo);
    }
    await seals.seal({ firmId, log: 'audit_log' });
    const count = async () =>
      (
        await suite.reader.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM audit_log WHERE firm_id = $1',
          [firmId],
        )
      ).rows[0].n;
    expect(await count()).toBe(40);
    const result = await seals.purge(
      'audit_log',
      new Date(Date.now() - 25 * 86_400_000),
    );
    expect(result.rows).toBe(20);
    expect(await count()).toBe(20);
    const chain = await seals.list({ firmId });
    expect(chain.map((s) => [s.seq, s.kind, s.rowCount])).toEqual([
      [2, 'tombstone', 20],
      [3, 'seal', 10],
      [4, 'seal', 10],
    ]);
    const second = published.find((s) => s.firmId === firmId && s.seq === 2)!;
    expect(chain[0].digest).toBe(second.digest);
    const last = published.filter((s) => s.firmId === firmId).at(-1)!;
    expect(
      await seals.verify({
        firmId,
        anchors: [
          { seq: 2, digest: second.digest },
          { seq: last.seq, digest: last.digest },
        ],
      }),
    ).toMatchObject({ ok: true, sealsChecked: 3, rowsChecked: 20 });
    const ran = await run(
      process.execPath,
      ['docs/verify-audit-seals.mjs', '--firm', firmId],
      childEnv({ DATABASE_URL: suite.url }),
    );
    expect(ran.code).toBe(0);
    // a second purge goes through the tombstone
    await seals.purge('audit_log', new Date(Date.now() - 15 * 86_400_000));
    expect(
      (await seals.list({ firmId })).map((s) => [s.seq, s.kind, s.rowCount]),
    ).toEqual([
      [3, 'tombstone', 30],
      [4, 'seal', 10],
    ]);
    expect(await seals.verify({ firmId })).toMatchObject({ ok: true });
  });

  it("a firm's deletion (ON DELETE CASCADE) removes its chains with its rows", async () => {
    const { seals } = await app();
    const firmId = await firm();
    const other = await firm();
    await auditRows(firmId, 4);
    await auditRows(other, 4);
    await seals.seal({ log: 'audit_log' });
    await suite.reader.query('DELETE FROM firms WHERE id = $1', [firmId]);
    const { rows } = await suite.reader.query(
      'SELECT firm_id AS "firmId", count(*)::int AS n FROM log_seal WHERE firm_id = ANY ($1) GROUP BY firm_id',
      [[firmId, other]],
    );
    expect(rows).toEqual([{ firmId: other, n: 1 }]);
    expect(await seals.verify({ firmId: other })).toMatchObject({ ok: true });
  });

  it('a clean trail of 100,000 rows over 20 firms verifies', async () => {
    const { seals } = await app({ maxRowsPerSeal: 2_000 });
    const firms: string[] = [];
    for (let i = 0; i < 20; i++) firms.push(await firm());
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, entity_id, metadata, ip_address, created_at)
       SELECT ($1::uuid[])[1 + i % 20], NULL, 'run_extraction', 'cma_project', gen_random_uuid(),
              jsonb_build_object('pages', i % 97, 'ok', i % 2 = 0), '192.168.0.' || (i % 200),
              now() - interval '10 days' + i * interval '7 ms'
         FROM generate_series(1, 100000) AS i`,
      [firms],
    );
    const made = await seals.seal({ log: 'audit_log' });
    expect(
      made
        .filter((s) => firms.includes(s.firmId))
        .reduce((n, s) => n + s.rowCount, 0),
    ).toBe(100_000);
    let rows = 0;
    for (const firmId of firms) {
      const verdict = await seals.verify({ firmId });
      expect(verdict).toMatchObject({ ok: true, sealsChecked: 3 });
      rows += verdict.rowsChecked;
    }
    expect(rows).toBe(100_000);

    // every firm at once, in one pass; then one row edited by the owner is found in its firm
    const all = (await seals.verifyAll()).filter((v) =>
      firms.includes(v.firmId),
    );
    expect(all.map((v) => v.firmId).sort()).toEqual([...firms].sort());
    expect(all.every((v) => v.ok && v.sealsChecked === 3)).toBe(true);
    expect(all.reduce((n, v) => n + v.rowsChecked, 0)).toBe(100_000);
    const {
      rows: [victim],
    } = await suite.reader.query<{ id: string }>(
      `SELECT id FROM audit_log WHERE firm_id = $1 ORDER BY created_at, id OFFSET 2500 LIMIT 1`,
      [firms[7]],
    );
    await asOwner(
      'audit_log',
      `UPDATE audit_log SET entity_type = 'document' WHERE id = $1`,
      [victim.id],
    );
    const after = (await seals.verifyAll()).filter(
      (v) => firms.includes(v.firmId) && !v.ok,
    );
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({
      firmId: firms[7],
      problem: { seq: 2, kind: 'row-edited' },
    });
  });

  it('refuses bad arguments with the field named, writing nothing', async () => {
    const { seals } = await app();
    await expect(seals.seal({ firmId: 'nope' })).rejects.toThrow(
      'seal: firmId must be a UUID, got "nope"',
    );
    await expect(
      seals.verify({ firmId: randomUUID(), log: 'users' as never }),
    ).rejects.toThrow("verify: log must be 'audit_log' or 'llm_usage_log'");
    await expect(seals.verifyAll({ log: 'users' as never })).rejects.toThrow(
      "verifyAll: log must be 'audit_log' or 'llm_usage_log'",
    );
    await expect(
      seals.verify({
        firmId: randomUUID(),
        anchors: [{ seq: 0, digest: 'ab' }],
      }),
    ).rejects.toThrow(
      'verify: anchors must be a list of { seq: a positive integer, digest: 64 hex digits }',
    );
  });
});
