import {
  decodeCursor,
  encodeCursor,
  inKeysetOrder,
  keysetOrder,
} from './keyset-cursor.js';

const row = (cursor_at: string | null, id: string) => ({ cursor_at, id });

describe('keyset cursors', () => {
  it('round-trips a position, with a time or with none', () => {
    const id = '01a23e59-c400-7000-8000-000000000001';
    expect(
      decodeCursor(encodeCursor('2026-11-30T23:59:59.999999Z', id)),
    ).toEqual({
      t: '2026-11-30T23:59:59.999999Z',
      id,
    });
    expect(decodeCursor(encodeCursor(null, id))).toEqual({ t: null, id });
  });

  it('takes nothing else for a position', () => {
    const id = '01a23e59-c400-7000-8000-000000000001';
    for (const text of [
      'garbage!',
      JSON.stringify(['2026-11-30T23:59:59Z', id]),
      JSON.stringify([0, id]),
      JSON.stringify([null, 'x']),
      JSON.stringify([null]),
    ]) {
      expect(
        decodeCursor(Buffer.from(text).toString('base64url')),
      ).toBeUndefined();
    }
  });

  it('orders rows as ORDER BY created_at DESC, id DESC: no date first, then newest, ties by id', () => {
    const ordered = [
      row(null, 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
      row(null, '01a23e59-c400-7000-8000-000000000002'),
      row(
        '2026-12-01T00:00:00.000001Z',
        '00000000-0000-0000-0000-000000000001',
      ),
      row(
        '2026-12-01T00:00:00.000000Z',
        'f0000000-0000-4000-8000-00000000a001',
      ),
      row(
        '2026-12-01T00:00:00.000000Z',
        '01a23e59-c400-7000-8000-000000000002',
      ),
      row(
        '2025-01-31T10:00:00.000000Z',
        '01a23e59-c400-7000-8000-000000000003',
      ),
    ];
    expect(inKeysetOrder(ordered)).toBe(true);
    for (let i = 1; i < ordered.length; i++) {
      const swapped = [...ordered];
      [swapped[i - 1], swapped[i]] = [swapped[i], swapped[i - 1]];
      expect(inKeysetOrder(swapped)).toBe(false);
    }
    const shuffled = [3, 0, 5, 2, 4, 1].map((i) => ordered[i]);
    expect(shuffled.sort(keysetOrder)).toEqual(ordered);
  });
});
