import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/**
 * Record order is trail order: every row the writer makes gets its `created_at` and its id from one
 * clock reading, and the clock of a process never repeats or goes back, so two rows recorded one
 * after the other sort in that order by `created_at`, by `id`, and by `(created_at, id)`.
 *
 * The clock counts microseconds: the time origin plus `performance.now()`, which is monotonic and
 * finer than `Date.now()`, plus the offset to the database's clock the writer measures. A reading that would not be later than the previous one is moved one
 * microsecond past it, so a burst of more than one record per microsecond runs ahead of real time
 * by at most the burst's length, then falls back in step.
 */
export interface RecordStamp {
  /** A UUIDv7 (RFC 9562) whose timestamp and sub-millisecond bits are `micros`. */
  readonly id: string;
  /** `created_at` to the microsecond, as an ISO 8601 string PostgreSQL reads exactly. */
  readonly createdAt: string;
  /** Microseconds since the Unix epoch. */
  readonly micros: number;
}

const ORIGIN_MICROS = Math.round(performance.timeOrigin * 1000);
let lastMicros = 0;
/** How far the database's clock is ahead of this process's, in microseconds (see followClock). */
let offsetMicros = 0;

/** This process's clock in microseconds since the epoch, without the database's offset. */
export function processMicros(): number {
  return ORIGIN_MICROS + Math.floor(performance.now() * 1000);
}

/**
 * Makes the record clock follow a database clock that is `offset` microseconds ahead of this
 * process's (negative: behind): the database refuses rows dated more than a few seconds from its
 * own clock. A correction that would move the clock back is absorbed by the monotonic step: the
 * clock holds still, one microsecond a reading, until it is due again.
 */
export function followClock(offset: number): void {
  offsetMicros = Math.round(offset);
}

/** The offset {@link followClock} set last. */
export function clockOffsetMicros(): number {
  return offsetMicros;
}

/** Microseconds since the epoch by the database's clock, strictly increasing within the process. */
export function nextMicros(): number {
  let micros = processMicros() + offsetMicros;
  if (micros <= lastMicros) micros = lastMicros + 1;
  lastMicros = micros;
  return micros;
}

/** Random bytes taken from a pool refilled 2,048 ids at a time. */
const POOL_IDS = 2048;
const pool = Buffer.alloc(8 * POOL_IDS);
let poolNext = POOL_IDS;

/**
 * The millisecond parts of the last id and of the last timestamp, each kept for a burst sharing its
 * millisecond. Apart: an id is made when a row is recorded and its timestamp when its batch is
 * formed, later, so one cache for both would be made again at every call.
 */
let idMs = -1;
let idPrefix = '';
let isoMs = -1;
let isoPrefix = '';

/**
 * The UUIDv7 for a microsecond reading (RFC 9562, section 6.2, method 3): 48 bits of Unix
 * milliseconds, the version, 12 bits of sub-millisecond precision (the microseconds within the
 * millisecond scaled to 4,096 steps, so distinct microseconds give distinct, increasing values), the
 * variant and 62 random bits. Ids made from increasing readings increase.
 */
export function uuidV7(micros: number): string {
  const ms = Math.floor(micros / 1000);
  if (ms !== idMs) {
    idMs = ms;
    const hex = ms.toString(16).padStart(12, '0');
    idPrefix = `${hex.slice(0, 8)}-${hex.slice(8)}-7`;
  }
  const fraction = Math.floor(((micros - ms * 1000) * 4096) / 1000);
  if (poolNext === POOL_IDS) {
    randomFillSync(pool);
    poolNext = 0;
  }
  const r = poolNext++ * 8;
  pool[r] = 0x80 | (pool[r] & 0x3f); // the variant, 0b10
  const random = pool.toString('hex', r, r + 8);
  return (
    idPrefix +
    fraction.toString(16).padStart(3, '0') +
    '-' +
    random.slice(0, 4) +
    '-' +
    random.slice(4)
  );
}

/** `micros` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function microsToIso(micros: number): string {
  const ms = Math.floor(micros / 1000);
  if (ms !== isoMs) {
    isoMs = ms;
    isoPrefix = new Date(ms).toISOString().slice(0, 23); // ...SS.mmm
  }
  return `${isoPrefix}${String(micros - ms * 1000).padStart(3, '0')}Z`;
}

/** The next reading of the record clock, as an id and a `created_at`. */
export function nextRecordStamp(): RecordStamp {
  const micros = nextMicros();
  return { id: uuidV7(micros), createdAt: microsToIso(micros), micros };
}
