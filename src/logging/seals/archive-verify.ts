import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SEALABLE_LOGS, type SealableLog } from './seal-encoding.js';
import { SealHash } from './seal-hash.js';
import { referenceDeltas, type SealRows } from './seal-rows.js';
import type {
  ArchiveManifest,
  ArchiveProblem,
  ArchiveVerification,
  ArchiveVerifyQuery,
} from './archive.types.js';
import {
  encodeArchiveRow,
  isArchiveRow,
  isArchiveSeal,
  manifestDigestOf,
  MANIFEST_FILE,
  parseMonth,
  referenceOf,
  ROWS_FILE,
  SEALS_FILE,
  type ArchiveRow,
  type ArchiveSeal,
} from './archive-format.js';
import { archivedGroups } from './archive-rows.js';
import { checkFirm, groupBy, sealByRange } from './archive-chain.js';
import { checkArchiveQuery } from './archive-args.js';

/** The lines of a file, each with its number from 1, the bytes hashed into `hash` as read. */
async function* fileLines(
  path: string,
  hash: Hash,
): AsyncGenerator<[string, number]> {
  let rest: Buffer = Buffer.alloc(0);
  let n = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    let data: Buffer = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    for (let at = data.indexOf(0x0a); at >= 0; at = data.indexOf(0x0a)) {
      yield [data.toString('utf8', 0, at), ++n];
      data = data.subarray(at + 1);
    }
    rest = data;
  }
  if (rest.length) yield [rest.toString('utf8'), n + 1];
}

const parse = (line: string): unknown => {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
};

/** Whether `value` has the manifest's shape, as far as verification reads it. */
function isManifest(value: unknown): value is ArchiveManifest {
  const m = value as ArchiveManifest;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.format === 'cma-logging-archive' &&
    m.formatVersion === 1 &&
    SEALABLE_LOGS.includes(m.log) &&
    Array.isArray(m.firms) &&
    Array.isArray(m.erasures) &&
    typeof m.files?.[ROWS_FILE]?.sha256 === 'string' &&
    typeof m.files?.[SEALS_FILE]?.sha256 === 'string' &&
    typeof m.rows?.total === 'number'
  );
}

/**
 * Verifies the archive in `dir` offline, without a database (docs/archives.md): the manifest's
 * own digest, every seal's digest recomputed from the rows with the canonical encoding, each
 * firm's chain from where the manifest says it enters the month to the head it records (and to the
 * anchors given), the erasures it records, and each file's digest. Reports the same kinds as
 * `AuditSealService.verify`, with the file where the change lies.
 */
