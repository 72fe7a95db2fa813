import { ClosedBucketCache } from '@telemetry/shared/stats/bucket-cache';
import { HOUR, MINUTE } from '@telemetry/shared/stats/buckets';
import { RedisCounterStore, type CountEntry } from '@telemetry/shared/stats/counter-store';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL, uniqueName } from '../../../test/support/services.js';
import { StatsService } from '../src/stats-service.js';

const HOUR_MS = 3_600_000;
const clock = { nowMs: () => Date.now() };
const received = (atMs: number, appVersion: string, count: number): CountEntry => ({ atMs, kind: 'received', values: { appVersion }, count, bytes: 1 });

describe('closed-bucket cache over real Redis', () => {
  const redis = new Redis(REDIS_URL);
  const prefix = uniqueName('stats-cache');
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('serves closed buckets parsed from the cache until its ttl, open ones always from Redis', async () => {
    const store = new RedisCounterStore(redis, { prefix, retentionMs: 48 * HOUR_MS, detailRetentionMs: 6 * HOUR_MS, maxValuesPerHour: 100 });
    const cache = new ClosedBucketCache({ maxValues: 1_000, ttlMs: 300, graceMs: 120_000, nowMs: clock.nowMs });
    const service = new StatsService(store, clock, { detailRetentionMs: 6 * HOUR_MS, maxScanCounters: 10_000, cache });
    // Two closed buckets hold 'old' (their hours ended over 2 min ago): a merge adds the second into the sum of the first.
    const oldAt = Date.now() - 3 * HOUR_MS;
    const olderAt = Date.now() - 5 * HOUR_MS;
    await store.record([received(olderAt, 'old', 3), received(oldAt, 'old', 2), received(Date.now(), 'new', 1)]);
    const window = { text: '6h', ms: 6 * HOUR_MS };
    const counts = async () => Object.fromEntries((await service.dimensionValues('appVersion', window, 10)).values.map((v) => [v.value, v.received]));
    expect(await counts()).toEqual({ old: 5, new: 1 });

    // Late counts land in both: the open bucket shows them at once, the closed one after the cache's ttl. Both
    // answers also show the cached counts were not changed by the previous merge (else 'old' would have grown).
    await store.record([received(oldAt, 'old', 5), received(Date.now(), 'new', 5)]);
    expect(await counts()).toEqual({ old: 5, new: 6 });
    expect(await counts()).toEqual({ old: 5, new: 6 });
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await counts()).toEqual({ old: 10, new: 6 });
    expect(await counts()).toEqual({ old: 10, new: 6 });
  });

  it('counts closed buckets as closed only after the grace, and keeps at most maxValues values', () => {
    const now = 10 * HOUR_MS + 60_000; // 10:01
    const cache = new ClosedBucketCache({ maxValues: 3, ttlMs: 60_000, graceMs: 120_000, nowMs: () => now });
    expect(cache.isClosed({ resolution: HOUR, index: 8 })).toBe(true); // ended 09:00
    expect(cache.isClosed({ resolution: HOUR, index: 9 })).toBe(false); // ended 10:00, within the 2 min grace
    expect(cache.isClosed({ resolution: MINUTE, index: 10 * 60 - 3 })).toBe(true); // 09:57 ended 09:58
    const entry = (n: number) => ({ counts: new Map(Array.from({ length: n }, (_, i) => [`v${i}`, { received: 1, persisted: 0, errors: 0 }])), fields: n });
    cache.set('a', entry(2));
    cache.set('b', entry(1));
    expect(cache.get('a')?.counts.size).toBe(2);
    cache.set('c', entry(2)); // 5 values > 3: the least recently used goes
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')?.counts.size).toBe(2);
    cache.set('d', entry(4)); // larger than the whole cache: not kept
    expect(cache.get('d')).toBeUndefined();
  });
});
