import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_RESOLUTIONS, bucketsOfMinute, coverMinutes, HOUR, HOURS_ONLY, MINUTE, SIX_HOURS, TEN_MINUTES, type Bucket } from '../src/stats/buckets.js';

const minutesOf = (bucket: Bucket) => Array.from({ length: bucket.resolution.minutes }, (_, i) => bucket.index * bucket.resolution.minutes + i);

describe('coverMinutes', () => {
  it('covers a closed span exactly, each minute once, coarse buckets inside and fine ones at the edges', () => {
    // 10:07 .. 12:12 (minute indexes from midnight of day 0)
    const first = 10 * 60 + 7;
    const last = 12 * 60 + 12;
    const buckets = coverMinutes(first, last);
    expect(buckets.flatMap(minutesOf)).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i));
    expect(buckets.map((b) => b.resolution.name)).toEqual(['1m', '1m', '1m', '10m', '10m', '10m', '10m', '10m', '1h', '10m', '1m', '1m', '1m']);
    // 05:00 .. 18:59: hours up to 06:00, a six-hour 06:00-11:59, 12:00-17:59, then 18:00.
    expect(coverMinutes(5 * 60, 19 * 60 - 1).map((b) => b.resolution.name)).toEqual(['1h', '6h', '6h', '1h']);
  });

  it('with an open end (the window ends now) needs no fine buckets at the end', () => {
    const first = 60 * 24 * 1000 + 3; // 00:03 of some day
    const last = first + 48 * 60 - 3; // 48 h later, 23:57 of the next day but one
    const buckets = coverMinutes(first, last, { openEnd: true });
    // 7 minutes, 5 ten-minutes, 5 hours to 06:00, then six-hours up to the one being filled.
    expect(buckets.filter((b) => b.resolution === MINUTE)).toHaveLength(7);
    expect(buckets.filter((b) => b.resolution === TEN_MINUTES)).toHaveLength(5);
    expect(buckets.filter((b) => b.resolution === HOUR)).toHaveLength(5);
    expect(buckets.filter((b) => b.resolution === SIX_HOURS)).toHaveLength(8);
    expect(buckets.length).toBeLessThanOrEqual(9 + 5 + 5 + 9);
  });

  it('holds for any span: contiguous from first, exact at a closed end, past last at an open end with at most 9 + 5 + hours + 1 buckets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 3 * 24 * 60 }), fc.boolean(), (first, length, openEnd) => {
        const last = first + length;
        const buckets = coverMinutes(first, last, { openEnd });
        const minutes = buckets.flatMap(minutesOf);
        expect(minutes[0]).toBe(first);
        const gaps = minutes.filter((m, i) => i > 0 && m !== (minutes[i - 1] ?? 0) + 1);
        expect(gaps).toEqual([]);
        if (openEnd) {
          expect(minutes.at(-1)).toBeGreaterThanOrEqual(last);
          expect(buckets.length).toBeLessThanOrEqual(9 + 5 + 5 + Math.ceil(length / 360) + 1);
        } else {
          expect(minutes.at(-1)).toBe(last);
        }
      }),
    );
  });

  it('hours only: needs a first minute on an hour', () => {
    expect(coverMinutes(120, 300, { resolutions: HOURS_ONLY, openEnd: true }).map((b) => b.index)).toEqual([2, 3, 4, 5]);
    expect(coverMinutes(300, 1000, { resolutions: HOURS_ONLY, openEnd: true }).map((b) => `${b.resolution.name}:${b.index}`)).toEqual(['1h:5', '6h:1', '6h:2']);
    expect(() => coverMinutes(121, 300, { resolutions: HOURS_ONLY })).toThrow(RangeError);
  });

  it('counts a minute in one bucket of each resolution', () => {
    expect(bucketsOfMinute(125).map((b) => [b.resolution.name, b.index])).toEqual([
      ['6h', 0],
      ['1h', 2],
      ['10m', 12],
      ['1m', 125],
    ]);
    expect(ALL_RESOLUTIONS[0]).toBe(SIX_HOURS);
  });
});
