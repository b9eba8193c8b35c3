import { createHash, randomUUID } from 'node:crypto';
import {
  cp,
  mkdtemp,
  readFile,
  readdir,
  rm,
  writeFile,
} from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { Client } from 'pg';
import { join } from 'node:path';
import {
  AuditArchiveError,
  AuditArchiveService,
  AuditSealQueryError,
  AuditSealService,
  verifyArchive,
  type ArchiveManifest,
  type ArchiveVerification,
  type SealOptions,
} from '../src/logging/seals/index.js';
import {
  LogPartitionService,
  partitionLogs,
} from '../src/logging/partitions/index.js';
import { dataSourceFor } from './support/database.js';
import { loggingApp } from './support/logging-app.js';
import { childEnv, run } from './support/processes.js';
import { databaseSuite } from './support/suite.js';

/**
 * Sealed archives (docs/archives.md): a closed, sealed month of a log exported to files (its rows
 * in the canonical encoding's order, its seals, a manifest with digests), refused when it is not
 * closed or not fully sealed, and verified offline by the module and by the plain-Node script in
 * docs/, which recompute the database's digests and name the kind of any edit of the files.
 */

const VERIFIER = 'docs/verify-audit-seals.mjs';

/** The UTC month `ago` months before the current one: `YYYY-MM` and its first instant. */
function monthAgo(ago: number): { month: string; start: Date } {
  const now = new Date();
  const start = new Date(
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - ago, 1),
  );
  return { month: start.toISOString().slice(0, 7), start };
}

