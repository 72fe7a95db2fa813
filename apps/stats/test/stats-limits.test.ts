import { ManualClock } from '@telemetry/shared/clock';
import { silentLogger } from '@telemetry/shared/logger';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL, uniqueName } from '../../../test/support/services.js';
import { createStatsApp } from '../src/app.js';
import { StatsService, type Summary } from '../src/stats-service.js';

const HOUR_MS = 3_600_000;

/** The real service, counting how often a summary is computed. */
class CountingService extends StatsService {
  summaries = 0;
  override summary(window: { text: string; ms: number }): Promise<Summary> {
    this.summaries += 1;
    return super.summary(window);
  }
}

describe('stats API limits over real Redis', () => {
  const prefix = uniqueName('stats-limits');
  const redis = new Redis(REDIS_URL);
  const store = new RedisCounterStore(redis, { prefix, retentionMs: 48 * HOUR_MS, detailRetentionMs: 6 * HOUR_MS, maxValuesPerHour: 100 });
  let registry = new Registry();
  const refusals = async (reason: string) =>
    (await registry.getSingleMetric('telemetry_stats_queries_refused_total')?.get())?.values.find((v) => v.labels.reason === reason)?.value;
  const appWith = (service: StatsService, limits: { maxConcurrent: number; maxQueued: number; maxStreams: number }) =>
    createStatsApp({
      service,
      retentionMs: 48 * HOUR_MS,
      logger: silentLogger,
      registry: (registry = new Registry()),
      isReady: () => true,
      streamIntervalMs: 40,
      limits: { queries: { maxConcurrent: limits.maxConcurrent, maxQueued: limits.maxQueued }, maxStreams: limits.maxStreams },
    });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  /** Reads `count` SSE data events from a stream response. */
  async function events(response: Response, count: number): Promise<unknown[]> {
    const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
    if (!reader) throw new Error('no body');
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    await reader.cancel();
    return text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as unknown);
  }

  it('computes one summary per tick for all streams, and answers 503 past STATS_MAX_STREAMS', async () => {
    const service = new CountingService(store, new ManualClock(Date.now()), { detailRetentionMs: 6 * HOUR_MS, maxScanCounters: 250_000 });
    const app = appWith(service, { maxConcurrent: 4, maxQueued: 4, maxStreams: 5 });
    const streams = await Promise.all(Array.from({ length: 5 }, async () => app.request('/api/stats/stream')));
    for (const stream of streams) expect(stream.status).toBe(200);
    const refused = await app.request('/api/stats/stream');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(((await refused.json()) as { error: string }).error).toContain('STATS_MAX_STREAMS');
    expect(await refusals('streams')).toBe(1);
    expect((await registry.getSingleMetric('telemetry_stats_streams')?.get())?.values[0]?.value).toBe(5);

    const received = await Promise.all(streams.map((stream) => events(stream, 4)));
    for (const list of received) expect(list.length).toBeGreaterThanOrEqual(4);
    // 5 streams × ≥ 4 events, from one computation per tick: about 4-6, never one per stream and tick (≥ 20).
    expect(service.summaries).toBeLessThanOrEqual(8);

    // The cancelled streams freed their places.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await app.request('/api/stats/stream');
    expect(again.status).toBe(200);
    expect(await events(again, 1)).toHaveLength(1);
  });

  it('answers 503 with Retry-After past STATS_QUERY_CONCURRENCY + STATS_QUERY_QUEUE, and serves the rest', async () => {
    const service = new StatsService(store, new ManualClock(Date.now()), { detailRetentionMs: 6 * HOUR_MS, maxScanCounters: 250_000 });
    const app = appWith(service, { maxConcurrent: 1, maxQueued: 1, maxStreams: 5 });
    const windows = ['1m', '2m', '3m', '4m', '5m', '6m'];
    const responses = await Promise.all(windows.map(async (w) => app.request(`/api/stats/dimensions/appVersion?window=${w}`)));
    const statuses = responses.map((r) => r.status);
    // Issued at once: one runs, one waits, the other four are refused.
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 503)).toHaveLength(4);
    const refused = responses.find((r) => r.status === 503);
    expect(refused?.headers.get('retry-after')).toBe('1');
    expect(await refusals('queries')).toBe(4);
    expect(await refusals('budget')).toBe(0);
    // Identical queries in flight share one run and are never refused for it.
    const same = await Promise.all(Array.from({ length: 6 }, async () => app.request('/api/stats/dimensions/appVersion?window=1h')));
    expect(same.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
  });
});
