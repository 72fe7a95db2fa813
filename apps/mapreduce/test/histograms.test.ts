import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHgServer, type HgServer } from '../../../test/support/hg-server.js';
import type { HistogramIndex } from '../src/histograms/publish.js';
import { runHistogramAggregates, type HistogramAggregatesOptions } from '../src/histograms/run.js';
import { buildDataSet, filterJson, readAllRecords, UNDEFINED_HISTOGRAM, type StoredRecord } from './support/dataset.js';
import { expectedGroups } from './support/expected-histograms.js';
import { bucketOracle, MISSING_REV_URL, REV_23, REV_24 } from './support/generate.js';

interface EntryFile {
  reason: string;
  appName: string;
  appUpdateChannel: string;
  appVersion: string;
  records: number;
  histograms: Record<string, { bounds: number[] | null; counts: number[]; sum: number; log_sum: number; log_sum_squares: number; sum_squares_lo: number; sum_squares_hi: number; records: number }>;
}

const REAL_2013 = { appVersion: ['22.0a1', '28.0a1'] };

describe('the histogram job', () => {
  let dir: string;
  let data: string;
  let hg: HgServer;
  let records: StoredRecord[];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-histograms-'));
    data = path.join(dir, 'data');
    await buildDataSet(data);
    records = await readAllRecords(data);
    hg = await startHgServer();
  });
  afterAll(async () => {
    await hg.close();
    await rm(dir, { recursive: true, force: true });
  });

  const aggregate = (outDir: string, options: Partial<HistogramAggregatesOptions> = {}) =>
    runHistogramAggregates({ dataDir: data, outDir, hgServer: hg.url, revisionCacheDir: path.join(dir, 'revisions'), workDir: path.join(dir, 'work'), mappers: 2, ...options });

  const readJson = async <T>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T;

  /** Every entry of `outDir` against the independent sums of the records it covers. */
  async function expectMatchesIndependentSums(outDir: string, covered: readonly StoredRecord[]): Promise<HistogramIndex> {
    const expected = expectedGroups(covered);
    const index = await readJson<HistogramIndex>(path.join(outDir, 'index.json'));
    expect(new Date(index.generatedAt).toISOString()).toBe(index.generatedAt);
    expect(index.entries.map((e) => `${e.reason}/${e.appName}/${e.appUpdateChannel}/${e.appVersion}`).sort()).toEqual([...expected.keys()].sort());
    for (const entry of index.entries) {
      const group = expected.get(`${entry.reason}/${entry.appName}/${entry.appUpdateChannel}/${entry.appVersion}`);
      if (group === undefined) throw new Error(`unexpected entry ${entry.file}`);
      expect(entry.file).toBe(`${entry.reason}/${entry.appName}/${entry.appUpdateChannel}/${entry.appVersion}.json`);
      expect(entry.records).toBe(group.records);
      expect(entry.histograms).toEqual([...group.histograms.keys()].sort());
      const document = await readJson<EntryFile>(path.join(outDir, entry.file));
      expect(document).toMatchObject({ reason: entry.reason, appName: entry.appName, appUpdateChannel: entry.appUpdateChannel, appVersion: entry.appVersion, records: group.records });
      for (const [name, want] of group.histograms) {
        const got = document.histograms[name];
        expect(got?.counts, `${entry.file} ${name}`).toEqual(want.counts);
        expect(got?.records).toBe(want.records);
        const stats = [got?.sum, got?.log_sum, got?.log_sum_squares, got?.sum_squares_lo, got?.sum_squares_hi];
        stats.forEach((value, s) => expect(value, `${entry.file} ${name} statistic ${s}`).toBeCloseTo(want.stats[s] ?? NaN, 6));
      }
    }
    return index;
  }

  it('sums the two real 2013 files as plain code does; their revisions are not on the server: no bounds, reported', async () => {
    const outDir = path.join(dir, 'out-2013');
    const result = await aggregate(outDir, { filter: filterJson(REAL_2013) });
    const real = records.filter((r) => r.file.endsWith('.lzma'));
    expect(real).toHaveLength(5);
    await expectMatchesIndependentSums(outDir, real);
    expect(result.missingRevisions).toEqual({
      'http://hg.mozilla.org/mozilla-central/rev/73f0c5b00572': 1,
      'http://hg.mozilla.org/mozilla-central/rev/518f5bff0ae4': 4,
    });
    // They were asked of the (local) Mercurial server, which answered 404.
    expect(hg.requests.some((url) => url.includes('/mozilla-central/raw-file/518f5bff0ae4/'))).toBe(true);
    const nightly28 = await readJson<EntryFile>(path.join(outDir, 'saved_session/Firefox/nightly/28.0a1.json'));
    expect(nightly28.records).toBe(4);
    expect(Object.values(nightly28.histograms).every((h) => h.bounds === null)).toBe(true);
  });

  it('sums every file (generated ver 2 and version 5 too) and takes bounds from each revision', async () => {
    const outDir = path.join(dir, 'out-all');
    const result = await aggregate(outDir, { mappers: 3, reducers: 2 });
    await expectMatchesIndependentSums(outDir, records);
    expect(result.run.map.tornLines).toBe(1);
    expect(result.missingRevisions[MISSING_REV_URL]).toBe(1);

    const oracle23 = bucketOracle(REV_23);
    const release = await readJson<EntryFile>(path.join(outDir, 'saved_session/Firefox/release/23.0.1.json'));
    for (const [name, histogram] of Object.entries(release.histograms)) {
      if (name === UNDEFINED_HISTOGRAM) expect(histogram.bounds).toBeNull();
      else expect(histogram.bounds, name).toEqual(oracle23[name]?.buckets);
    }
    // STARTUP_ names without a definition of their own take the unprefixed one's.
    expect(release.histograms.STARTUP_MEMORY_STORAGE_SQLITE?.bounds).toEqual(oracle23.MEMORY_STORAGE_SQLITE?.buckets);
    // The beta record of an unknown revision is summed into the layout its group's revision gives.
    const beta = await readJson<EntryFile>(path.join(outDir, 'saved_session/Firefox/beta/23.0.json'));
    expect(Object.values(beta.histograms).every((h) => h.records === 21 && h.bounds !== null)).toBe(true);
    const oracle24 = bucketOracle(REV_24);
    const nightly = await readJson<EntryFile>(path.join(outDir, 'saved_session/Firefox/nightly/24.0a1.json'));
    for (const [name, histogram] of Object.entries(nightly.histograms)) expect(histogram.bounds, name).toEqual(oracle24[name]?.buckets);
  });

  it('replaces the files atomically: entries no longer produced are removed, other files are left alone', async () => {
    const outDir = path.join(dir, 'out-replace');
    await aggregate(outDir);
    await writeFile(path.join(outDir, 'keep-me.txt'), 'not ours');
    const index = await aggregate(outDir, { filter: filterJson({ appUpdateChannel: 'release' }) });
    expect(index.entries.map((e) => e.file)).toEqual(['saved_session/Firefox/release/23.0.1.json']);
    await expect(stat(path.join(outDir, 'saved_session/Firefox/beta/23.0.json'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(path.join(outDir, 'keep-me.txt'), 'utf8')).toBe('not ours');
    expect((await readJson<HistogramIndex>(path.join(outDir, 'index.json'))).entries).toHaveLength(1);
  });

  it('fails, naming the file and line, when the revision server is down (a retry can succeed)', async () => {
    hg.failNext(1_000, 503);
    try {
      await expect(aggregate(path.join(dir, 'out-down'), { revisionCacheDir: path.join(dir, 'empty-cache'), mappers: 1 })).rejects.toThrow(
        /\.log(\.gz|\.lzma)?:1 \([^)]+\): map failed: RevisionUnavailableError: .*HTTP 503/,
      );
    } finally {
      hg.failNext(0);
    }
  });
});
