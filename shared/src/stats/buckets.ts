/**
 * The time buckets realtime counters are kept in, and the fewest buckets that
 * cover a span of minutes. Every count is added to its minute, its 10-minute
 * and its hour bucket at once (rollups written as counts arrive), so a query
 * reads a few dozen buckets, not one per minute: a 48 h window is at most
 * 9 minutes + 5 ten-minutes + 49 hours.
 *
 * Pure: no I/O, unit-tested alone.
 */
export const MINUTE_MS = 60_000;

export interface Resolution {
  /** Key segment and API name: `1m`, `10m`, `1h`, `6h`. */
  readonly name: '1m' | '10m' | '1h' | '6h';
  readonly minutes: number;
}

export const MINUTE: Resolution = { name: '1m', minutes: 1 };
export const TEN_MINUTES: Resolution = { name: '10m', minutes: 10 };
export const HOUR: Resolution = { name: '1h', minutes: 60 };
export const SIX_HOURS: Resolution = { name: '6h', minutes: 360 };
/** Coarsest first (the cover tries them in this order). */
export const ALL_RESOLUTIONS: readonly Resolution[] = [SIX_HOURS, HOUR, TEN_MINUTES, MINUTE];
/** The resolutions kept for the whole retention (counts by value per minute and 10 minutes are not). */
export const HOURS_ONLY: readonly Resolution[] = [SIX_HOURS, HOUR];

export interface Bucket {
  readonly resolution: Resolution;
  /** floor(minute index / resolution.minutes). */
  readonly index: number;
}

export function minuteIndex(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

/** The buckets minute `minute` is counted in, one per resolution. */
export function bucketsOfMinute(minute: number): Bucket[] {
  return ALL_RESOLUTIONS.map((resolution) => ({ resolution, index: Math.floor(minute / resolution.minutes) }));
}

/** When bucket `bucket` ends (ms, exclusive). */
export function bucketEndMs(bucket: Bucket): number {
  return (bucket.index + 1) * bucket.resolution.minutes * MINUTE_MS;
}

export interface CoverOptions {
  /** Resolutions allowed, coarsest first; the last must be able to start at `first` (MINUTE, or HOUR with `first` on an hour). */
  readonly resolutions?: readonly Resolution[];
  /**
   * `last` is the current minute: nothing is counted after it yet, so the
   * last buckets may run past it (the hour being filled covers its minutes so
   * far) and the end needs no minute buckets.
   */
  readonly openEnd?: boolean;
}

/**
 * The fewest aligned buckets covering minutes `first`..`last` (inclusive)
 * exactly, each minute in exactly one bucket: coarsest buckets where they fit,
 * finer ones at the edges. Throws RangeError when `first` cannot start a
 * bucket of any allowed resolution (a caller bug: round `first` first).
 */
export function coverMinutes(first: number, last: number, options: CoverOptions = {}): Bucket[] {
  const resolutions = options.resolutions ?? ALL_RESOLUTIONS;
  const buckets: Bucket[] = [];
  let minute = first;
  while (minute <= last) {
    const resolution = resolutions.find((r) => minute % r.minutes === 0 && (options.openEnd === true || minute + r.minutes - 1 <= last));
    if (!resolution) throw new RangeError(`minute ${minute} starts no bucket of ${resolutions.map((r) => r.name).join(', ')}`);
    buckets.push({ resolution, index: minute / resolution.minutes });
    minute += resolution.minutes;
  }
  return buckets;
}

/** The first minute of the hour `minute` is in. */
export function hourStartMinute(minute: number): number {
  return Math.floor(minute / HOUR.minutes) * HOUR.minutes;
}