export async function verifyArchive(
  query: ArchiveVerifyQuery,
): Promise<ArchiveVerification> {
  const { dir, anchors, manifestDigest } = checkArchiveQuery(query);
  const result: ArchiveVerification = {
    ok: true,
    log: null,
    month: null,
    firms: 0,
    sealsChecked: 0,
    rowsChecked: 0,
    manifestDigest: '',
    erasures: [],
    problems: [],
  };
  const finish = (problems: ArchiveProblem[]) => {
    result.problems = problems;
    result.ok = problems.length === 0;
    if (problems.length) result.problem = problems[0];
    return result;
  };
  const manifestProblem = (
    message: string,
    kind: ArchiveProblem['kind'] = 'seal-edited',
  ): ArchiveProblem => ({
    kind,
    file: MANIFEST_FILE,
    message,
  });
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    return finish([
      manifestProblem(`${dir} holds no ${MANIFEST_FILE}`, 'seal-removed'),
    ]);
  }
  const self = manifestDigestOf(text);
  const manifest = parse(text);
  if (!self || !isManifest(manifest)) {
    return finish([
      manifestProblem(`${MANIFEST_FILE} is no longer an archive manifest`),
    ]);
  }
  const log: SealableLog = manifest.log;
  Object.assign(result, {
    log,
    month: manifest.month,
    manifestDigest: self.computed,
    erasures: manifest.erasures,
  });
  const first: ArchiveProblem[] = [];
  if (self.computed !== self.stored) {
    first.push(
      manifestProblem(
        `${MANIFEST_FILE} was changed: it no longer matches its own digest`,
      ),
    );
  }
  if (manifestDigest && manifestDigest.toLowerCase() !== self.computed) {
    first.push(
      manifestProblem(
        `${MANIFEST_FILE} no longer has the digest published for it (${manifestDigest.slice(0, 16)}…)`,
      ),
    );
  }
  try {
    parseMonth('verify', manifest.month);
  } catch {
    first.push(manifestProblem(`${MANIFEST_FILE} names no month`));
  }

  // seals
  const later: ArchiveProblem[] = [];
  const sealsHash = createHash('sha256');
  const seals: ArchiveSeal[] = [];
  let sealLines = 0;
  try {
    for await (const [line, n] of fileLines(join(dir, SEALS_FILE), sealsHash)) {
      sealLines = n;
      const seal = parse(line);
      if (isArchiveSeal(seal)) seals.push(seal);
      else
        later.push({
          kind: 'seal-edited',
          file: SEALS_FILE,
          line: n,
          message: `line ${n} of ${SEALS_FILE} is no longer a seal`,
        });
    }
  } catch {
    first.push({
      kind: 'seal-removed',
      file: SEALS_FILE,
      message: `${dir} holds no ${SEALS_FILE}`,
    });
  }
  const chains = new Map<string, ArchiveSeal[]>();
  const late = new Map<string, ArchiveSeal>();
  for (const seal of seals) {
    const chain = chains.get(seal.firm_id);
    if (chain) chain.push(seal);
    else chains.set(seal.firm_id, [seal]);
    for (const id of seal.late_ids) late.set(`${seal.firm_id}:${id}`, seal);
  }

  // rows
  const rowsHash = createHash('sha256');
  const hashes = new Map<string, { seal: ArchiveSeal; hash: SealHash }>();
  const unheld = new Map<string, number>();
  let rowLines = 0;
  let rows = 0;
  try {
    for await (const [line, n] of fileLines(join(dir, ROWS_FILE), rowsHash)) {
      rowLines = n;
      const row = parse(line);
      if (!isArchiveRow(log, row)) {
        later.push({
          kind: 'row-edited',
          file: ROWS_FILE,
          line: n,
          message: `line ${n} of ${ROWS_FILE} is no longer a row of ${log}`,
        });
        continue;
      }
      rows++;
      const r = row as ArchiveRow;
      const [firm, id] = [r.firm_id!, r.id!];
      const seal =
        late.get(`${firm}:${id}`) ??
        sealByRange(chains.get(firm) ?? [], BigInt(r.created_at!), id);
      if (!seal) {
        unheld.set(firm, (unheld.get(firm) ?? 0) + 1);
        continue;
      }
      const key = `${firm}:${seal.seq}`;
      let open = hashes.get(key);
      if (!open)
        hashes.set(
          key,
          (open = {
            seal,
            hash: new SealHash(seal.prev_digest, seal.encoding),
          }),
        );
      open.hash.add(encodeArchiveRow(log, seal.encoding, r), {
        id,
        ref: referenceOf(log, r),
      });
    }
  } catch {
    first.push({
      kind: 'row-missing',
      file: ROWS_FILE,
      message: `${dir} holds no ${ROWS_FILE}`,
    });
  }
  const found = new Map<string, SealRows>();
  for (const [key, { seal, hash }] of hashes) {
    const stored = archivedGroups(seal);
    found.set(key, {
      firmId: seal.firm_id,
      seq: seal.seq,
      n: hash.rows,
      digest: hash.digest(stored),
      references:
        seal.encoding === 2 ? referenceDeltas(hash.groups!.list(), stored) : [],
    });
  }

  // each firm's chain, as verify judges it, against the manifest's entry and head
  const entries = new Map(manifest.firms.map((chain) => [chain.firmId, chain]));
  const erasures = groupBy(manifest.erasures, (e) => e.firmId);
  const given = groupBy(
    anchors.filter((a) => !('log' in a) || a.log === log),
    (a) => a.firmId,
  );
  const firms = [
    ...new Set([...entries.keys(), ...chains.keys(), ...unheld.keys()]),
  ].sort();
  const semantic: ArchiveProblem[] = [];
  for (const firmId of firms) {
    const problem = checkFirm(
      log,
      firmId,
      {
        entry: entries.get(firmId),
        erasures: erasures.get(firmId) ?? [],
        anchors: given.get(firmId) ?? [],
      },
      chains.get(firmId) ?? [],
      found,
      unheld.get(firmId),
    );
    if (problem) semantic.push(problem);
  }
  result.firms = firms.length;
  result.sealsChecked = seals.length;
  result.rowsChecked = rows;

  // where the change lies: a file that still has its digest holds none
  const rowsIntact =
    rowsHash.digest('hex') === manifest.files[ROWS_FILE].sha256;
  const sealsIntact =
    sealsHash.digest('hex') === manifest.files[SEALS_FILE].sha256;
  if (rowsIntact && !sealsIntact) {
    // the rows still have the digest the manifest records: what reads as a change of rows is one
    // of the seals
    for (const p of semantic.filter((p) => p.file === ROWS_FILE)) {
      Object.assign(p, {
        kind: 'seal-edited',
        file: SEALS_FILE,
        message: `${SEALS_FILE} was changed: ${p.message}`,
      });
    }
  }
  const files: ArchiveProblem[] = [];
  if (
    rows !== manifest.rows.total ||
    rowLines !== manifest.files[ROWS_FILE].lines
  ) {
    files.push({
      kind: rows < manifest.rows.total ? 'row-missing' : 'row-inserted',
      file: ROWS_FILE,
      rows: Math.abs(manifest.rows.total - rows),
      message: `${ROWS_FILE} holds ${rows} row(s), the manifest ${manifest.rows.total}`,
    });
  }
  if (
    seals.length !== manifest.seals ||
    sealLines !== manifest.files[SEALS_FILE].lines
  ) {
    files.push({
      kind: seals.length < manifest.seals ? 'seal-removed' : 'seal-edited',
      file: SEALS_FILE,
      message: `${SEALS_FILE} holds ${seals.length} seal(s), the manifest ${manifest.seals}`,
    });
  }
  if (!rowsIntact)
    files.push({
      kind: 'row-edited',
      file: ROWS_FILE,
      message: `${ROWS_FILE} no longer has the digest the manifest records`,
    });
  if (!sealsIntact)
    files.push({
      kind: 'seal-edited',
      file: SEALS_FILE,
      message: `${SEALS_FILE} no longer has the digest the manifest records`,
    });
  return finish([...first, ...semantic, ...later, ...files]);
}
