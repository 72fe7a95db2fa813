import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitFor } from '../support/services.js';

interface DimensionAnswer {
  values: { value: string; received: number; persisted: number; errors: number }[];
}

function ping(channel: string, version: string): string {
  return JSON.stringify({ ver: 2, info: { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: channel, appVersion: version, appBuildID: '20131029030201' } });
}

describe('realtime stats end to end: gateway -> stats queue -> Redis -> API', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline('stats', { stats: true, topology: { statsQueueMaxLength: 10 } });
  });
  afterAll(async () => {
    await p.stop();
  });

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${p.statsUrl}${path}`);
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  it('counts submissions by URL dimension and reports what the workers persisted and filed', async () => {
    const stamp = Date.now();
    const sent: [string, string, string][] = [
      ['release', '23.0.1', 'ok'],
      ['release', '23.0.1', 'ok'],
      ['release', '24.0', 'ok'],
      ['beta', '24.0', 'ok'],
      ['beta', '24.0', 'bad'],
      ['nightly', '28.0a1', 'ok'],
    ];
    for (const [i, [channel, version, kind]] of sent.entries()) {
      const body = kind === 'ok' ? ping(channel, version) : '{"ver": 2, "info": ';
      const response = await p.submit(`st-${stamp}-${i}/saved-session/Firefox/${version}/${channel}/20131029030201`, body);
      expect(response.status).toBe(200);
    }
    await waitFor('all counted and persisted', async () => {
      const summary = await api<{ received: number; persisted: number; errors: Record<string, number> }>('/api/stats/summary?window=15m');
      return summary.received === 6 && summary.persisted === 5 && summary.errors.bad_json === 1;
    });

    const channels = await api<DimensionAnswer>('/api/stats/dimensions/appUpdateChannel?window=1h');
    expect(channels.values).toEqual([
      { value: 'release', received: 3, persisted: 3, errors: 0 },
      { value: 'beta', received: 2, persisted: 1, errors: 1 },
      { value: 'nightly', received: 1, persisted: 1, errors: 0 },
    ]);
    const versions = await api<DimensionAnswer>('/api/stats/dimensions/appVersion?window=1h&top=2');
    // top=2: the first value by count, then the tail (23.0.1: 2, 28.0a1: 1) folded into OTHER.
    expect(versions.values.map((v) => [v.value, v.received])).toEqual([
      ['24.0', 3],
      ['OTHER', 3],
    ]);

    const series = await api<{ points: { t: number; received: number }[] }>('/api/stats/timeseries?dimension=appUpdateChannel&value=beta&window=10m&step=1m');
    expect(series.points).toHaveLength(10);
    expect(series.points.every((point) => point.t % 60_000 === 0)).toBe(true);
    expect(series.points.reduce((sum, point) => sum + point.received, 0)).toBe(2);
  });

  it('keeps the stats queue bounded: a stopped stats consumer never holds back ingestion', async () => {
    const { topology } = p.env;
    await p.stats?.consumer.stop();
    const stamp = Date.now();
    // One after the other: each 200 comes after its batch's confirm, so each submission is a batch
    // (a stats message) of its own, and the queue's bound (10 messages) is surely passed.
    for (let i = 0; i < 25; i += 1) expect((await p.submit(`bound-${stamp}-${i}`, ping('release', '1.0'))).status).toBe(200);
    // Everything is still persisted, while the stats queue dropped its oldest beyond 10.
    await waitFor('persisted', async () => {
      const summary = (await (await fetch(`${p.statsUrl}/api/stats/summary?window=15m`)).json()) as { persisted: number };
      return summary.persisted === 5 + 25;
    });
    expect(await p.env.queueDepth(topology.statsQueue)).toBe(10);
  });
});
