import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import { RevisionDiskCache } from '../src/revisions/disk-cache.js';
import { RevisionCache } from '../src/revisions/revision-cache.js';
import { histogramsPath, startHgServer, writeHgRevision, type HgServer } from '../../test/support/hg-server.js';
import { fixturePath } from '../../test/support/fixtures.js';

const REPO = 'mozilla-central';
// The largest 2013 fixture (130 093 bytes), served under made-up revision ids.
const REAL = 'ad0ae007aa9e';
const realText = () => readFile(fixturePath('hg', histogramsPath(REPO, REAL)), 'utf8');
const idOf = (i: number) => i.toString(16).padStart(12, '0');
const urlOf = (revision: string) => `https://hg.mozilla.org/${REPO}/rev/${revision}`;

/** Every file under dir, with its size. */
async function filesUnder(dir: string): Promise<{ file: string; bytes: number }[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const files: { file: string; bytes: number }[] = [];
  for (const name of names) {
    const info = await stat(path.join(dir, name));
    if (info.isFile()) files.push({ file: name, bytes: info.size });
  }
  return files;
}
const totalBytes = async (dir: string) => (await filesUnder(dir)).reduce((sum, f) => sum + f.bytes, 0);
const cachedRevisions = async (dir: string) =>
  (await filesUnder(dir)).filter((f) => f.file.endsWith('Histograms.json')).map((f) => path.basename(path.dirname(f.file))).sort();

