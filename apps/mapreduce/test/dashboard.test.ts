import { cp, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHgServer, type HgServer } from '../../../test/support/hg-server.js';
import { runDashboard, type DashboardOptions } from '../src/dashboard/run.js';
import { buildDataSet, filterJson, readAllRecords, type StoredRecord } from './support/dataset.js';
import { buildDashboardDataSet, DASHBOARD_FILES, DASHBOARD_HISTOGRAMS } from './support/dashboard-data.js';
import { compareDashboards, expectedDashboard, readPublished } from './support/expected-dashboard.js';
import { bucketOracle, REV_24, REV_24_URL, storageLines, writeStorageFile } from './support/generate.js';

type Json = Record<string, unknown>;

/** Bucket lower bounds from a published definition, computed as the dashboard's client did: parseFloat/parseInt of its fields. */
function clientBounds(spec: Json): number[] {
  const text = (field: string): string => {
    const value = spec[field];
    return typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '';
  };
  const n = (field: string, fallback: number) => (spec[field] === undefined ? fallback : parseFloat(text(field)));
  const linear = (low: number, high: number, count: number) =>
    Array.from({ length: count }, (_, i) => (i === 0 ? 0 : Math.floor((low * (count - 1 - i) + high * (i - 1)) / (count - 2) + 0.5)));
  const exponential = (low: number, high: number, count: number) => {
    const bounds = [0, low];
    let current = low;
    for (let i = 2; i < count; i += 1) {
      const next = Math.floor(Math.exp(Math.log(current) + (Math.log(high) - Math.log(current)) / (count - i)) + 0.5);
      current = next > current ? next : current + 1;
      bounds.push(current);
    }
    return bounds;
  };
  switch (spec.kind) {
    case 'boolean':
    case 'flag':
    case 'count':
      return linear(1, 2, 3);
    case 'enumerated':
      return linear(1, parseInt(text('n_values'), 10), parseInt(text('n_values'), 10) + 1);
    case 'linear':
      return linear(n('low', 1), n('high', NaN), parseInt(text('n_buckets'), 10));
    default:
      return exponential(n('low', 1), n('high', NaN), parseInt(text('n_buckets'), 10));
  }
}

