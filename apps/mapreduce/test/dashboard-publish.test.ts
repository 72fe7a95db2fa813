import { cp, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../../test/support/fixtures.js';
import { startHgServer, writeHgRevision, type HgServer } from '../../../test/support/hg-server.js';
import { addValues, finishMeasure, mergeMeasures, type MeasurePartial } from '../src/dashboard/aggregate.js';
import { acquireDashboardLock, DashboardBusyError } from '../src/dashboard/lock.js';
import { runDashboard, type DashboardOptions } from '../src/dashboard/run.js';
import { readPublishedState } from '../src/dashboard/state.js';
import { docId, REV_24, REV_24_URL, rng, storageLines, writeStorageFile } from './support/generate.js';
import { readAllRecords } from './support/dataset.js';
import { compareDashboards, expectedDashboard, KNOWN_REVISIONS, readPublished } from './support/expected-dashboard.js';

type Json = Record<string, unknown>;
/** A revision of our own: Firefox 24's file with GC_MS cut to 30 buckets (a definition that changed between builds). */
const NEW_REV = 'fedcba987654';
const NEW_REV_URL = `https://hg.mozilla.org/mozilla-central/rev/${NEW_REV}`;
const GC_MS_BUCKETS = { [REV_24_URL]: 50, [NEW_REV_URL]: 30 };

function gcPing(buildId: string, revision: string, random: () => number): string {
  const buckets = revision === NEW_REV_URL ? 30 : 50;
  const counts = Array.from({ length: buckets }, () => Math.floor(random() * 5));
  const info = { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'nightly', appVersion: '26.0a1', appBuildID: buildId, revision, OS: 'Linux', version: '3.11', arch: 'x86-64' };
  return JSON.stringify({ ver: 2, info, histograms: { GC_MS: [...counts, Math.round(random() * 900), -1, -1, -1, -1] }, simpleMeasurements: { uptime: 3 } });
}

async function writeGcFile(root: string, buildId: string, date: string, revision: string, count: number, seed: number): Promise<string> {
  const random = rng(seed);
  const relative = `saved_session/Firefox/nightly/26.0a1/${buildId}.${date}.v2.wA.${seed}.log.gz`;
  await writeStorageFile(root, relative, storageLines(Array.from({ length: count }, (_, i) => ({ docId: docId(`g${seed}`, i), json: gcPing(buildId, revision, random) }))));
  return relative;
}

describe('publishing the dashboard files', () => {
  let dir: string;
  let hg: HgServer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-dashboard-publish-'));
    const hgRoot = path.join(dir, 'hg');
    await cp(fixturePath('hg'), hgRoot, { recursive: true });
    const original = JSON.parse(await readFile(fixturePath('hg', 'mozilla-central/raw-file', REV_24, 'toolkit/components/telemetry/Histograms.json'), 'utf8')) as Record<string, Json>;
    await writeHgRevision(hgRoot, 'mozilla-central', NEW_REV, JSON.stringify({ ...original, GC_MS: { ...original.GC_MS, n_buckets: '3 * 10' } }));
    hg = await startHgServer({ root: hgRoot });
  });
  afterAll(async () => {
    await hg.close();
    await rm(dir, { recursive: true, force: true });
  });

  const dashboard = (dataDir: string, outDir: string, options: Partial<DashboardOptions> = {}) =>
    runDashboard({ dataDir, outDir, hgServer: hg.url, revisionCacheDir: path.join(dir, 'revisions'), workDir: path.join(dir, 'work'), mappers: 2, ...options });
  const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Json;

  it('takes the layout of the newest build when a measure changes length, in one run and across runs', async () => {
    const data = path.join(dir, 'data-layout');
    const older = await writeGcFile(data, '20131001030201', '20131002', REV_24_URL, 6, 1);
    const newer = await writeGcFile(data, '20131005030201', '20131006', NEW_REV_URL, 4, 2);
    const outDir = path.join(dir, 'out-layout');
    const once = await dashboard(data, outDir);
    const newerRecords = (await readAllRecords(data)).filter((record) => record.file === newer);
    const only30 = new Map([[NEW_REV_URL, new Map([['GC_MS', GC_MS_BUCKETS[NEW_REV_URL]]])]]);
    const { data: published, folders } = await readPublished(outDir);
    expect(published.get('nightly/26')?.get('GC_MS')).toEqual(expectedDashboard(newerRecords, only30).get('nightly/26')?.get('GC_MS'));
    expect(once.published?.excludedSubmissions).toBe(6);
    const folder = path.join(outDir, folders['nightly/26'] ?? '');
    expect((await readJson(path.join(folder, 'revisions.json'))).GC_MS).toEqual({ revision: NEW_REV_URL, buildId: '20131005030201', length: 36 });
    expect((await readJson(path.join(folder, 'histograms.json'))).GC_MS).toMatchObject({ kind: 'exponential', n_buckets: 30, high: 10000, low: 1 });

    // Across runs: the older layout first, then the newer one replaces it (purged), then older data again is left out.
    const staged = path.join(dir, 'data-staged');
    const outStaged = path.join(dir, 'out-staged');
    await cp(path.join(data, older), path.join(staged, older));
    const first = await dashboard(staged, outStaged);
    expect((await readPublished(outStaged)).data.get('nightly/26')?.get('GC_MS')?.get('by-build-date')?.size).toBe(1);
    expect(first.published?.purgedSubmissions).toBe(0);
    await cp(path.join(data, newer), path.join(staged, newer));
    const second = await dashboard(staged, outStaged);
    expect(second.published?.purgedSubmissions).toBe(6);
    const third = await writeGcFile(staged, '20131002030201', '20131003', REV_24_URL, 3, 3);
    const last = await dashboard(staged, outStaged);
    expect(last.processedFiles).toEqual([third]);
    expect(last.published?.excludedSubmissions).toBe(3);
    const staged3 = await readPublished(outStaged);
    expect(staged3.data.get('nightly/26')?.get('GC_MS')).toEqual(expectedDashboard(newerRecords, only30).get('nightly/26')?.get('GC_MS'));
    // Simple measures have one layout: every record counts.
    const all = await readAllRecords(staged);
    const simple = expectedDashboard(all, new Map()).get('nightly/26');
    const publishedSimple = new Map([...(staged3.data.get('nightly/26') ?? [])].filter(([name]) => name !== 'GC_MS'));
    expect(compareDashboards(new Map([['nightly/26', publishedSimple]]), new Map([['nightly/26', simple ?? new Map<string, Map<string, Map<string, number[]>>>()]]))).toEqual([]);
  }, 120_000);

  it('lists an unreadable file in FILES_MISSING and reads it once it can be read; skips bad records up to --max-bad-records', async () => {
    const data = path.join(dir, 'data-missing');
    const good = await writeGcFile(data, '20131001030201', '20131002', REV_24_URL, 3, 4);
    const broken = 'saved_session/Firefox/nightly/26.0a1/20131001030201.20131003.v2.wA.5.log.gz';
    await writeStorageFile(data, broken, Buffer.from('this is not gzip'), false);
    const outDir = path.join(dir, 'out-missing');
    const first = await dashboard(data, outDir);
    expect(first.processedFiles).toEqual([good]);
    expect(first.missingFiles).toEqual([broken]);
    expect(await readFile(path.join(outDir, 'FILES_MISSING'), 'utf8')).toBe(`${broken}\n`);

    const random = rng(9);
    const lines = [{ docId: docId('bad', 0), json: '{"ver":2,"info":' }, { docId: docId('ok', 1), json: gcPing('20131001030201', REV_24_URL, random) }];
    await writeStorageFile(data, broken, storageLines(lines));
    await expect(dashboard(data, outDir)).rejects.toThrow(/20131003\.v2\.wA\.5\.log\.gz:1 \(bad-000000-[^)]*\): map failed: SyntaxError/);
    const second = await dashboard(data, outDir, { maxBadRecords: 1 });
    expect(second.run.badRecords).toMatchObject([{ file: broken, line: 1, docId: docId('bad', 0) }]);
    expect(second.processedFiles).toEqual([broken]);
    expect(second.missingFiles).toEqual([]);
    expect(await readFile(path.join(outDir, 'FILES_MISSING'), 'utf8')).toBe('');
    const records = (await readAllRecords(data)).filter((record) => record.docId !== docId('bad', 0));
    expect(compareDashboards((await readPublished(outDir)).data, expectedDashboard(records, KNOWN_REVISIONS))).toEqual([]);
  }, 120_000);

  it('publishes one run at a time: a live lock refuses a second run, a stale one is taken over', async () => {
    const outDir = path.join(dir, 'out-lock');
    await mkdir(outDir, { recursive: true });
    const held = await acquireDashboardLock(outDir);
    await expect(dashboard(path.join(dir, 'data-missing'), outDir)).rejects.toThrow(DashboardBusyError);
    await expect(acquireDashboardLock(outDir)).rejects.toThrow(/another dashboard run is publishing/);
    // Its holder died (no renewal for minutes): taken over.
    const old = new Date(Date.now() - 5 * 60_000);
    await utimes(path.join(outDir, '.lock'), old, old);
    const next = await acquireDashboardLock(outDir);
    await held.release();
    await expect(acquireDashboardLock(outDir)).rejects.toThrow(DashboardBusyError);
    await next.release();
    await (await acquireDashboardLock(outDir)).release();
  });

  it('finishes the commit of a run that died after versions.json, drops that of one that died before', async () => {
    const outDir = path.join(dir, 'out-journal');
    await mkdir(outDir, { recursive: true });
    await writeFile(path.join(outDir, 'versions.json'), JSON.stringify({ 'nightly/26': '20131010000000-nightly-26' }));
    await writeFile(path.join(outDir, 'FILES_PROCESSED'), 'a.log.gz\n');
    await writeFile(path.join(outDir, '.pending-commit.json'), JSON.stringify({ stamp: '20131010000000', processed: ['a.log.gz', 'b.log.gz'], missing: ['c.log.gz'] }));
    expect(await readPublishedState(outDir)).toEqual({ versions: { 'nightly/26': '20131010000000-nightly-26' }, processed: ['a.log.gz', 'b.log.gz'], missing: ['c.log.gz'] });
    await writeFile(path.join(outDir, '.pending-commit.json'), JSON.stringify({ stamp: '20131011000000', processed: ['x.log.gz'], missing: [] }));
    expect((await readPublishedState(outDir)).processed).toEqual(['a.log.gz', 'b.log.gz']);
    await expect(readFile(path.join(outDir, '.pending-commit.json'))).rejects.toThrow(/ENOENT/);
  });

  it('merges values as telemetry-aggregator did, whatever the grouping: a statistic adds unless both are -1, NaN null, ±Infinity ±MAX_VALUE', () => {
    // As real pings: which statistics a measure has is the same in every record.
    const values = [
      [1, 0, 5, -1, 4, -1, -1, 1],
      [0, 2, 0, -1, 9, -1, -1, 1],
      [3, 1, 7, -1, 2, -1, -1, 1],
    ];
    const partial = (v: number[], b: string): MeasurePartial => ({ [v.length]: { b, r: 'r', d: { k: v }, s: {} } });
    const [a, b, c] = values.map((v, i) => partial(v, `2013100${i}`));
    const left = finishMeasure(mergeMeasures([mergeMeasures([a ?? {}, b ?? {}]), c ?? {}]));
    const right = finishMeasure(mergeMeasures([a ?? {}, mergeMeasures([b ?? {}, c ?? {}])]));
    expect(left).toEqual(right);
    expect(left?.byBuildDate.k).toEqual([4, 3, 12, -1, 15, -1, -1, 3]);
    // One side -1, the other a value: they add, as in 2013 (mergeJSON), -1 included.
    const mixed = [0, 0, -1, -1, -1, -1, -1, 1];
    addValues(mixed, [0, 0, 5, -1, -1, -1, -1, 1]);
    expect(mixed.slice(2, 7)).toEqual([4, -1, -1, -1, -1]);
    expect(left?.buildId).toBe('20131002');
    const big = [Number.MAX_VALUE, 0, 0, 0, 0, 0, 1];
    addValues(big, [Number.MAX_VALUE, 0, 0, 0, 0, 0, 1]);
    expect(big[0]).toBe(Number.MAX_VALUE);
    // A NaN sum (written null) stays null.
    const nan = [-Number.MAX_VALUE, null, Infinity, 0, 0, 0, 0, 1];
    addValues(nan, [-Number.MAX_VALUE, 5, -Infinity, 0, 0, 0, 0, 1]);
    expect(nan.slice(0, 3)).toEqual([-Number.MAX_VALUE, null, null]);
  });
});
