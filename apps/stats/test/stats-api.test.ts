import { ManualClock } from '@telemetry/shared/clock';
import { silentLogger } from '@telemetry/shared/logger';
import { HOUR, MINUTE } from '@telemetry/shared/stats/buckets';
import { RedisCounterStore, type CountEntry } from '@telemetry/shared/stats/counter-store';
import type { StatsValues } from '@telemetry/shared/stats/dimensions';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL, uniqueName } from '../../../test/support/services.js';
import { createStatsApp } from '../src/app.js';
import { StatsService } from '../src/stats-service.js';

const HOUR_MS = 3_600_000;
// An hour boundary an hour or two ago ("12:00" below): counters expire at real deadlines (bucket end + retention).
const T0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
const values = (channel: string, version = '23.0.1'): StatsValues => ({
  reason: 'saved-session',
  appName: 'Firefox',
  appVersion: version,
  appUpdateChannel: channel,
  appBuildID: '20130814063812',
});

describe('stats API over real Redis counters', () => {
  const prefix = uniqueName('stats');
  const redis = new Redis(REDIS_URL);
  const clock = new ManualClock(T0 + 30 * 60_000 + 5_000); // 12:30:05
  const store = new RedisCounterStore(redis, { prefix, retentionMs: 48 * HOUR_MS, detailRetentionMs: 6 * HOUR_MS, maxValuesPerHour: 5 });
  const service = new StatsService(store, clock, { detailRetentionMs: 6 * HOUR_MS, maxScanCounters: 250_000 });
  const app = createStatsApp({
    service,
    retentionMs: 48 * HOUR_MS,
    logger: silentLogger,
    registry: new Registry(),
    isReady: () => true,
    streamIntervalMs: 50,
    limits: { queries: { maxConcurrent: 4, maxQueued: 8 }, maxStreams: 3 },
  });
  const get = async (url: string) => {
    const response = await app.request(url);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    const entries: CountEntry[] = [];
    // 12:28: 3 release, 1 beta received; 12:30: 2 release received, 2 persisted, 1 bad_json.
    for (let i = 0; i < 3; i += 1) entries.push({ atMs: T0 + 28 * 60_000, kind: 'received', values: values('release'), count: 1, bytes: 100 });
    entries.push({ atMs: T0 + 28 * 60_000 + 1, kind: 'received', values: values('beta', '24.0'), count: 1, bytes: 50 });
    entries.push({ atMs: T0 + 30 * 60_000, kind: 'received', values: values('release'), count: 2, bytes: 10 });
    entries.push({ atMs: T0 + 30 * 60_000, kind: 'persisted', values: values('release'), count: 2 });
    entries.push({ atMs: T0 + 30 * 60_000, kind: 'error', errorType: 'bad_json', values: values('release'), count: 1 });
    await store.record(entries);
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('summarises a window', async () => {
    const { status, body } = await get('/api/stats/summary?window=15m');
    expect(status).toBe(200);
    // 12:15:05-12:30:05 touches the minutes 12:15 to 12:30: 905 s covered.
    expect(body).toEqual({ window: '15m', received: 6, persisted: 2, errors: { bad_json: 1 }, receivedPerSecond: 6 / 905, persistedPerSecond: 2 / 905 });
    // "1m" at 12:30:05 covers 12:29:00-12:30:05: the 12:28 minute is out.
    expect((await get('/api/stats/summary?window=1m')).body).toMatchObject({ received: 2, persisted: 2, receivedPerSecond: 2 / 65 });
    expect((await get('/api/stats/summary?window=2m')).body).toMatchObject({ received: 6 });
  });

  it('counts by dimension value, sorted by received', async () => {
    const response = await app.request('/api/stats/dimensions/appUpdateChannel?window=1h');
    // 11:30:05-12:30:05: from the minute 11:30, exact (counts per minute are kept for the detail retention).
    expect(response.headers.get('x-window-start')).toBe(new Date(T0 - 30 * 60_000).toISOString());
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      dimension: 'appUpdateChannel',
      window: '1h',
      values: [
        { value: 'release', received: 5, persisted: 2, errors: 1 },
        { value: 'beta', received: 1, persisted: 0, errors: 0 },
      ],
    });
    // Bytes received are counted per value too (beside the counts: queries read counts only).
    expect(await redis.hget(`${prefix}:1h:${T0 / HOUR_MS}:b:appUpdateChannel`, 'release')).toBe('310');
    const top1 = await get('/api/stats/dimensions/appUpdateChannel?window=1h&top=1');
    expect(top1.body.values).toEqual([{ value: 'OTHER', received: 6, persisted: 2, errors: 1 }]);
    // 12:28:05-12:30:05 starts at 12:28: the same counts; 12:29:05- leaves 12:28's out.
    expect((await get('/api/stats/dimensions/appUpdateChannel?window=2m')).body.values).toHaveLength(2);
    expect((await get('/api/stats/dimensions/appUpdateChannel?window=1m')).body.values).toEqual([{ value: 'release', received: 2, persisted: 2, errors: 1 }]);
  });

  it('gives an aligned time series with every step present', async () => {
    const { body } = await get('/api/stats/timeseries?dimension=appUpdateChannel&value=release&window=6m&step=2m');
    expect(body.step).toBe('2m');
    expect(body.points).toEqual([
      { t: T0 + 26 * 60_000, received: 0, persisted: 0, errors: 0 },
      { t: T0 + 28 * 60_000, received: 3, persisted: 0, errors: 0 },
      { t: T0 + 30 * 60_000, received: 2, persisted: 2, errors: 1 },
    ]);
  });

  it.each([
    ['/api/stats/summary?window=15x', 'window'],
    ['/api/stats/summary?window=3d', 'window'],
    ['/api/stats/dimensions/color?window=1h', 'dimension'],
    ['/api/stats/dimensions/appVersion?top=0', 'top'],
    ['/api/stats/timeseries?dimension=appVersion&value=1&step=30s', 'step'],
    ['/api/stats/timeseries?dimension=appVersion&window=1h', 'value'],
    ['/api/stats/timeseries?dimension=appVersion&value=1&window=90m&step=1h', 'whole number of steps'],
  ])('%s is a 400 naming the problem', async (url, word) => {
    const { status, body } = await get(url);
    expect(status).toBe(400);
    expect(typeof body.error).toBe('string');
    expect(String(body.error)).toContain(word);
  });

  it('caps distinct values per dimension and hour, the rest counted as OTHER in every bucket of that hour', async () => {
    const capPrefix = uniqueName('stats-cap');
    const capStore = new RedisCounterStore(redis, { prefix: capPrefix, retentionMs: 48 * HOUR_MS, detailRetentionMs: 6 * HOUR_MS, maxValuesPerHour: 5 });
    const atMs = T0 + 10 * 60_000;
    const entries: CountEntry[] = Array.from({ length: 12 }, (_, i) => ({ atMs, kind: 'received', values: values('release', `v${i}`), count: 1, bytes: 1 }));
    await capStore.record(entries);
    // Later in the same hour: v0 (admitted) still counts as itself, a new value is OTHER.
    await capStore.record([
      { atMs: atMs + 20 * 60_000, kind: 'received', values: values('release', 'v0'), count: 1, bytes: 1 },
      { atMs: atMs + 20 * 60_000, kind: 'received', values: values('release', 'new'), count: 1, bytes: 1 },
    ]);
    // The next hour admits anew.
    await capStore.record([{ atMs: T0 + HOUR_MS, kind: 'received', values: values('release', 'new'), count: 1, bytes: 1 }]);
    const hour = await capStore.countsByValue('appVersion', [{ resolution: HOUR, index: T0 / HOUR_MS }], 1_000);
    expect(hour.size).toBe(6); // 5 admitted + OTHER
    expect(hour.get('OTHER')?.received).toBe(8);
    expect(hour.get('v0')?.received).toBe(2);
    const laterMinute = await capStore.countsByValue('appVersion', [{ resolution: MINUTE, index: (atMs + 20 * 60_000) / 60_000 }], 1_000);
    expect(Object.fromEntries([...laterMinute].map(([v, c]) => [v, c.received]))).toEqual({ v0: 1, OTHER: 1 });
    const nextHour = await capStore.countsByValue('appVersion', [{ resolution: HOUR, index: T0 / HOUR_MS + 1 }], 1_000);
    expect(nextHour.get('new')?.received).toBe(1);
    await deleteKeys(redis, capPrefix);
  });

  it('starts a window older than the detail retention at its hour, and says so', async () => {
    const oldPrefix = uniqueName('stats-old');
    const oldStore = new RedisCounterStore(redis, { prefix: oldPrefix, retentionMs: 48 * HOUR_MS, detailRetentionMs: HOUR_MS, maxValuesPerHour: 100 });
    const oldService = new StatsService(oldStore, clock, { detailRetentionMs: HOUR_MS, maxScanCounters: 250_000 });
    // 3 h 20 min before the clock (09:10): its minute and 10-minute buckets are past the 1 h detail retention.
    const oldAt = clock.nowMs() - (3 * 60 + 20) * 60_000;
    await oldStore.record([{ atMs: oldAt, kind: 'received', values: values('release'), count: 4, bytes: 40 }]);
    const answer = await oldService.dimensionValues('appUpdateChannel', { text: '3h', ms: 3 * HOUR_MS }, 10);
    // A 3 h window from 09:30:05 starts at 09:00, its hour: the 09:10 counts are in.
    expect(answer.from).toBe(Math.floor((clock.nowMs() - 3 * HOUR_MS) / HOUR_MS) * HOUR_MS);
    expect(answer.values).toEqual([{ value: 'release', received: 4, persisted: 0, errors: 0 }]);
    // The totals are kept per minute for the whole retention: a summary is exact at any age.
    const exact = await oldService.summary({ text: '199m', ms: 199 * 60_000 });
    expect(exact.received).toBe(0); // from 09:11: the 09:10 minute is out
    expect((await oldService.summary({ text: '200m', ms: 200 * 60_000 })).received).toBe(4);
    // A per-minute series that far back is refused, saying why; whole hours work.
    await expect(oldService.timeseries('appUpdateChannel', 'release', { text: '4h', ms: 4 * HOUR_MS }, { text: '1m', ms: 60_000 })).rejects.toThrow(/STATS_DETAIL_RETENTION/);
    const hourly = await oldService.timeseries('appUpdateChannel', 'release', { text: '4h', ms: 4 * HOUR_MS }, { text: '1h', ms: HOUR_MS });
    expect(hourly.find((p) => p.t === Math.floor(oldAt / HOUR_MS) * HOUR_MS)?.received).toBe(4);
    expect(hourly.reduce((sum, p) => sum + p.received, 0)).toBe(4);
    await deleteKeys(redis, oldPrefix);
  });

  it('refuses a dimension query that would scan more counters than its budget, with a 400 saying why', async () => {
    const tight = new StatsService(store, clock, { detailRetentionMs: 6 * HOUR_MS, maxScanCounters: 3 });
    await expect(tight.dimensionValues('appUpdateChannel', { text: '1h', ms: HOUR_MS }, 10)).rejects.toThrow(/over the budget of 3 \(STATS_QUERY_MAX_COUNTERS\)/);
    const small = await tight.dimensionValues('appUpdateChannel', { text: '1m', ms: 60_000 }, 10);
    expect(small.values).toHaveLength(1);
  });

  it('expires every counter key within the retention', async () => {
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      // A key lives until its bucket's end plus the retention: at most 6 h past it for a six-hour bucket, 1 h for an hour.
      expect(ttl, key).toBeLessThanOrEqual((48 + 6) * HOUR_MS);
      if (/:1h:\d+:/.test(key)) expect(ttl, key).toBeLessThanOrEqual(49 * HOUR_MS);
      if (/:1m:\d+:c:/.test(key)) expect(ttl, key).toBeLessThanOrEqual(6 * HOUR_MS + 60_000);
    }
  });

  it('streams a summary of the last minute as Server-Sent Events', async () => {
    const response = await app.request('/api/stats/stream');
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
    if (!reader) throw new Error('no body');
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    await reader.cancel();
    const events = text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)) as { received: number });
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatchObject({ window: '1m', received: 2, persisted: 2 });
  });

  it('serves the dashboard page and its local chart library', async () => {
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/vendor/chart.umd.js');
    const chart = await app.request('/vendor/chart.umd.js');
    expect(chart.status).toBe(200);
    expect((await chart.text()).length).toBeGreaterThan(100_000);
  });
});