describe('the dashboard job', () => {
  let dir: string;
  let hg: HgServer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-dashboard-'));
    hg = await startHgServer();
  });
  afterAll(async () => {
    await hg.close();
    await rm(dir, { recursive: true, force: true });
  });

  const dashboard = (dataDir: string, outDir: string, options: Partial<DashboardOptions> = {}) =>
    runDashboard({ dataDir, outDir, hgServer: hg.url, revisionCacheDir: path.join(dir, 'revisions'), workDir: path.join(dir, 'work'), mappers: 2, ...options });
  const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Json;

  it('publishes the real 2013 files: their simple measures (their revisions are unknown, reported), summed as plain code does', async () => {
    const data = path.join(dir, 'data-2013');
    await buildDataSet(data);
    const real = (await readAllRecords(data)).filter((record) => record.file.endsWith('.lzma'));
    expect(real).toHaveLength(5);
    const outDir = path.join(dir, 'out-2013');
    const result = await dashboard(data, outDir, { filter: filterJson({ appVersion: ['22.0a1', '28.0a1'] }) });
    expect(result.published?.missingRevisions).toEqual({ 'http://hg.mozilla.org/mozilla-central/rev/73f0c5b00572': 1, 'http://hg.mozilla.org/mozilla-central/rev/518f5bff0ae4': 4 });
    const { data: published, folders } = await readPublished(outDir);
    expect(compareDashboards(published, expectedDashboard(real))).toEqual([]);
    expect(Object.keys(folders)).toEqual(['nightly/22', 'nightly/28']);
    const nightly28 = path.join(outDir, folders['nightly/28'] ?? '');
    expect(await readJson(path.join(nightly28, 'filter-tree.json'))).toMatchObject({ _id: 0, name: 'reason', saved_session: { name: 'appName', Firefox: { name: 'OS', WINNT: { name: 'osVersion' } } } });
    expect((await readJson(path.join(nightly28, 'submissions.json'))).records).toBe(4);
    // One uptime of 6 s among four: the first bucket that holds 6.
    const uptime = await readJson(path.join(nightly28, 'SIMPLE_MEASURES_UPTIME-by-build-date.json'));
    expect(Object.keys(uptime)).toEqual(['20131029']);
    // Nightly 22 was built 2013-02-26 and submitted 2013-10-11: past 60 days, nothing by submission date.
    expect(await readJson(path.join(outDir, folders['nightly/22'] ?? '', 'SIMPLE_MEASURES_UPTIME-by-submission-date.json'))).toEqual({});
    expect((await readFile(path.join(outDir, 'FILES_PROCESSED'), 'utf8')).trim().split('\n')).toEqual([
      'saved_session/Firefox/nightly/22.0a1/20130226031002.20131011.v2.log.lzma',
      'saved_session/Firefox/nightly/28.0a1/20131029030201.20131029.v2.log.lzma',
    ]);
  }, 60_000);

  let records: StoredRecord[];
  let allData: string;
  let oneRun: string;
  it('publishes generated data (OSes, arches, builds, dates): sums, filter tree, definitions with evaluated numbers', async () => {
    allData = path.join(dir, 'data-all');
    await buildDashboardDataSet(allData);
    records = await readAllRecords(allData);
    oneRun = path.join(dir, 'out-all');
    const result = await dashboard(allData, oneRun, { mappers: 3 });
    expect(result.run.map.records).toBe(DASHBOARD_FILES.reduce((sum, file) => sum + file.records, 0));
    expect(result.published?.skippedRecords).toEqual({ invalid_build_date: 2 });
    const { data: published, folders } = await readPublished(oneRun);
    expect(compareDashboards(published, expectedDashboard(records))).toEqual([]);
    expect(Object.keys(folders)).toEqual(['aurora/25', 'nightly/26']);

    const nightly = path.join(oneRun, folders['nightly/26'] ?? '');
    const tree = await readJson(path.join(nightly, 'filter-tree.json'));
    const linux = (((tree.saved_session as Json).Firefox as Json).Linux as Json) ?? {};
    // Linux: the first 3 characters of the kernel version.
    expect(Object.keys(linux).sort()).toEqual(['3.2', '_id', 'name']);
    expect(linux['3.2']).toMatchObject({ name: 'arch', 'x86-64': { _id: expect.any(Number) as number } });
    expect(Object.keys((linux['3.2'] as Json)['x86-64'] as Json)).toEqual(['_id']);

    const definitions = await readJson(path.join(nightly, 'histograms.json'));
    const oracle = bucketOracle(REV_24);
    for (const name of DASHBOARD_HISTOGRAMS) {
      const spec = definitions[name] as Json;
      for (const field of ['low', 'high', 'n_buckets', 'n_values']) if (field in spec) expect(typeof spec[field], `${name}.${field}`).toBe('number');
      expect(clientBounds(spec), name).toEqual(oracle[name]?.buckets);
      expect(typeof spec.description).toBe('string');
    }
    expect(definitions.SIMPLE_MEASURES_UPTIME).toMatchObject({ kind: 'exponential', low: 1, high: 30000, n_buckets: 50 });
    const revisions = await readJson(path.join(nightly, 'revisions.json'));
    expect(revisions.GC_MS).toEqual({ revision: REV_24_URL, buildId: '20131003030203', length: (oracle.GC_MS?.bucket_count ?? 0) + 6 });
    // Two sums of 1.5e308 overflow: written as Number.MAX_VALUE.
    const huge = await readJson(path.join(nightly, 'SIMPLE_MEASURES_HUGE-by-build-date.json'));
    const [array] = (huge['20131001'] as number[][]) ?? [];
    expect(array?.slice(-7)).toEqual([Number.MAX_VALUE, 2 * Math.log(1.5e308 + 1), expect.any(Number), 0, 0, 2, expect.any(Number)]);
    // The record submitted 2014-01-01 for a build of 2013-10-01 is by build date only.
    const uptime = await readJson(path.join(nightly, 'SIMPLE_MEASURES_UPTIME-by-submission-date.json'));
    expect(Object.keys(uptime)).toEqual(['20131001', '20131003', '20131004']);
  }, 60_000);

  it('merges incrementally: two halves give what one run over all gives, and no file is counted twice', async () => {
    const data = path.join(dir, 'data-halves');
    const outDir = path.join(dir, 'out-halves');
    const [first, second] = [DASHBOARD_FILES.slice(0, 4), DASHBOARD_FILES.slice(4)];
    for (const file of first) await cp(path.join(allData, file.path), path.join(data, file.path), { recursive: true });
    // The second half's first file is still being written (no sequence): left for later.
    const [writing] = second;
    const active = writing?.path.replace(/\.\d+\.log\.gz$/, '.log') ?? '';
    await writeStorageFile(data, active, storageLines(records.filter((r) => r.file === writing?.path)));
    const half = await dashboard(data, outDir);
    expect(half.processedFiles).toEqual(first.map((file) => file.path).sort());
    expect(half.unfinishedFiles).toBe(1);

    await rm(path.join(data, active));
    for (const file of second) await cp(path.join(allData, file.path), path.join(data, file.path), { recursive: true });
    const rest = await dashboard(data, outDir);
    expect(rest.alreadyProcessed).toBe(first.length);
    expect(rest.processedFiles).toEqual(second.map((file) => file.path).sort());
    const [incremental, single] = [await readPublished(outDir), await readPublished(oneRun)];
    expect(compareDashboards(incremental.data, single.data)).toEqual([]);
    expect(compareDashboards(incremental.data, expectedDashboard(records))).toEqual([]);

    // Compressed after it was read (.log -> .log.gz): the same file, not read again.
    const [firstFile] = first;
    const plain = path.join(data, firstFile?.path.replace(/\.gz$/, '') ?? '');
    await rename(path.join(data, firstFile?.path ?? ''), plain);
    const again = await dashboard(data, outDir);
    expect(again.published).toBeUndefined();
    expect(again.alreadyProcessed).toBe(DASHBOARD_FILES.length);
    expect(compareDashboards((await readPublished(outDir)).data, single.data)).toEqual([]);

    // Folders: the current generation and the one before it, nothing else.
    const names = (await readdir(outDir)).filter((name) => /^\d{14}-/.test(name)).sort();
    const current = Object.values(incremental.folders);
    expect(names.filter((name) => !current.includes(name))).toHaveLength(1);
    expect((await readFile(path.join(outDir, 'FILES_PROCESSED'), 'utf8')).trim().split('\n')).toEqual(DASHBOARD_FILES.map((file) => file.path).sort());
    expect(await readFile(path.join(outDir, 'FILES_MISSING'), 'utf8')).toBe('');
  }, 120_000);
});
