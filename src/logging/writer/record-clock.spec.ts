import {
  microsToIso,
  nextMicros,
  nextRecordStamp,
  uuidV7,
} from './record-clock.js';

/** The writer's record clock: UUIDv7 layout, monotonic ids and microsecond timestamps. */

const UUID_V7 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('record clock', () => {
  it('reads the wall clock to the microsecond while not ahead of it', () => {
    const drift = nextMicros() / 1000 - Date.now();
    expect(Math.abs(drift)).toBeLessThan(50);
  });

  it('makes RFC 9562 version 7 ids whose first 48 bits are the Unix milliseconds', () => {
    const micros = Date.UTC(2026, 10, 29, 9, 30, 0, 123) * 1000 + 456;
    const id = uuidV7(micros);
    expect(id).toMatch(UUID_V7);
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).toBe(Date.UTC(2026, 10, 29, 9, 30, 0, 123));
    // 456 µs of the millisecond, scaled to 4,096 steps: floor(456 * 4.096) = 1867
    expect(parseInt(id.slice(15, 18), 16)).toBe(1867);
  });

  it('gives increasing ids for increasing microseconds within one millisecond', () => {
    const base = Date.UTC(2026, 0, 1) * 1000;
    const ids = Array.from({ length: 1000 }, (_, us) => uuidV7(base + us));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
  });

  it('never repeats or goes back over 100,000 stamps in a row', () => {
    const stamps = Array.from({ length: 100_000 }, () => nextRecordStamp());
    const backwards = stamps.filter(
      (stamp, i) =>
        i > 0 &&
        !(
          stamp.micros > stamps[i - 1].micros &&
          stamp.id > stamps[i - 1].id &&
          stamp.createdAt > stamps[i - 1].createdAt
        ),
    );
    expect(backwards).toEqual([]);
  });

  it('moves a reading past the previous one when many fall in one microsecond', () => {
    const micros = Array.from({ length: 200_000 }, () => nextMicros());
    const steps = micros.slice(1).map((m, i) => m - micros[i]);
    expect(steps.every((step) => step > 0)).toBe(true);
    // A tight loop reads the clock many times a microsecond: most readings were moved on by one.
    expect(steps.filter((step) => step === 1).length).toBeGreaterThan(20_000);
  });

  it('writes created_at with six fractional digits, in UTC', () => {
    expect(microsToIso(Date.UTC(2026, 1, 3, 4, 5, 6, 7) * 1000 + 89)).toBe(
      '2026-02-03T04:05:06.007089Z',
    );
    expect(microsToIso(Date.UTC(2026, 1, 3) * 1000)).toBe(
      '2026-02-03T00:00:00.000000Z',
    );
  });
});
