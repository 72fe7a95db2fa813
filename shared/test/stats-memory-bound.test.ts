/**
 * The counters' Redis memory stays within the documented worst case
 * (memory-bound.ts, docs/OPERATIONS.md) when clients fill every bucket at the
 * cap with long random values and flood past it.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL, uniqueName } from '../../test/support/services.js';
import { HOUR } from '../src/stats/buckets.js';
import { counterValue, MAX_COUNTER_VALUE_BYTES, RedisCounterStore, type CountEntry } from '../src/stats/counter-store.js';
import { worstCaseBytes } from '../src/stats/memory-bound.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
// Past Redis's listpack limit (512 fields): the counts hashes are hashtables, the costly encoding the bound is measured on.
const CAP = 200;
const random128 = () => randomBytes(96).toString('base64url').slice(0, 128);

describe('counter memory in Redis', () => {
  const redis = new Redis(REDIS_URL);
  const prefix = uniqueName('stats-bound');
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('stays within worstCaseBytes with every bucket at the cap of 128-character values and a flood past it', async () => {
    const options = { prefix, retentionMs: 3 * HOUR_MS, detailRetentionMs: HOUR_MS, maxValuesPerHour: CAP };
    const store = new RedisCounterStore(redis, options);
    const now = Date.now();
    const firstMinute = Math.floor((now - options.retentionMs) / MINUTE_MS);
    const hourValues = new Map<number, string[][]>();
    for (let minute = firstMinute; minute <= Math.floor(now / MINUTE_MS); minute += 1) {
      const hour = Math.floor(minute / 60);
      // Each hour: its own CAP values per free dimension, sent every minute (the worst case: every bucket full) ...
      if (!hourValues.has(hour)) hourValues.set(hour, [0, 1].map(() => Array.from({ length: CAP }, random128)));
      const [versions, builds] = hourValues.get(hour) as [string[], string[]];
      const entries: CountEntry[] = [];
      for (let v = 0; v < CAP; v += 1) {
        const values = { appVersion: versions[v] as string, appBuildID: builds[v] as string, appUpdateChannel: 'release' };
        entries.push({ atMs: minute * MINUTE_MS, kind: 'received', values, count: 1, bytes: 1000 });
        entries.push({ atMs: minute * MINUTE_MS, kind: 'persisted', values, count: 1 });
        entries.push({ atMs: minute * MINUTE_MS, kind: 'error', errorType: 'bad_json', values, count: 1 });
      }
      // ... and CAP new random values each minute, past the cap: OTHER.
      for (let v = 0; v < CAP; v += 1) {
        entries.push({ atMs: minute * MINUTE_MS, kind: 'received', values: { appVersion: random128(), appBuildID: random128() }, count: 1, bytes: 1000 });
      }
      await store.record(entries);
    }

    let used = 0;
    const keys = await redis.keys(`${prefix}*`);
    for (const key of keys) used += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    // appUpdateChannel is one value: a third "free" dimension in the bound covers it.
    const bound = worstCaseBytes(options, 3);
    expect(used).toBeLessThanOrEqual(bound);
    // The bound is not loose: the two free dimensions alone reach most of it.
    expect(used).toBeGreaterThan(0.6 * worstCaseBytes(options, 2));

    // The hour holds its CAP values and OTHER, nothing else.
    const thisHour = { resolution: HOUR, index: Math.floor(now / HOUR_MS) };
    const counts = await store.countsByValue('appVersion', [thisHour], 1_000_000);
    expect(counts.size).toBe(CAP + 1);
    expect(counts.get('OTHER')?.received).toBeGreaterThan(0);
    for (const value of counts.keys()) expect(Buffer.byteLength(value)).toBeLessThanOrEqual(MAX_COUNTER_VALUE_BYTES);
  });

  it('keeps values up to 40 bytes as sent, and cuts longer ones into a distinct 40-byte form', () => {
    expect(counterValue('24.0a1')).toBe('24.0a1');
    const forty = 'x'.repeat(40);
    expect(counterValue(forty)).toBe(forty);
    const long1 = `${'y'.repeat(60)}1`;
    const long2 = `${'y'.repeat(60)}2`;
    expect(counterValue(long1)).toMatch(/^y{31}~[0-9a-f]{8}$/);
    expect(counterValue(long1)).not.toBe(counterValue(long2));
    // Multi-byte text is cut at a character boundary, by bytes.
    const wide = 'é'.repeat(30); // 60 bytes
    const cut = counterValue(wide);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(40);
    expect(cut.startsWith('é'.repeat(15))).toBe(true);
  });
});
