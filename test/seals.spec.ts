import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import {
  AuditSealService,
  type Seal,
  type SealOptions,
} from '../src/logging/index.js';
import { loggingApp } from './support/logging-app.js';
import { refusal } from './support/sql.js';
import { databaseSuite } from './support/suite.js';

/**
 * Seals: each firm's rows hash-chained in `(created_at, id)` order, published through `onSeal`, and
 * `verify` naming the first seal whose rows or neighbours changed, even when the database owner
 * turned the append-only triggers off to change them.
 */

describe('seals over the logs', () => {
  const suite = databaseSuite();
  const DAY = 86_400_000;

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
    await auditRows(a, 5, 1);
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
    /** A firm with three seals of 10 rows each, days 3, 2 and 1 ago. */
    async function sealedFirm() {
      const started = await app();
      const firmId = await firm();
      for (const daysAgo of [3, 2, 1]) {
        await auditRows(firmId, 10, daysAgo);
        await started.seals.seal({ firmId, log: 'audit_log' });
      }
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
      // the same rows sealed again give the same digest: the published one verifies again
      const [again] = await seals.seal({ firmId });
      expect(again).toMatchObject({ seq: 3, digest: latest.digest });
      expect(await seals.verify({ firmId, anchors })).toMatchObject({ ok: true });
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
});