describe('sealed archives of closed months', () => {
  const suite = databaseSuite();
  /** The database of the block running: the late arrivals' own, or the suite's. */
  let active: ReturnType<typeof databaseSuite> | undefined;
  const db = () => active ?? suite;
  const dirs: string[] = [];

  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  // A run covers every firm's time up to its cutoff, and these fixtures date rows months back:
  // each test starts from logs no run has covered yet (the owner may delete runs).
  beforeEach(async () => {
    await suite.reader.query('DELETE FROM log_seal_run');
  });

  async function scratch(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'logging-archive-'));
    dirs.push(dir);
    return dir;
  }

  async function app(seals: SealOptions = {}) {
    const started = db().own(
      await loggingApp(db().url, { seals: { settleMs: 0, ...seals } }),
    );
    return {
      seals: started.moduleRef.get(AuditSealService),
      archives: started.moduleRef.get(AuditArchiveService),
    };
  }

  async function firm(): Promise<string> {
    const { rows } = await db().reader.query<{ id: string }>(
      `INSERT INTO firms (name) VALUES ($1) RETURNING id`,
      [`archive-${randomUUID()}`],
    );
    return rows[0].id;
  }

  async function user(firmId: string): Promise<string> {
    const { rows } = await db().reader.query<{ id: string }>(
      `INSERT INTO users (firm_id, email) VALUES ($1, $2) RETURNING id`,
      [firmId, `${randomUUID()}@example.test`],
    );
    return rows[0].id;
  }

  /**
   * `count` audit rows of `firmId` from `start` on, 7 minutes apart (so within a month), by
   * `userId` when given, with nested, escaped and non-ASCII metadata.
   */
  async function auditRows(
    firmId: string,
    start: Date,
    count: number,
    userId: string | null = null,
  ) {
    await db().reader.query(
      `INSERT INTO audit_log (firm_id, user_id, action, entity_type, entity_id, metadata, ip_address, created_at)
       SELECT $1, $4, 'upload_file', 'uploaded_file', gen_random_uuid(),
              jsonb_build_object('pages', i, 'note', E'tab\\there "q" é', 'n', jsonb_build_object('b', 1.50, 'a', null)),
              '10.0.0.' || (i % 250), $2::timestamptz + i * interval '7 minutes' + interval '0.000123 second'
         FROM generate_series(1, $3) AS i`,
      [firmId, start, count, userId],
    );
  }

  /** Lines of a JSON-lines file, parsed. */
  async function jsonLines<T>(path: string): Promise<T[]> {
    const text = await readFile(path, 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as T);
  }

  const sha256 = async (path: string) =>
    createHash('sha256')
      .update(await readFile(path))
      .digest('hex');

  /** The plain-Node verifier on an archive, its verdict as JSON. */
  async function plainVerify(dir: string, ...args: string[]) {
    const ran = await run(
      process.execPath,
      [VERIFIER, '--archive', dir, '--json', ...args],
      childEnv({ DATABASE_URL: undefined }),
    );
    return {
      code: ran.code,
      verdict: JSON.parse(ran.output) as {
        ok: boolean;
        problems: ArchiveVerification['problems'];
        lines: string[];
      },
    };
  }

  it('exports a closed, sealed month: its rows in canonical order, its seals, a manifest with digests; both offline verifiers recompute the database digests; confirm lets the month leave until a row is dated into it', async () => {
    const { seals, archives } = await app({ maxRowsPerSeal: 7 });
    const { month, start } = monthAgo(3);
    const before = monthAgo(4).start;
    const after = monthAgo(2).start;
    const [a, b] = [await firm(), await firm()];
    const u = await user(a);
    await auditRows(a, before, 3);
    await auditRows(a, start, 20, u);
    await auditRows(b, start, 9);
    await auditRows(a, after, 2);
    await seals.seal();

    const dir = join(await scratch(), 'audit-archive');
    const made = await archives.export({ month, dir });
    expect(made.verification).toMatchObject({ ok: true, problems: [] });
    expect(await readdir(dir)).toEqual(
      ['manifest.json', 'rows.jsonl', 'seals.jsonl'].sort(),
    );

    // the rows: every row of the month, in (firm_id, created_at, id) order, as canonical texts
    const { rows: expected } = await suite.reader.query<{
      id: string;
      metadata: string;
      created_at: string;
    }>(
      `SELECT id::text, metadata::text, ((extract(epoch FROM created_at) * 1000000)::bigint)::text AS created_at
         FROM audit_log WHERE firm_id = ANY ($1) AND created_at >= $2 AND created_at < $3
        ORDER BY firm_id, created_at, id`,
      [[a, b], start, after],
    );
    const rows = await jsonLines<Record<string, string | null>>(
      join(dir, 'rows.jsonl'),
    );
    expect(rows.map((r) => r.id)).toEqual(expected.map((r) => r.id));
    expect(Object.keys(rows[0])).toEqual(made.manifest.columns);
    expect(rows[0]).toMatchObject({
      metadata: expected[0].metadata,
      created_at: expected[0].created_at,
    });

    // the seals: those whose range ends in the month, as the database holds them
    const { rows: sealed } = await suite.reader.query<{
      firm_id: string;
      seq: number;
      digest: string;
    }>(
      `SELECT firm_id::text, seq, encode(digest, 'hex') AS digest FROM log_seal
        WHERE log = 'audit_log' AND firm_id = ANY ($1) AND to_created_at >= $2 AND to_created_at < $3
        ORDER BY firm_id, seq`,
      [[a, b], start, after],
    );
    expect(sealed.length).toBeGreaterThanOrEqual(5);
    const archived = await jsonLines<{
      firm_id: string;
      seq: number;
      digest: string;
    }>(join(dir, 'seals.jsonl'));
    expect(
      archived.map((s) => ({
        firm_id: s.firm_id,
        seq: s.seq,
        digest: s.digest,
      })),
    ).toEqual(sealed);

    // the manifest: counts, file digests, the chains' entry and heads
    const manifest = JSON.parse(
      await readFile(join(dir, 'manifest.json'), 'utf8'),
    ) as ArchiveManifest;
    expect(manifest).toEqual(made.manifest);
    expect(manifest).toMatchObject({
      format: 'cma-logging-archive',
      log: 'audit_log',
      month,
      module: { name: '@cma/logging' },
      rows: { total: 29, datedBefore: 0, inLaterSeals: 0 },
      seals: sealed.length,
      erasures: [],
    });
    expect(manifest.files['rows.jsonl'].sha256).toBe(
      await sha256(join(dir, 'rows.jsonl')),
    );
    expect(manifest.files['seals.jsonl'].sha256).toBe(
      await sha256(join(dir, 'seals.jsonl')),
    );
    const chainA = manifest.firms.find((c) => c.firmId === a)!;
    const listed = await seals.list({ firmId: a });
    expect(chainA).toMatchObject({
      firstSeq: 2,
      prevDigest: listed[0].digest,
      rows: 20,
      digest: listed.find((s) => s.seq === chainA.lastSeq)!.digest,
    });
    expect(manifest.firms.find((c) => c.firmId === b)).toMatchObject({
      firstSeq: 1,
      prevDigest: '0'.repeat(64),
      fromCreatedAt: null,
      rows: 9,
    });

    // offline: the module's verifier and the plain-Node script, no database
    expect(await archives.verify({ dir })).toMatchObject({
      ok: true,
      rowsChecked: 29,
      sealsChecked: sealed.length,
      manifestDigest: manifest.manifestDigest,
    });
    const plain = await plainVerify(dir);
    expect(plain.code).toBe(0);
    expect(plain.verdict.ok).toBe(true);
    for (const seal of sealed) {
      expect(plain.verdict.lines).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^seal ${seal.seq} of firm ${seal.firm_id}: ok, \\d+ rows, digest ${seal.digest}$`,
          ),
        ),
      );
    }

    // retention's meeting point: the month may leave, until a row is dated into it
    expect(await archives.confirm({ dir })).toMatchObject({
      droppable: true,
      heldByLaterSeals: 0,
    });
    await auditRows(b, start, 1);
    const changed = await archives.confirm({ dir });
    expect(changed.droppable).toBe(false);
    expect(changed.refusal).toBe('rows-changed');
    expect(changed.reason).toMatch(
      /holds 30 row\(s\) of audit_log dated in .*, the archive 29 and later seals 0: rows were added or removed/,
    );
  });

  it('the re-import recipe of docs/archives.md loads the archive into a side table equal to the rows it came from', async () => {
    const { month, start } = monthAgo(14);
    const f = await firm();
    await auditRows(f, start, 5, await user(f));
    await suite.reader.query(
      `INSERT INTO audit_log (firm_id, action, entity_type, metadata, created_at)
       VALUES ($1, 'resolve_review', 'review_item', $2, $3)`,
      [
        f,
        '{"zz": [1.50, {"b": null, "a": "line\\nbreak \\"q\\" \\\\ ü"}], "é": 0, "bb": -2e3}',
        new Date(start.getTime() + DAY),
      ],
    );
    const { seals, archives } = await app();
    await seals.seal({ log: 'audit_log' });
    const dir = join(await scratch(), 'archive');
    await archives.export({ month, dir });

    const doc = await readFile('docs/archives.md', 'utf8');
    const block = /```sql\n(-- re-import[\s\S]*?)```/.exec(doc)![1];
    const client = new Client({ connectionString: suite.url });
    await client.connect();
    try {
      // psql's statements: each ends with ';', and a \copy takes its own line
      const statements: string[] = [];
      let pending = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('--') || !line.trim()) continue;
        if (line.startsWith('\\copy')) {
          statements.push(line);
          continue;
        }
        pending += `${line}\n`;
        if (line.trimEnd().endsWith(';')) {
          statements.push(pending);
          pending = '';
        }
      }
      for (const statement of statements) {
        const copy = /^\\copy (.*) FROM '([^']+)' (WITH .*)$/.exec(statement);
        if (!copy) {
          await client.query(statement);
          continue;
        }
        await pipeline(
          createReadStream(join(dir, copy[2].replace(/^archive\//, ''))),
          client.query(copyFrom(`COPY ${copy[1]} FROM STDIN ${copy[3]}`)),
        );
      }
      const { rows } = await client.query<{ missing: number; extra: number }>(
        `SELECT (SELECT count(*)::int FROM (
                   SELECT * FROM audit_log WHERE firm_id = $1 AND created_at >= $2 AND created_at < $3
                   EXCEPT SELECT * FROM audit_log_archive) x) AS missing,
                (SELECT count(*)::int FROM audit_log_archive) - 6 AS extra`,
        [f, start, monthAgo(13).start],
      );
      expect(rows).toEqual([{ missing: 0, extra: 0 }]);
    } finally {
      await client.query('DROP TABLE IF EXISTS audit_log_archive');
      await client.end();
    }
  });

  describe('an archive edited after the export: both offline verifiers name the kind and the file', () => {
    let base: string;
    let firmA: string;

    beforeAll(async () => {
      await suite.reader.query('DELETE FROM log_seal_run');
      const started = await loggingApp(suite.url, {
        seals: { settleMs: 0, maxRowsPerSeal: 5 },
      });
      try {
        const { month, start } = monthAgo(9);
        firmA = await firm();
        await auditRows(firmA, start, 12);
        await auditRows(await firm(), start, 4);
        await started.moduleRef.get(AuditSealService).seal();
        base = join(await scratch(), 'base');
        await started.moduleRef
          .get(AuditArchiveService)
          .export({ month, dir: base });
      } finally {
        await started.close();
      }
    });

    /** Replaces the byte at offset `at(text)` of the file at `path` by `to`. */
    async function flip(
      path: string,
      at: (text: string) => number,
      to: (from: string) => string,
    ) {
      const bytes = await readFile(path);
      const i = at(bytes.toString('latin1'));
      expect(i).toBeGreaterThanOrEqual(0);
      const replaced = to(String.fromCharCode(bytes[i])).charCodeAt(0);
      expect(replaced).not.toBe(bytes[i]);
      bytes[i] = replaced;
      await writeFile(path, bytes);
    }
    /** Where line `n` (from 0) of firm A's lines starts. */
    const lineOfA = (text: string, n: number) => {
      const lines = text.split('\n');
      const first = lines.findIndex((l) => l.includes(`"firm_id":"${firmA}"`));
      return lines.slice(0, first + n).reduce((at, l) => at + l.length + 1, 0);
    };
    /** `edit` applied to the lines of a file, `n` counted from firm A's first. */
    async function editLines(
      path: string,
      edit: (lines: string[], firstOfA: number) => void,
    ) {
      const lines = (await readFile(path, 'utf8')).split('\n');
      edit(
        lines,
        lines.findIndex((l) => l.includes(`"firm_id":"${firmA}"`)),
      );
      await writeFile(path, lines.join('\n'));
    }
    const otherHex = (c: string) => (c === '0' ? '1' : '0');

    const cases: [
      string,
      (dir: string) => Promise<void>,
      { kind: string; file: string; seq?: number },
    ][] = [
      [
        'a byte of a row flipped (its action)',
        (dir) =>
          flip(
            join(dir, 'rows.jsonl'),
            (t) => t.indexOf('upload_file', lineOfA(t, 2)) + 10,
            () => 'd',
          ),
        { kind: 'row-edited', file: 'rows.jsonl', seq: 1 },
      ],
      [
        'a row deleted',
        (dir) =>
          editLines(join(dir, 'rows.jsonl'), (lines, a) =>
            lines.splice(a + 7, 1),
          ),
        { kind: 'row-missing', file: 'rows.jsonl', seq: 2 },
      ],
      [
        'two rows of a seal swapped',
        (dir) =>
          editLines(join(dir, 'rows.jsonl'), (lines, a) => {
            [lines[a + 1], lines[a + 2]] = [lines[a + 2], lines[a + 1]];
          }),
        { kind: 'row-edited', file: 'rows.jsonl', seq: 1 },
      ],
      [
        'a byte of a seal digest flipped',
        (dir) =>
          flip(
            join(dir, 'seals.jsonl'),
            (t) => t.indexOf('"digest":"', lineOfA(t, 0)) + 12,
            otherHex,
          ),
        { kind: 'seal-edited', file: 'seals.jsonl', seq: 1 },
      ],
      [
        "a byte of a seal's range end flipped",
        (dir) =>
          flip(
            join(dir, 'seals.jsonl'),
            (t) => t.indexOf('"to_created_at":"', lineOfA(t, 0)) + 20,
            (c) => (c === '9' ? '8' : '9'),
          ),
        { kind: 'seal-edited', file: 'seals.jsonl', seq: 1 },
      ],
      [
        'a seal removed',
        (dir) =>
          editLines(join(dir, 'seals.jsonl'), (lines, a) =>
            lines.splice(a + 1, 1),
          ),
        { kind: 'seal-removed', file: 'seals.jsonl', seq: 2 },
      ],
      [
        'a byte of the manifest flipped (its export date)',
        (dir) =>
          flip(
            join(dir, 'manifest.json'),
            (t) => t.indexOf('"exportedAt": "') + 17,
            (c) => (c === '9' ? '8' : '9'),
          ),
        { kind: 'seal-edited', file: 'manifest.json' },
      ],
      [
        "a byte of a chain's head in the manifest flipped",
        (dir) =>
          flip(
            join(dir, 'manifest.json'),
            (t) => t.indexOf('"digest": "') + 13,
            otherHex,
          ),
        { kind: 'seal-edited', file: 'manifest.json' },
      ],
    ];

    it.each(cases)('%s', async (_, edit, expected) => {
      const dir = join(await scratch(), 'edited');
      await cp(base, dir, { recursive: true });
      await edit(dir);
      const firmId = expected.seq === undefined ? undefined : firmA;
      const ours = await verifyArchive({ dir });
      expect(ours).toMatchObject({ ok: false });
      expect(ours.problem).toMatchObject({
        kind: expected.kind,
        file: expected.file,
        ...(expected.seq === undefined ? {} : { seq: expected.seq, firmId }),
      });
      const plain = await plainVerify(dir);
      expect(plain.code).toBe(1);
      expect(plain.verdict.problems[0]).toMatchObject({
        kind: ours.problem!.kind,
        file: ours.problem!.file,
        ...(ours.problem!.seq === undefined ? {} : { seq: ours.problem!.seq }),
        ...(ours.problem!.firmId ? { firmId: ours.problem!.firmId } : {}),
      });
    });

    it('an untouched copy verifies in both, and a published head or manifest digest that differs is seal-edited', async () => {
      const manifest = JSON.parse(
        await readFile(join(base, 'manifest.json'), 'utf8'),
      ) as ArchiveManifest;
      expect(await verifyArchive({ dir: base })).toMatchObject({ ok: true });
      expect((await plainVerify(base)).verdict.ok).toBe(true);
      const head = manifest.firms.find((c) => c.firmId === firmA)!;
      const wrong = {
        firmId: firmA,
        seq: head.lastSeq,
        digest: 'ab'.repeat(32),
      };
      expect(
        (await verifyArchive({ dir: base, anchors: [wrong] })).problem,
      ).toMatchObject({ kind: 'seal-edited', seq: head.lastSeq });
      const anchors = join(await scratch(), 'anchors.jsonl');
      await writeFile(anchors, `${JSON.stringify(wrong)}\n`);
      expect(
        (await plainVerify(base, '--anchors', anchors)).verdict.problems[0],
      ).toMatchObject({ kind: 'seal-edited', seq: head.lastSeq });
      expect(
        (await verifyArchive({ dir: base, manifestDigest: 'cd'.repeat(32) }))
          .problem,
      ).toMatchObject({ kind: 'seal-edited', file: 'manifest.json' });
      expect(
        (
          await verifyArchive({
            dir: base,
            manifestDigest: manifest.manifestDigest,
          })
        ).ok,
      ).toBe(true);
    });
  });

  /** The error `promise` rejects with. */
  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error('resolved where a refusal was expected');
      },
      (error: unknown) => error as Error,
    );

  /** Runs `sql` as the database owner with the user triggers of audit_log off, then on again. */
  async function asOwner(sql: string, parameters: unknown[] = []) {
    await suite.reader.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
    try {
      await suite.reader.query(sql, parameters);
    } finally {
      await suite.reader.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    }
  }

  const DAY = 86_400_000;

  it('refuses a month that is not closed, naming why, and creates nothing', async () => {
    const { month, start } = monthAgo(10);
    const f = await firm();
    await auditRows(f, start, 3);
    await auditRows(f, new Date(start.getTime() + 20 * DAY), 3);
    const { seals, archives } = await app();
    const dir = join(await scratch(), 'not-closed');
    const refused = async (pattern: RegExp, m = month) => {
      const error = await rejection(archives.export({ month: m, dir }));
      expect(error).toBeInstanceOf(AuditArchiveError);
      expect(error).toMatchObject({ reason: 'not-closed' });
      expect(error.message).toMatch(pattern);
      await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    };
    await refused(/has not ended/, monthAgo(0).month);
    await refused(/no sealing run over every firm has covered it/);
    // a run whose cutoff is inside the month
    const settleMs = Date.now() - (start.getTime() + 10 * DAY);
    await (await app({ settleMs })).seals.seal({ log: 'audit_log' });
    await refused(/sealed up to \d{4}-\d\d-\d\dT.* only; seal again/);
    // a run whose late window still reaches into the month
    const lateWindowMs = Date.now() - start.getTime();
    await (await app({ lateWindowMs })).seals.seal({ log: 'audit_log' });
    await refused(/can still be sealed as late arrivals .* seal again after/);
    await seals.seal({ log: 'audit_log' });
    const made = await archives.export({ month, dir });
    expect(made.manifest.rows.total).toBe(6);
  });

  it('refuses a month with rows no seal holds, or whose seals no longer match, naming the firm, the seal and the kind as verify does', async () => {
    const { month, start } = monthAgo(11);
    const f = await firm();
    await auditRows(f, start, 6);
    const { seals, archives } = await app({ maxRowsPerSeal: 3 });
    await seals.seal({ log: 'audit_log' });
    const dir = await scratch();

    // a row dated into the sealed month afterwards, for a firm without seals
    const g = await firm();
    await auditRows(g, start, 1);
    const unheld = await rejection(archives.export({ month, dir }));
    expect(unheld).toBeInstanceOf(AuditArchiveError);
    expect(unheld).toMatchObject({
      reason: 'not-sealed',
      problem: { firmId: g, kind: 'row-inserted', rows: 1 },
    });
    expect(await seals.verify({ firmId: g })).toMatchObject({
      ok: false,
      problem: { kind: 'row-inserted', rows: 1 },
    });
    expect(await readdir(dir)).toEqual([]);
    await suite.reader.query('DELETE FROM firms WHERE id = $1', [g]);

    // a sealed row edited by the owner
    await asOwner(
      `UPDATE audit_log SET ip_address = '10.9.9.9'
        WHERE id = (SELECT id FROM audit_log WHERE firm_id = $1 ORDER BY created_at OFFSET 4 LIMIT 1)`,
      [f],
    );
    const edited = await rejection(archives.export({ month, dir }));
    expect(edited).toMatchObject({
      reason: 'tampered',
      problem: { firmId: f, seq: 2, kind: 'row-edited' },
    });
    expect(edited.message).toContain(`firm ${f}, seal 2, row-edited`);
    expect(await seals.verify({ firmId: f })).toMatchObject({
      problem: { seq: 2, kind: 'row-edited' },
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it("an owner's edit of the month's last seal is seal-edited, told by the seal after it, as verify tells it", async () => {
    const { month, start } = monthAgo(16);
    const g = await firm();
    await auditRows(g, start, 3);
    await auditRows(g, monthAgo(15).start, 2);
    const { seals, archives } = await app();
    await seals.seal({ log: 'audit_log' });
    await suite.reader.query('ALTER TABLE log_seal DISABLE TRIGGER USER');
    try {
      await suite.reader.query(
        `UPDATE log_seal SET digest = decode(repeat('ab', 32), 'hex')
          WHERE log = 'audit_log' AND firm_id = $1 AND seq = 1`,
        [g],
      );
    } finally {
      await suite.reader.query('ALTER TABLE log_seal ENABLE TRIGGER USER');
    }
    expect(await seals.verify({ firmId: g })).toMatchObject({
      problem: { seq: 1, kind: 'seal-edited' },
    });
    await expect(
      archives.export({ month, dir: join(await scratch(), 'edited-seal') }),
    ).rejects.toMatchObject({
      reason: 'tampered',
      problem: { firmId: g, seq: 1, kind: 'seal-edited' },
    });
  });

  it('refuses bad arguments naming the field and the rule', async () => {
    const { archives } = await app();
    const dir = await scratch();
    await expect(archives.export({ month: '2026-13', dir })).rejects.toThrow(
      new AuditSealQueryError(
        'export: month must be a UTC month written YYYY-MM, got "2026-13"',
      ),
    );
    await expect(
      archives.export({
        month: '2026-01',
        dir,
        log: 'credit_transaction' as 'audit_log',
      }),
    ).rejects.toThrow(/export: log must be 'audit_log' or 'llm_usage_log'/);
    await writeFile(join(dir, 'notes.txt'), 'kept');
    await expect(archives.export({ month: '2026-01', dir })).rejects.toThrow(
      /export: dir must be missing or an empty directory; .* holds 1 entry/,
    );
    expect(await readdir(dir)).toEqual(['notes.txt']);
    await expect(
      archives.verify({ dir, anchors: [{ firmId: 'x', seq: 0, digest: '' }] }),
    ).rejects.toThrow(/verifyArchive: anchors must be a list of/);
  });

  it('a user deleted before the export: the archive verifies, the erasure recorded; a reference nulled in the archive afterwards is row-edited', async () => {
    const { month, start } = monthAgo(12);
    const f = await firm();
    const [u, v] = [await user(f), await user(f)];
    await auditRows(f, start, 4, u);
    await auditRows(f, new Date(start.getTime() + DAY), 4, v);
    const { seals, archives } = await app();
    await seals.seal({ log: 'audit_log' });
    await suite.reader.query('DELETE FROM users WHERE id = $1', [u]);
    const dir = join(await scratch(), 'erased');
    const made = await archives.export({ month, dir });
    expect(made.manifest.erasures).toEqual([
      { firmId: f, seq: 1, column: 'user_id', rows: 4, references: 1 },
    ]);
    expect(made.verification).toMatchObject({ ok: true });
    expect((await plainVerify(dir)).verdict.ok).toBe(true);

    const edited = join(await scratch(), 'nulled');
    await cp(dir, edited, { recursive: true });
    const path = join(edited, 'rows.jsonl');
    await writeFile(
      path,
      (await readFile(path, 'utf8')).replace(
        `"user_id":"${v}"`,
        '"user_id":null',
      ),
    );
    expect((await verifyArchive({ dir: edited })).problem).toMatchObject({
      kind: 'row-edited',
      file: 'rows.jsonl',
      firmId: f,
      seq: 1,
    });
    expect((await plainVerify(edited)).verdict.problems[0]).toMatchObject({
      kind: 'row-edited',
      file: 'rows.jsonl',
      seq: 1,
    });
    expect(await archives.confirm({ dir: edited })).toMatchObject({
      droppable: false,
      refusal: 'unverified',
      reason: expect.stringMatching(
        /^the archive does not verify: row-edited in rows.jsonl/,
      ) as string,
    });
  });

  it('exports a month of llm_usage_log too; once purged, the month is refused', async () => {
    const { month, start } = monthAgo(5);
    const f = await firm();
    const {
      rows: [{ id: project }],
    } = await suite.reader.query<{ id: string }>(
      `INSERT INTO cma_projects (firm_id, name) VALUES ($1, 'p') RETURNING id`,
      [f],
    );
    await suite.reader.query(
      `INSERT INTO llm_usage_log (firm_id, cma_project_id, model, task_type, input_tokens,
                                  output_tokens, cost_usd, latency_ms, success, error_message, created_at)
       SELECT $1, CASE WHEN i % 2 = 0 THEN $2::uuid END, 'gemini-3-flash', 'extraction', 100 * i, 7,
              0.000124 * i, 900, i % 3 <> 0, CASE WHEN i % 3 = 0 THEN E'429 \u00e9 "quota"' END,
              $3::timestamptz + i * interval '1 hour'
         FROM generate_series(1, 6) AS i`,
      [f, project, start],
    );
    const { seals, archives } = await app();
    await seals.seal({ log: 'llm_usage_log' });
    const dir = join(await scratch(), 'usage');
    const made = await archives.export({ month, log: 'llm_usage_log', dir });
    expect(made.manifest).toMatchObject({
      log: 'llm_usage_log',
      rows: { total: 6 },
      seals: 1,
    });
    expect(made.manifest.columns).toContain('cost_usd');
    const [row] = await jsonLines<Record<string, string | null>>(
      join(dir, 'rows.jsonl'),
    );
    expect(row).toMatchObject({ cost_usd: '0.000124', success: 'true' });
    expect((await plainVerify(dir)).verdict.ok).toBe(true);

    await seals.purge('llm_usage_log', monthAgo(4).start);
    const purged = await rejection(
      archives.export({
        month,
        log: 'llm_usage_log',
        dir: join(await scratch(), 'purged'),
      }),
    );
    expect(purged).toMatchObject({ reason: 'purged' });
    expect(purged.message).toMatch(/is a tombstone/);
    expect(await archives.confirm({ dir })).toMatchObject({
      refusal: 'purged',
      reason: expect.stringMatching(
        /llm_usage_log .* was purged already/,
      ) as string,
    });
  });

  it('npm run audit:archive exports a month, and verifies an archive offline with no database', async () => {
    const { month, start } = monthAgo(13);
    await auditRows(await firm(), start, 3);
    await (await app()).seals.seal({ log: 'audit_log' });
    const archive = (...args: string[]) =>
      run(
        'npm',
        ['run', '-s', 'audit:archive', '--', ...args],
        childEnv({ DATABASE_URL: suite.url }),
        120_000,
      );
    const dir = join(await scratch(), 'cli');
    const made = await archive('--month', month, '--out', dir);
    expect(made.output).toMatch(
      new RegExp(
        `VERIFIED  archive .*cli: audit_log ${month}, 1 seal\\(s\\) of 1 firm\\(s\\), 3 row\\(s\\); manifest [0-9a-f]{64}`,
      ),
    );
    expect(made.code).toBe(0);
    const offline = await run(
      'npm',
      ['run', '-s', 'audit:archive', '--', '--verify', dir],
      childEnv({ DATABASE_URL: undefined }),
      120_000,
    );
    expect(offline.output).toMatch(/^VERIFIED {2}archive /m);
    expect(offline.code).toBe(0);
  }, 240_000);
  describe('late arrivals, on a database of their own', () => {
    const own = databaseSuite();
    beforeAll(() => (active = own));
    afterAll(() => (active = undefined));
    /** What the first test made: the firm, both archives and the two late arrivals. */
    let late:
      | {
          firmId: string;
          month: string;
          prior: string;
          dir: string;
          priorDir: string;
          before: string;
          afterwards: string;
        }
      | undefined;

    it("late arrivals across the month's bounds: one dated in the month before travels with the seal that took it; one dated in the month sealed afterwards is left to a later archive", async () => {
      const { month, start } = monthAgo(7);
      const prior = monthAgo(8).month;
      const end = monthAgo(6).start;
      const f = await firm();
      await auditRows(f, start, 4);
      await auditRows(f, new Date(start.getTime() + 15 * DAY), 3);
      const lateWindowMs = 400 * DAY;
      const writer = new Client({ connectionString: db().url });
      await writer.connect();
      /**
       * Inserts a row of `f` dated `at` in a transaction left open until the run is made. Its id
       * is a random v4 UUID starting with `f`, beyond every month's ids, so that on the
       * partitioned layout it is in the default partition, as a row far from its date is: a
       * random id of the column's default lands in a month made ahead about once in 9,000 (some
       * eleven months, each 1 in 100,000 of the ids), and one of the test's two late rows about
       * once in 4,500 runs.
       */
      const inFlight = async (at: Date, during: () => Promise<unknown>) => {
        await writer.query('BEGIN');
        const {
          rows: [{ id }],
        } = await writer.query<{ id: string }>(
          `INSERT INTO audit_log (id, firm_id, action, entity_type, created_at)
           VALUES ($3, $1, 'download_cma', 'generated_file', $2) RETURNING id`,
          [f, at, `f${randomUUID().slice(1)}`],
        );
        await during();
        await writer.query('COMMIT');
        return id;
      };
      try {
        // runs 1 and 2 seal the month up to its tenth day; run 2 takes in a row of the month
        // before that was in flight at run 1
        const early = await app({
          settleMs: Date.now() - (start.getTime() + 10 * DAY),
          lateWindowMs,
        });
        const before = await inFlight(
          new Date(start.getTime() - 3_600_000),
          () => early.seals.seal({ log: 'audit_log' }),
        );
        await early.seals.seal({ log: 'audit_log' });
        // runs 3 and 4 seal the rest; run 4 takes in, in a seal of this month, a row dated in
        // the month's last hour that was in flight at run 3
        const wide = await app({ lateWindowMs });
        const afterwards = await inFlight(
          new Date(end.getTime() - 3_600_000),
          () => wide.seals.seal({ log: 'audit_log' }),
        );
        await wide.seals.seal({ log: 'audit_log' });
        const { seals, archives } = await app();
        await seals.seal({ log: 'audit_log' });
        expect(await seals.verify({ firmId: f })).toMatchObject({
          ok: true,
          rowsChecked: 9,
        });

        const dir = join(await scratch(), 'late');
        const made = await archives.export({ month, dir });
        expect(made.manifest.rows).toEqual({
          total: 8,
          datedBefore: 1,
          inLaterSeals: 1,
        });
        const ids = (
          await jsonLines<{ id: string }>(join(dir, 'rows.jsonl'))
        ).map((r) => r.id);
        expect(ids[0]).toBe(before);
        expect(ids).not.toContain(afterwards);
        expect((await plainVerify(dir)).verdict.ok).toBe(true);
        expect(await archives.confirm({ dir })).toMatchObject({
          droppable: false,
          refusal: 'held-by-later-seals',
          heldByLaterSeals: 1,
          reason: expect.stringMatching(
            /1 row\(s\) dated in .* are held by seals of a later month/,
          ) as string,
        });

        // the month before holds no seal: its row is counted in the later archive
        const empty = await archives.export({
          month: prior,
          dir: join(await scratch(), 'prior'),
        });
        expect(empty.manifest).toMatchObject({
          seals: 0,
          rows: { total: 0, datedBefore: 0, inLaterSeals: 1 },
        });
        expect((await plainVerify(empty.dir)).verdict.ok).toBe(true);
        late = {
          firmId: f,
          month,
          prior,
          dir,
          priorDir: empty.dir,
          before,
          afterwards,
        };
      } finally {
        await writer.end();
      }
    });

    it('partitioned, each month retires with its archive, and the row a later seal holds stays, apart, in the default partition', async () => {
      const { firmId, month, prior, dir, priorDir, before, afterwards } = late!;
      await db().reader.query(
        `UPDATE logging_retention_floor SET min_age = interval '30 days'`,
      );
      const converter = await dataSourceFor(db().url).initialize();
      try {
        await partitionLogs(converter, { copyShare: 1 });
        // a log partitioned before these rows has no months that old: made as the module makes
        // months ahead, from the month before on
        await converter.query(
          `SELECT logging_partitions_ensure('audit_log'::regclass, 0, $1::timestamptz)`,
          [new Date(`${late!.prior}-01T00:00:00.000Z`)],
        );
      } finally {
        await converter.destroy();
      }
      const started = db().own(await loggingApp(db().url));
      const partitions = started.moduleRef.get(LogPartitionService);
      const seals = started.moduleRef.get(AuditSealService);
      const at = (ym: string) => new Date(`${ym}-01T00:00:00.000Z`);
      const firmRows = async () =>
        (
          await db().reader.query<{ id: string; part: string }>(
            `SELECT id, tableoid::regclass::text AS part FROM audit_log WHERE firm_id = $1 ORDER BY id`,
            [firmId],
          )
        ).rows;

      // confirm: not droppable, held by later seals; the retirement keeps that row and goes on
      expect(
        await started.moduleRef
          .get(AuditArchiveService)
          .confirm({ dir: priorDir }),
      ).toMatchObject({
        droppable: false,
        refusal: 'held-by-later-seals',
        heldByLaterSeals: 1,
      });
      const first = await partitions.retireMonth('audit_log', at(prior), {
        archive: { dir: priorDir },
      });
      expect(first).toMatchObject({
        dropped: 0,
        deleted: 0,
        archive: { rows: 0, heldByLaterSeals: 1 },
      });
      expect((await firmRows()).map((r) => r.id)).toContain(before);

      const second = await partitions.retireMonth('audit_log', at(month), {
        archive: { dir },
      });
      expect(second.dropped + second.deleted).toBe(8);
      expect(second.archive).toMatchObject({ rows: 8, heldByLaterSeals: 1 });
      // the month's rows left, the one dated in it that the next month's seal holds stayed
      expect(await firmRows()).toEqual([
        { id: afterwards, part: 'audit_log_default' },
      ]);
      expect(await seals.verify({ firmId })).toMatchObject({ ok: true });
      expect((await plainVerify(dir)).verdict.ok).toBe(true);
    });
  });
});