let tempDir: string;
let cacheDir: string;
let clock: ManualClock;
beforeEach(async () => {
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'revision-disk-'));
  cacheDir = path.join(tempDir, 'cache');
  clock = new ManualClock(1_700_000_000_000);
});
afterEach(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

describe('RevisionCache with a bounded disk cache (real revisions from the hg server)', () => {
  let server: HgServer;
  let size: number;
  beforeEach(async () => {
    const text = await realText();
    size = Buffer.byteLength(text);
    const hgRoot = path.join(tempDir, 'hg');
    for (let i = 0; i < 12; i++) await writeHgRevision(hgRoot, REPO, idOf(i), text);
    server = await startHgServer({ root: hgRoot });
  });
  afterEach(async () => {
    await server.close();
  });

  it('keeps the total within diskMaxBytes, evicting the least recently used; a revision in use survives', async () => {
    const diskMaxBytes = 4 * size + 1_000;
    // One revision in memory: every other get of revision 0 reads (and so touches) its file.
    const cache = new RevisionCache({ hgServer: server.url, cacheDir, clock, diskMaxBytes, memoryEntries: 1 });
    await cache.get(urlOf(idOf(0)));
    for (let i = 1; i < 12; i++) {
      clock.advance(1_000);
      await cache.get(urlOf(idOf(i)));
      await cache.trimDisk();
      expect(await totalBytes(cacheDir)).toBeLessThanOrEqual(diskMaxBytes);
      clock.advance(1_000);
      const diskHits = cache.counters.diskHits;
      await cache.get(urlOf(idOf(0)));
      expect(cache.counters.diskHits, `revision 0 still on disk at step ${i}`).toBe(diskHits + 1);
    }
    expect(await cachedRevisions(cacheDir)).toEqual([idOf(0), idOf(9), idOf(10), idOf(11)]);
    // Fetched once each: eviction never threw a revision in use away.
    expect(server.requests).toHaveLength(12);
    // An evicted revision is fetched again, and saved again.
    await cache.get(urlOf(idOf(1)));
    expect(server.requests).toHaveLength(13);
    await cache.trimDisk();
    expect(await cachedRevisions(cacheDir)).toContain(idOf(1));
    expect(await totalBytes(cacheDir)).toBeLessThanOrEqual(diskMaxBytes);
  });

  it('counts memory hits as uses of the disk file (at most once a minute)', async () => {
    const diskMaxBytes = 3 * size + 1_000;
    const cache = new RevisionCache({ hgServer: server.url, cacheDir, clock, diskMaxBytes });
    await cache.get(urlOf(idOf(0)));
    for (let i = 1; i < 6; i++) {
      clock.advance(61_000);
      await cache.get(urlOf(idOf(0))); // from memory
      await new Promise((resolve) => setTimeout(resolve, 20)); // the touch is in the background
      clock.advance(1_000);
      await cache.get(urlOf(idOf(i)));
      await cache.trimDisk();
    }
    expect(cache.counters).toMatchObject({ memoryHits: 5, diskHits: 0, fetches: 6 });
    expect(await cachedRevisions(cacheDir)).toEqual([idOf(0), idOf(4), idOf(5)]);
  });

  it('a revision evicted by another process (cache) is fetched again, without an error', async () => {
    const worker = new RevisionCache({ hgServer: server.url, cacheDir, clock, memoryEntries: 1 });
    await worker.get(urlOf(idOf(0)));
    clock.advance(1_000);
    await worker.get(urlOf(idOf(1)));
    // Another process with a bound of one file evicts revision 0 (the older).
    clock.advance(1_000);
    const other = new RevisionCache({ hgServer: server.url, cacheDir, clock, diskMaxBytes: size + 1 });
    expect(await other.trimDisk()).toMatchObject({ files: 2, evictedFiles: 1, evictedBytes: size });
    expect((await worker.get(urlOf(idOf(0)))).size).toBeGreaterThan(500);
    expect(worker.counters).toMatchObject({ fetches: 3, diskHits: 0 });
  });
});

describe('RevisionDiskCache', () => {
  const ref = (i: number) => ({ repo: REPO, revision: idOf(i) });
  const newDisk = (maxBytes?: number) => new RevisionDiskCache({ dir: cacheDir, maxBytes, clock, logger: silentLogger });

  it('does not evict without a bound', async () => {
    const disk = newDisk();
    for (let i = 0; i < 5; i++) await disk.save(ref(i), 'x'.repeat(1_000));
    expect(await disk.trim()).toEqual({ files: 0, bytes: 0, evictedFiles: 0, evictedBytes: 0 });
    expect(await cachedRevisions(cacheDir)).toHaveLength(5);
  });

  it('removes evicted revision directories, temp files of dead saves, and keeps saves in progress', async () => {
    const filler = newDisk();
    for (let i = 0; i < 4; i++) {
      clock.advance(1_000);
      await filler.save(ref(i), 'x'.repeat(1_000));
    }
    const revisionDir = path.join(cacheDir, REPO, idOf(3));
    const dead = path.join(revisionDir, `.Histograms.json.4242.${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}.tmp`);
    const inProgress = path.join(revisionDir, `.Histograms.json.4243.${'1'.repeat(8)}-1111-1111-1111-${'1'.repeat(12)}.tmp`);
    await writeFile(dead, 'y'.repeat(300));
    await utimes(dead, new Date(clock.nowMs() - 2 * 3_600_000), new Date(clock.nowMs() - 2 * 3_600_000));
    await writeFile(inProgress, 'z'.repeat(200));
    await utimes(inProgress, new Date(clock.nowMs()), new Date(clock.nowMs()));
    // Not ours: other files are neither counted nor removed.
    await writeFile(path.join(cacheDir, 'README'), 'kept');

    const result = await newDisk(1_500).trim();
    // The dead temp file, then revisions 0, 1 and 2 (oldest first) until 1 200 bytes are left.
    expect(result).toEqual({ files: 6, bytes: 4_500, evictedFiles: 4, evictedBytes: 3_300 });
    expect(await cachedRevisions(cacheDir)).toEqual([idOf(3)]);
    expect(await readdir(path.join(cacheDir, REPO))).toEqual([idOf(3)]);
    expect((await readdir(revisionDir)).sort()).toEqual([path.basename(inProgress), 'Histograms.json'].sort());
    expect(await readFile(path.join(cacheDir, 'README'), 'utf8')).toBe('kept');
  });

  it('keeps the bound while processes sharing the directory save and trim at once', async () => {
    const writer = newDisk(10_000);
    const trimmer = newDisk(10_000);
    const texts = Array.from({ length: 60 }, (_, i) => JSON.stringify({ revision: i, pad: 'p'.repeat(900) }));
    await Promise.all([
      ...texts.map(async (text, i) => {
        clock.advance(10);
        await writer.save(ref(i), text);
      }),
      ...Array.from({ length: 20 }, () => trimmer.trim()),
    ]);
    // Both trim again once every save is done: they race each other on the same files.
    await Promise.all([writer.trim(), trimmer.trim()]);
    expect(await totalBytes(cacheDir)).toBeLessThanOrEqual(10_000);
    // What is left is whole, and nothing but cache files.
    const left = await filesUnder(cacheDir);
    expect(left.length).toBeGreaterThan(0);
    for (const { file } of left) {
      expect(path.basename(file)).toBe('Histograms.json');
      const revision = parseInt(path.basename(path.dirname(file)), 16);
      expect(await readFile(path.join(cacheDir, file), 'utf8')).toBe(texts[revision]);
    }
  });

  it('reads a file another process removed as a miss, and saves it again', async () => {
    const disk = newDisk();
    await disk.save(ref(1), 'one');
    await rm(path.join(cacheDir, REPO, idOf(1)), { recursive: true });
    expect(await disk.read(ref(1), 'r1')).toBeUndefined();
    await disk.save(ref(1), 'again');
    expect(await disk.read(ref(1), 'r1')).toBe('again');
    await disk.touch(ref(2)); // no file: no error
    await mkdir(path.join(cacheDir, REPO, idOf(2)), { recursive: true });
    expect(await disk.read(ref(2), 'r2')).toBeUndefined();
  });
});
