import { ManualClock } from '@telemetry/shared/clock';
import { silentLogger } from '@telemetry/shared/logger';
import { RedisCounterStore, type CountEntry } from '@telemetry/shared/stats/counter-store';
import type { StatsValues } from '@telemetry/shared/stats/dimensions';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, uniqueName } from '../../../test/support/services.js';
import { createStatsApp } from '../src/app.js';
import { StatsService } from '../src/stats-service.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0); // a minute boundary
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
  const store = new RedisCounterStore(redis, { prefix, retentionMs: 48 * 3_600_000, maxValuesPerMinute: 5 });
  const app = createStatsApp({
    service: new StatsService(store, clock),
    retentionMs: 48 * 3_600_000,
    logger: silentLogger,
    registry: new Registry(),
    isReady: () => true,
    streamIntervalMs: 50,
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
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
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
    const { body } = await get('/api/stats/dimensions/appUpdateChannel?window=1h');
    expect(body).toEqual({
      dimension: 'appUpdateChannel',
      window: '1h',
      values: [
        { value: 'release', received: 5, persisted: 2, errors: 1 },
        { value: 'beta', received: 1, persisted: 0, errors: 0 },
      ],
    });
    const top1 = await get('/api/stats/dimensions/appUpdateChannel?window=1h&top=1');
    expect(top1.body.values).toEqual([{ value: 'OTHER', received: 6, persisted: 2, errors: 1 }]);
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

  it('caps distinct values per dimension and minute, the rest counted as OTHER', async () => {
    const atMs = T0 + 10 * 60_000;
    const entries: CountEntry[] = Array.from({ length: 12 }, (_, i) => ({ atMs, kind: 'received', values: values('release', `v${i}`), count: 1, bytes: 1 }));
    await store.record(entries);
    await store.record([{ atMs, kind: 'received', values: values('release', 'v0'), count: 1, bytes: 1 }]); // admitted earlier: still counted as itself
    const counts = await store.countsByValue('appVersion', [Math.floor(atMs / 60_000)]);
    expect(counts.size).toBe(6); // 5 admitted + OTHER
    expect(counts.get('OTHER')?.received).toBe(7);
    expect(counts.get('v0')?.received).toBe(2);
  });

  it('expires every counter key within the retention', async () => {
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(48 * 3_600_000);
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
