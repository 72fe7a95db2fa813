import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import { createWorkerMetrics, type WorkerMetrics } from '../src/metrics.js';
import { histogramsPath, startHgServer, writeHgRevision, type HgServer } from '../../../test/support/hg-server.js';
import { fixturePath } from '../../../test/support/fixtures.js';

const REPO = 'mozilla-central';
const REAL = '8d3810543edc';
const OTHER = 'ad0ae007aa9e';
const urlOf = (revision: string) => `https://hg.mozilla.org/${REPO}/rev/${revision}`;

/** The value of one series in the registry's text exposition (0 when absent). */
async function value(metrics: WorkerMetrics, series: string): Promise<number> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
const lookups = (metrics: WorkerMetrics, tier: string) => value(metrics, `telemetry_revision_cache_lookups_total{tier="${tier}"}`);
const fetches = (metrics: WorkerMetrics, result: string) => value(metrics, `telemetry_revision_fetches_total{result="${result}"}`);

let tempDir: string;
let cacheDir: string;
let server: HgServer;
beforeEach(async () => {
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'revision-metrics-'));
  cacheDir = path.join(tempDir, 'cache');
  const hgRoot = path.join(tempDir, 'hg');
  for (const revision of [REAL, OTHER]) await writeHgRevision(hgRoot, REPO, revision, await readFile(fixturePath('hg', histogramsPath(REPO, revision))));
  server = await startHgServer({ root: hgRoot });
});
afterEach(async () => {
  await server.close();
  await rm(tempDir, { recursive: true, force: true });
});

describe('revision cache metrics of the workers', () => {
  it('exposes every tier and result at 0 before the first lookup', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const text = await metrics.registry.metrics();
    for (const tier of ['memory', 'inflight', 'disk', 'fetch', 'not_found']) expect(text).toContain(`telemetry_revision_cache_lookups_total{tier="${tier}"} 0`);
    for (const result of ['ok', 'not_found', 'invalid', 'unavailable']) expect(text).toContain(`telemetry_revision_fetches_total{result="${result}"} 0`);
    expect(text).toContain('telemetry_revision_disk_evictions_total 0');
  });

  it('counts each lookup by the tier that answered it, each fetch by its result, and disk evictions', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const newCache = (options: { diskMaxBytes?: number } = {}) => new RevisionCache({ hgServer: server.url, cacheDir, metrics: metrics.revisionCache, ...options });
    const cache = newCache();

    server.setDelayMs(30);
    await Promise.all(Array.from({ length: 5 }, () => cache.get(urlOf(REAL))));
    server.setDelayMs(0);
    expect([await lookups(metrics, 'fetch'), await lookups(metrics, 'inflight'), await fetches(metrics, 'ok')]).toEqual([1, 4, 1]);

    await cache.get(urlOf(REAL.toUpperCase()));
    expect(await lookups(metrics, 'memory')).toBe(1);

    // Another process (same counters here): the file is on disk.
    await newCache().get(urlOf(REAL));
    expect(await lookups(metrics, 'disk')).toBe(1);

    await expect(cache.get(urlOf('0123456789ab'))).rejects.toThrow(/HTTP 404/);
    await expect(cache.get(urlOf('0123456789ab'))).rejects.toThrow(/HTTP 404/);
    expect([await fetches(metrics, 'not_found'), await lookups(metrics, 'not_found'), await lookups(metrics, 'fetch')]).toEqual([1, 1, 2]);

    server.failNext(1, 503);
    await expect(cache.get(urlOf(OTHER))).rejects.toThrow(/HTTP 503/);
    expect(await fetches(metrics, 'unavailable')).toBe(1);

    // A bound of one file: saving the second revision evicts the first.
    const bounded = newCache({ diskMaxBytes: 200_000 });
    await bounded.get(urlOf(OTHER));
    await bounded.trimDisk();
    expect([await fetches(metrics, 'ok'), await value(metrics, 'telemetry_revision_disk_evictions_total')]).toEqual([2, 1]);
    expect(await value(metrics, 'telemetry_revision_disk_evicted_bytes_total')).toBe((await readFile(fixturePath('hg', histogramsPath(REPO, REAL)))).byteLength);
    expect(await lookups(metrics, 'fetch')).toBe(4);
  });
});
