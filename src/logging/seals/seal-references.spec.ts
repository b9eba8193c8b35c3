import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SealHash } from './seal-hash.js';
import {
  encodeGroups,
  judgeReferences,
  sortGroups,
  type GroupDelta,
} from './seal-references.js';

/**
 * Reference groups of encoding 2 (docs/tamper-evidence.md): their canonical encoding, the digest
 * with them, and the rule that tells an erasure (ON DELETE SET NULL) from any other change.
 */

const uuid = (tail: string) =>
  `00000000-0000-0000-0000-${tail.padStart(12, '0')}`;

describe('the worked example of docs/tamper-evidence.md, encoding 2', () => {
  const id1 = uuid('1');
  const id2 = uuid('2');
  const user = uuid('b1');
  const row1 = `36:${id1}36:${uuid('aa')}11:upload_file13:uploaded_file-12:{"pages": 3}-16:1795939200000123`;
  const row2 = `36:${id2}36:${uuid('aa')}12:download_cma14:generated_file---16:1795939201000000`;
  const groups =
    '-1:164:90d5b0a26955772ebda61cd86cef90ec4f0a4efd29b8a7099df640bc94a8cc0a' +
    `36:${user}1:164:7ac1b8d7010bb6cd3a3e84e7f90136b880bbc899e428ece49333372911ab9052`;
  const digest =
    'fde2c6e0c12007dcf17ba31698ebb088b1f4f1bfee3df8f77e73f837a4124272';

  it('gives the groups and the digest the page shows', () => {
    const hash = new SealHash('0'.repeat(64), 2);
    hash.add(row1, { id: id1, ref: user });
    hash.add(row2, { id: id2, ref: null });
    expect(encodeGroups(hash.groups!.list())).toBe(groups);
    expect(hash.digest()).toBe(digest);
  });

  it('is the example the page shows', () => {
    const page = readFileSync(
      resolve(import.meta.dirname, '../../../docs/tamper-evidence.md'),
      'utf8',
    );
    for (const text of [row1, row2, groups, digest]) {
      expect(page).toContain(text);
    }
  });
});

describe('reference groups', () => {
  it('sort the NULL group first, then by reference', () => {
    const groups = [uuid('c'), null, uuid('a')].map((ref) => ({
      ref,
      rows: 1,
      digest: 'd',
    }));
    expect(sortGroups(groups).map((g) => g.ref)).toEqual([
      null,
      uuid('a'),
      uuid('c'),
    ]);
  });

  it('encoding 2 needs each row id and reference', () => {
    expect(() => new SealHash('0'.repeat(64), 2).add('1:x')).toThrow(
      'encoding 2 needs each row id and reference',
    );
  });
});

describe('judgeReferences', () => {
  const a = uuid('a');
  const b = uuid('b');
  const delta = (
    side: GroupDelta['side'],
    ref: string | null,
    rows: number,
    digest = `${side}-${ref}-${rows}`,
  ): GroupDelta => ({ side, ref, rows, digest });
  const judge = (deltas: GroupDelta[], existing: string[] = []) =>
    judgeReferences(deltas, 'user_id', 'users', new Set(existing));

  it('nothing differs: intact', () => {
    expect(judge([])).toEqual({ kind: 'intact' });
  });

  it("a deleted user's rows all NULL now, beside the rows sealed NULL: erased", () => {
    expect(
      judge([
        delta('sealed', a, 3),
        delta('sealed', null, 2),
        delta('now', null, 5),
      ]),
    ).toEqual({ kind: 'erased', rows: 3, references: 1 });
  });

  it('two deleted users, no rows sealed NULL: erased', () => {
    expect(
      judge([
        delta('sealed', a, 3),
        delta('sealed', b, 1),
        delta('now', null, 4),
      ]),
    ).toEqual({ kind: 'erased', rows: 4, references: 2 });
  });

  it('the user still exists: changed', () => {
    expect(judge([delta('sealed', a, 3), delta('now', null, 3)], [a])).toEqual({
      kind: 'changed',
      reason: `3 row(s) sealed with user_id ${a} no longer have it, yet users still holds that row`,
    });
  });

  it('rows now under a user that differ from its sealed group: changed', () => {
    expect(
      judge([delta('sealed', a, 3), delta('sealed', b, 1), delta('now', b, 4)]),
    ).toMatchObject({
      kind: 'changed',
      reason: `the rows whose user_id is ${b} are not the rows sealed with it`,
    });
  });

  it('NULL rows that do not add up to the sealed NULL rows and the erased ones: changed', () => {
    for (const deltas of [
      [delta('sealed', a, 3), delta('now', null, 2)],
      [delta('sealed', a, 3)],
      [delta('sealed', null, 2), delta('now', null, 2)],
    ]) {
      expect(judge(deltas)).toMatchObject({ kind: 'changed' });
    }
  });
});
