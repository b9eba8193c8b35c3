import { randomUUID } from 'node:crypto';
import { AuditSealService } from '../src/logging/index.js';
import { SealReferenceGroups1795305900000 } from '../src/logging/migrations/index.js';
import type { SealableLog } from '../src/logging/seals/seal-encoding.js';
import { dataSourceFor } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { auditVerify, childEnv, run } from './support/processes.js';
import { createAppRole } from './support/roles.js';
import { databaseSuite } from './support/suite.js';

/**
 * Erasure is not tampering: seals of encoding 2 leave the reference a foreign key nulls
 * (`audit_log.user_id`, `llm_usage_log.cma_project_id`) out of the row encoding and commit to it in
 * reference groups, so that deleting a user or a project verifies as `reference-erased`, while any
 * other change of that column, made by the database owner with the triggers off, is `row-edited`.
 */

describe('seals: erasure is not tampering', () => {
  const suite = databaseSuite();
  const q = <T extends object = Record<string, unknown>>(
    sql: string,
    parameters: unknown[] = [],
  ) => suite.reader.query<T>(sql, parameters).then((r) => r.rows);

  async function app() {
    const started = suite.own(
      await loggingApp(suite.url, { seals: { settleMs: 0 } }),
    );
    return started.moduleRef.get(AuditSealService);
  }

  /** A firm with users `a` and `b` and a project `p`. */
  async function firm() {
    const [{ id }] = await q<{ id: string }>(
      `INSERT INTO firms (name) VALUES ($1) RETURNING id`,
      [`erasure-${randomUUID()}`],
    );
    const user = async () =>
      (
        await q<{ id: string }>(
          `INSERT INTO users (firm_id, email) VALUES ($1, $2) RETURNING id`,
          [id, `${randomUUID()}@example.test`],
        )
      )[0].id;
    const [{ id: p }] = await q<{ id: string }>(
      `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'p') RETURNING id`,
      [id],
    );
    return { firmId: id, a: await user(), b: await user(), p };
  }

  /**
   * One audit row of `firmId` by `user`, dated `daysAgo` days and `i` seconds ago, or, without
   * `daysAgo`, at the database clock when inserted (after the last run's cutoff); returns its id.
   */
  async function auditRow(
    firmId: string,
    user: string | null,
    i: number,
    daysAgo?: number,
  ) {
    const [{ id }] = await q<{ id: string }>(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, metadata, ip_address, created_at)
       VALUES ($1, $2, 'upload_file', 'uploaded_file', jsonb_build_object('pages', $3::int),
               '10.0.0.' || $3::int,
               coalesce(now() - $4::int * interval '1 day' + $3::int * interval '1 second',
                        clock_timestamp()))
       RETURNING id`,
      [firmId, user, i, daysAgo ?? null],
    );
    return id;
  }

  /** Runs `sql` as the database owner with the user triggers of `table` off, then on again. */
  async function asOwner(table: string, sql: string, parameters: unknown[]) {
    await q(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    try {
      await q(sql, parameters);
    } finally {
      await q(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    }
  }

  const plainVerifier = (firmId: string, log: SealableLog = 'audit_log') =>
    run(
      process.execPath,
      ['docs/verify-audit-seals.mjs', '--firm', firmId, '--log', log],
      childEnv({ DATABASE_URL: suite.url }),
    );

  /**
   * A firm with two seals of audit rows, made by two runs: seal 1 by a (3 rows), b (2) and nobody
   * (1), dated 3 days ago; seal 2 by a (1) and b (1), dated when written. Returns the row ids per
   * seal and user.
   */
  async function sealedFirm() {
    const seals = await app();
    const f = await firm();
    const one = {
      a: [
        await auditRow(f.firmId, f.a, 1, 3),
        await auditRow(f.firmId, f.a, 2, 3),
      ],
      b: [
        await auditRow(f.firmId, f.b, 3, 3),
        await auditRow(f.firmId, f.b, 4, 3),
      ],
      none: [await auditRow(f.firmId, null, 5, 3)],
    };
    one.a.push(await auditRow(f.firmId, f.a, 6, 3));
    await seals.seal({ firmId: f.firmId, log: 'audit_log' });
    const two = {
      a: [await auditRow(f.firmId, f.a, 1)],
      b: [await auditRow(f.firmId, f.b, 2)],
    };
    await seals.seal({ firmId: f.firmId, log: 'audit_log' });
    expect(await seals.verify({ firmId: f.firmId })).toMatchObject({
      ok: true,
      sealsChecked: 2,
      rowsChecked: 8,
      erasures: [],
    });
    return { seals, ...f, one, two };
  }

  it('new seals record encoding 2 and their reference groups: one per user, NULL included', async () => {
    const { firmId, a, b } = await sealedFirm();
    const seals = await q<{ seq: number; encoding: number; groups: unknown }>(
      `SELECT seq, encoding,
              (SELECT json_agg(json_build_object('ref', x.ref, 'rows', x.n) ORDER BY x.ref NULLS FIRST)
                 FROM unnest(ref_ids, ref_rows) AS x(ref, n)) AS groups
         FROM log_seal WHERE log = 'audit_log' AND firm_id = $1 ORDER BY seq`,
      [firmId],
    );
    const byRef = (refs: [string | null, number][]) =>
      refs
        .sort(([x], [y]) => ((x ?? '') < (y ?? '') ? -1 : 1))
        .map(([ref, rows]) => ({ ref, rows }));
    expect(seals).toEqual([
      {
        seq: 1,
        encoding: 2,
        groups: byRef([
          [null, 1],
          [a, 3],
          [b, 2],
        ]),
      },
      {
        seq: 2,
        encoding: 2,
        groups: byRef([
          [a, 1],
          [b, 1],
        ]),
      },
    ]);
  });

  it('deleting a user whose sealed rows it made verifies ok, each seal reporting its erasure; the plain-Node verifier and the CLI agree', async () => {
    const { seals, firmId, a, one, two } = await sealedFirm();
    await q('DELETE FROM users WHERE id = $1', [a]);
    const nulled = await q<{ id: string }>(
      `SELECT id FROM audit_log WHERE firm_id = $1 AND user_id IS NULL ORDER BY id`,
      [firmId],
    );
    expect(nulled.map((r) => r.id)).toEqual(
      [...one.a, ...one.none, ...two.a].sort(),
    );
    const verdict = await seals.verify({ firmId });
    expect(verdict).toMatchObject({
      ok: true,
      sealsChecked: 2,
      rowsChecked: 8,
    });
    expect(verdict.problem).toBeUndefined();
    expect(verdict.erasures).toEqual([
      expect.objectContaining({
        seq: 1,
        kind: 'reference-erased',
        column: 'user_id',
        rows: 3,
        references: 1,
      }),
      expect.objectContaining({ seq: 2, rows: 1, references: 1 }),
    ]);
    expect(verdict.erasures[0].message).not.toContain(a);
    const [all] = (await seals.verifyAll()).filter((v) => v.firmId === firmId);
    expect(all).toEqual(verdict);

    // the chain goes on: rows written after the erasure seal and verify
    await auditRow(firmId, null, 1);
    const [third] = await seals.seal({ firmId, log: 'audit_log' });
    expect(third).toMatchObject({ seq: 3, rowCount: 1 });
    expect(await seals.verify({ firmId })).toMatchObject({
      ok: true,
      sealsChecked: 3,
      erasures: [{ seq: 1 }, { seq: 2 }],
    });

    const plain = await plainVerifier(firmId);
    expect(plain.code).toBe(0);
    expect(plain.output).toContain(
      'seal 1: ok, 6 rows, digest ' +
        (await seals.list({ firmId }))[0].digest +
        '; reference-erased: 3 row(s) have user_id NULL since 1 users row(s) were deleted',
    );
    expect(plain.output).toContain('seal 2: ok, 2 rows');
    expect(plain.output).toContain(
      'VERIFIED: 3 seal(s) match their rows (2 with references erased',
    );

    const cli = await auditVerify(
      suite.url,
      '--firm',
      firmId,
      '--log',
      'audit_log',
    );
    expect(cli.output).toContain(
      `VERIFIED  audit_log of firm ${firmId}: 3 seal(s), 9 row(s)`,
    );
    expect(cli.output).toContain(
      `ERASED    audit_log of firm ${firmId}: seal 1, reference-erased: 3 row(s) sealed by seal 1 have user_id NULL`,
    );
    expect(cli.output).not.toContain('TAMPERED');
    expect(cli.code).toBe(0);
  });

  it('deleting a project whose sealed LLM calls it had verifies ok as reference-erased', async () => {
    const seals = await app();
    const { firmId, p } = await firm();
    const [{ id: other }] = await q<{ id: string }>(
      `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'other') RETURNING id`,
      [firmId],
    );
    await q(
      `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens, output_tokens,
                                  cost_usd, latency_ms, created_at)
       SELECT $1, CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN $2::uuid ELSE $3::uuid END,
              'gemini-3-flash', 'extraction', i, 10, 0.000124 * i, 80,
              now() - interval '1 day' + i * interval '1 ms'
         FROM generate_series(1, 12) AS i`,
      [firmId, p, other],
    );
    await seals.seal({ firmId, log: 'llm_usage_log' });
    await q('DELETE FROM cma_projects WHERE id = $1', [p]);
    const [{ n }] = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM llm_usage_log WHERE firm_id = $1 AND cma_project_id IS NULL`,
      [firmId],
    );
    expect(n).toBe(8);
    const verdict = await seals.verify({ firmId, log: 'llm_usage_log' });
    expect(verdict).toMatchObject({
      ok: true,
      rowsChecked: 12,
      erasures: [
        {
          seq: 1,
          kind: 'reference-erased',
          column: 'cma_project_id',
          rows: 4,
          references: 1,
        },
      ],
    });
    const plain = await plainVerifier(firmId, 'llm_usage_log');
    expect(plain.code).toBe(0);
    expect(plain.output).toContain(
      'reference-erased: 4 row(s) have cma_project_id NULL since 1 cma_projects row(s) were deleted',
    );
    // any other change of the column is still tampering
    await asOwner(
      'llm_usage_log',
      `UPDATE llm_usage_log SET cma_project_id = NULL WHERE firm_id = $1 AND cma_project_id = $2`,
      [firmId, other],
    );
    expect(await seals.verify({ firmId, log: 'llm_usage_log' })).toMatchObject({
      ok: false,
      problem: { seq: 1, kind: 'row-edited' },
    });
  });

  it('through an application role with the usual CRUD grants: it cannot null a reference itself; its deletion of a user is an erasure, verified as that role', async () => {
    const { firmId, a, one } = await sealedFirm();
    const role = await createAppRole(suite.url, 'crud');
    try {
      const app = await role.connect();
      for (const [sql, parameters] of [
        [`UPDATE audit_log SET user_id = NULL WHERE id = $1`, [one.b[0]]],
        [`UPDATE audit_log SET user_id = $2 WHERE id = $1`, [one.none[0], a]],
      ] as const) {
        await expect(app.query(sql, [...parameters])).rejects.toMatchObject({
          code: '42501',
        });
      }
      // the foreign key's ON DELETE SET NULL runs for the app role's delete
      await app.query('DELETE FROM users WHERE id = $1', [a]);
      const [{ n }] = await q<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_log WHERE firm_id = $1 AND user_id IS NULL`,
        [firmId],
      );
      expect(n).toBe(5);
      const seals = suite
        .own(await loggingApp(role.url, { seals: { settleMs: 0 } }))
        .moduleRef.get(AuditSealService);
      expect(await seals.verify({ firmId })).toMatchObject({
        ok: true,
        erasures: [
          { seq: 1, rows: 3, references: 1 },
          { seq: 2, rows: 1, references: 1 },
        ],
      });
      const plain = await run(
        process.execPath,
        ['docs/verify-audit-seals.mjs', '--firm', firmId],
        childEnv({ DATABASE_URL: role.url }),
      );
      expect(plain.output).toContain(
        'VERIFIED: 2 seal(s) match their rows (2 with references erased',
      );
      expect(plain.code).toBe(0);
    } finally {
      await role.drop();
    }
  });

  describe('any other change of the reference, by the owner with the triggers off, is row-edited', () => {
    /** Applies `edit` to a sealed firm; verify and the plain-Node verifier must both call it tampering. */
    async function tampered(
      edit: (f: Awaited<ReturnType<typeof sealedFirm>>) => Promise<unknown>,
      seq = 1,
    ) {
      const f = await sealedFirm();
      await edit(f);
      const verdict = await f.seals.verify({ firmId: f.firmId });
      expect(verdict).toMatchObject({
        ok: false,
        problem: { seq, kind: 'row-edited' },
        erasures: [],
      });
      const plain = await plainVerifier(f.firmId);
      expect(plain.code).toBe(1);
      expect(plain.output).toContain(`seal ${seq}: FAIL`);
      return verdict.problem!.message;
    }
    const setUser = (ids: string[], user: string | null) =>
      asOwner(
        'audit_log',
        `UPDATE audit_log SET user_id = $2 WHERE id = ANY ($1)`,
        [ids, user],
      );

    it('user_id set to NULL while the user still exists', async () => {
      const message = await tampered(({ one }) => setUser([one.a[1]], null));
      expect(message).toMatch(
        /^the user_id of rows sealed by seal 1 was changed: the rows whose user_id is [0-9a-f-]{36} are not the rows sealed with it$/,
      );
    });

    it('every row of a user set to NULL while the user still exists', async () => {
      const message = await tampered(({ two }) => setUser(two.b, null), 2);
      expect(message).toContain(
        'no longer have it, yet users still holds that row',
      );
    });

    it('user_id changed to another existing user', async () => {
      const message = await tampered(({ one, b }) => setUser([one.a[0]], b));
      expect(message).toMatch(
        /the rows whose user_id is [0-9a-f-]{36} are not the rows sealed with it/,
      );
    });

    it("two rows' users swapped", async () => {
      await tampered(async ({ one, a, b }) => {
        await setUser([one.a[0]], b);
        await setUser([one.b[0]], a);
      });
    });

    it('a NULL user_id set to a user', async () => {
      await tampered(({ one, a }) => setUser(one.none, a));
    });

    it('a user deleted, and in the same seal another row moved to NULL: tampering, not erasure', async () => {
      await tampered(async ({ one, a }) => {
        await q('DELETE FROM users WHERE id = $1', [a]);
        await setUser([one.b[0]], null);
      });
    });

    it('a user deleted, then its erased rows given to another user', async () => {
      await tampered(async ({ one, a, b }) => {
        await q('DELETE FROM users WHERE id = $1', [a]);
        await setUser(one.a, b);
      });
    });

    it('another column edited: row-edited', async () => {
      const message = await tampered(({ one }) =>
        asOwner(
          'audit_log',
          `UPDATE audit_log SET ip_address = '10.9.9.9' WHERE id = $1`,
          [one.b[1]],
        ),
      );
      expect(message).toBe('a row sealed by seal 1 was changed');
    });

    it("the seal's stored groups edited to match a nulled row: the digest no longer matches", async () => {
      const message = await tampered(async ({ firmId, one, a }) => {
        await setUser([one.a[0]], null);
        // move one row from a's group to the NULL group, as the sealer would have recorded it
        await asOwner(
          'log_seal',
          `UPDATE log_seal SET ref_rows = (SELECT array_agg(CASE WHEN x.ref IS NULL THEN x.n + 1
                                                                WHEN x.ref = $2 THEN x.n - 1 ELSE x.n END
                                                           ORDER BY x.i)
                                             FROM unnest(ref_ids, ref_rows) WITH ORDINALITY AS x(ref, n, i))
            WHERE log = 'audit_log' AND firm_id = $1 AND seq = 1`,
          [firmId, a],
        );
      });
      expect(message).toContain(
        'or the reference groups stored with the seal were',
      );
    });
  });
});

/**
 * Seals made before encoding 2 keep encoding 1 and verify as they always did. The digests below
 * are those the sealer made of these rows before reference groups existed (encoding 1), recorded
 * once; the rows and seals are written with the migration reverted, then it runs again.
 */
describe('seals: encoding 1, made before the reference groups', () => {
  const suite = databaseSuite();
  const q = <T extends object = Record<string, unknown>>(
    sql: string,
    parameters: unknown[] = [],
  ) => suite.reader.query<T>(sql, parameters).then((r) => r.rows);
  const F = '0190c8a2-0000-7000-8000-0000000000f1';
  const U1 = '0190c8a2-0000-7000-8000-0000000000a1';
  const U2 = '0190c8a2-0000-7000-8000-0000000000a2';
  const P1 = '0190c8a2-0000-7000-8000-0000000000b1';
  const id = (n: number) =>
    `0190c8a2-0001-7000-8000-${String(n).padStart(12, '0')}`;
  const ZERO = '0'.repeat(64);
  const AUDIT_1 =
    '6a5739c53c96a8dda5c8465c754d6cfb20949ebabfa723bd7c3dc3c2f3a18ca4';
  const AUDIT_2 =
    '7c061c0760d55120a09a7687c958e097e3821d9844d848be4f8924b552cb930c';
  const USAGE_1 =
    'ff0483d81190f67e69fb1a3f22300985f8ff73e9031e230ce50bd49dbea68305';

  const auditRow = (n: number, user: string | null) =>
    q(
      `INSERT INTO audit_log (id, firm_id, user_id, action, entity_type, entity_id, metadata, ip_address, created_at)
       VALUES ($1, $2, $3, 'upload_file', 'uploaded_file', $4, $5, $6,
               '2026-01-10T08:00:00.000123Z'::timestamptz + $7 * interval '1 second')`,
      [
        id(n),
        F,
        user,
        n % 2 ? id(100 + n) : null,
        { pages: n, é: 'ü', nested: { b: 1, a: 'x' } },
        n % 2 ? `10.0.0.${n}` : null,
        n,
      ],
    );
  const usageRow = (n: number, project: string | null) =>
    q(
      `INSERT INTO llm_usage_log (id, firm_id, cma_project_id, model, task_type, input_tokens,
                                  output_tokens, cost_usd, latency_ms, success, error_message, created_at)
       VALUES ($1, $2, $3, 'gemini-3-flash', 'extraction', $4::int, 10, 0.000124 * $4::int, 80, $5, $6,
               '2026-01-10T09:00:00.5Z'::timestamptz + $4::int * interval '1 second')`,
      [id(200 + n), F, project, n, n !== 2, n === 2 ? 'timeout' : null],
    );
  /** A seal row as the encoding-1 sealer wrote it (the sealers' lock held, as a sealer does). */
  const sealRow = (
    log: SealableLog,
    seq: number,
    from: [string, string] | null,
    to: [string, string],
    rows: number,
    prev: string,
    digest: string,
  ) =>
    q(
      `INSERT INTO log_seal (log, firm_id, seq, from_created_at, from_id, to_created_at, to_id,
                             range_count, row_count, prev_digest, digest)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::int, $8::int, decode($9, 'hex'), decode($10, 'hex'))`,
      [
        log,
        F,
        seq,
        from?.[0] ?? null,
        from?.[1] ?? null,
        ...to,
        rows,
        prev,
        digest,
      ],
    );

  it('still verify after the migration; erasure under them reads as row-edited, as before; the chain goes on in encoding 2', async () => {
    const dataSource = await dataSourceFor(suite.url).initialize();
    const runner = dataSource.createQueryRunner();
    try {
      await new SealReferenceGroups1795305900000().down(runner);
      const columns = await q<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'log_seal'`,
      );
      expect(columns.map((c) => c.column_name)).not.toContain('encoding');
      await q(`INSERT INTO firms (id, name) VALUES ($1, 'encoding 1')`, [F]);
      await q(
        `INSERT INTO users (id, firm_id, email) VALUES ($1, $3, 'u1@example.test'), ($2, $3, 'u2@example.test')`,
        [U1, U2, F],
      );
      await q(
        `INSERT INTO cma_projects (id, firm_id, name) VALUES ($1, $2, 'p1')`,
        [P1, F],
      );
      for (const [n, user] of [
        [1, U1],
        [2, null],
        [3, U2],
        [4, U1],
        [5, U2],
      ] as const) {
        await auditRow(n, user);
      }
      for (const [n, project] of [
        [1, P1],
        [2, null],
        [3, P1],
      ] as const) {
        await usageRow(n, project);
      }
      await q(`SELECT pg_advisory_lock(hashtext('logging.log_seal'))`);
      const at = (s: string) => `2026-01-10T${s}Z`;
      await sealRow(
        'audit_log',
        1,
        null,
        [at('08:00:03.000123'), id(3)],
        3,
        ZERO,
        AUDIT_1,
      );
      await sealRow(
        'audit_log',
        2,
        [at('08:00:03.000123'), id(3)],
        [at('08:00:05.000123'), id(5)],
        2,
        AUDIT_1,
        AUDIT_2,
      );
      await sealRow(
        'llm_usage_log',
        1,
        null,
        [at('09:00:03.5'), id(203)],
        3,
        ZERO,
        USAGE_1,
      );
      await q(`SELECT pg_advisory_unlock(hashtext('logging.log_seal'))`);
      await new SealReferenceGroups1795305900000().up(runner);
    } finally {
      await runner.release();
      await dataSource.destroy();
    }

    const seals = suite
      .own(await loggingApp(suite.url, { seals: { settleMs: 0 } }))
      .moduleRef.get(AuditSealService);
    expect(
      await q(
        `SELECT log, seq, encoding FROM log_seal WHERE firm_id = $1 ORDER BY log, seq`,
        [F],
      ),
    ).toEqual([
      { log: 'audit_log', seq: 1, encoding: 1 },
      { log: 'audit_log', seq: 2, encoding: 1 },
      { log: 'llm_usage_log', seq: 1, encoding: 1 },
    ]);
    expect(await seals.verify({ firmId: F })).toMatchObject({
      ok: true,
      sealsChecked: 2,
      rowsChecked: 5,
      erasures: [],
    });
    expect(
      await seals.verify({ firmId: F, log: 'llm_usage_log' }),
    ).toMatchObject({ ok: true, rowsChecked: 3 });

    // the next seal, of encoding 2, follows the last seal of encoding 1
    await q(
      `INSERT INTO audit_log (id, firm_id, user_id, action, entity_type, created_at)
       VALUES ($1, $2, $3, 'download_cma', 'generated_file', '2026-01-10T08:00:06.000123Z')`,
      [id(6), F, U2],
    );
    const [third] = await seals.seal({ firmId: F, log: 'audit_log' });
    expect(third).toMatchObject({ seq: 3, rowCount: 1, prevDigest: AUDIT_2 });
    expect(
      await q(
        `SELECT encoding FROM log_seal WHERE firm_id = $1 AND log = 'audit_log' AND seq = 3`,
        [F],
      ),
    ).toEqual([{ encoding: 2 }]);
    expect(await seals.verify({ firmId: F })).toMatchObject({
      ok: true,
      sealsChecked: 3,
    });
    const env = childEnv({ DATABASE_URL: suite.url });
    const plain = (log: SealableLog) =>
      run(
        process.execPath,
        ['docs/verify-audit-seals.mjs', '--firm', F, '--log', log],
        env,
      );
    const clean = await plain('audit_log');
    expect(clean.code).toBe(0);
    expect(clean.output).toContain(`seal 1: ok, 3 rows, digest ${AUDIT_1}`);
    expect(clean.output).toContain(`seal 2: ok, 2 rows, digest ${AUDIT_2}`);
    expect(clean.output).toContain(
      `seal 3: ok, 1 rows, digest ${third.digest}`,
    );
    expect((await plain('llm_usage_log')).output).toContain(
      `seal 1: ok, 3 rows, digest ${USAGE_1}`,
    );

    // a user deleted: the seals of encoding 1 cannot tell it from an edit
    await q('DELETE FROM users WHERE id = $1', [U2]);
    const verdict = await seals.verify({ firmId: F });
    expect(verdict).toMatchObject({
      ok: false,
      problem: { seq: 1, kind: 'row-edited' },
    });
    expect(verdict.problem!.message).toContain('seal 1 has encoding 1');
    expect((await plain('audit_log')).code).toBe(1);
    await q('DELETE FROM cma_projects WHERE id = $1', [P1]);
    expect(
      await seals.verify({ firmId: F, log: 'llm_usage_log' }),
    ).toMatchObject({ ok: false, problem: { seq: 1, kind: 'row-edited' } });
  });
});
