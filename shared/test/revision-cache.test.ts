import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { estimateDefinitionsBytes } from '../src/revisions/definitions-size.js';
import { RevisionCache } from '../src/revisions/revision-cache.js';
import { histogramsPath, startHgServer, type HgServer } from '../../test/support/hg-server.js';
import { fixturePath } from '../../test/support/fixtures.js';

const REVISIONS = [
  { repo: 'releases/mozilla-release', revision: 'a55c55edf302' },
  { repo: 'mozilla-central', revision: '8d3810543edc' },
  { repo: 'mozilla-central', revision: 'ad0ae007aa9e' },
] as const;
const urlOf = (r: { repo: string; revision: string }) => `https://hg.mozilla.org/${r.repo}/rev/${r.revision}`;
const cachedFile = (dir: string, r: { repo: string; revision: string }) =>
  path.join(dir, ...r.repo.split('/'), r.revision, 'Histograms.json');
const [RELEASE, CENTRAL] = REVISIONS;

let server: HgServer;
let cacheDir: string;
beforeEach(async () => {
  server = await startHgServer();
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'revision-cache-'));
});
afterEach(async () => {
  await server.close();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('RevisionCache with the real revisions', () => {
  it.each(REVISIONS)('fetches, compiles and saves $repo $revision', async (ref) => {
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    const definitions = await cache.get(urlOf(ref));

    const original = await readFile(fixturePath('hg', histogramsPath(ref.repo, ref.revision)), 'utf8');
    expect(definitions.size).toBe(Object.keys(JSON.parse(original) as object).length);
    // SPEC 4.2's example histogram, in all three revisions.
    expect(definitions.get('DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT')?.bounds).toEqual([0, 1, 3, 8, 21, 57, 154, 414, 1114, 3000]);
    expect(server.requests).toEqual([histogramsPath(ref.repo, ref.revision)]);
    // Saved verbatim, and the temp file was renamed, not left behind.
    expect(await readFile(cachedFile(cacheDir, ref), 'utf8')).toBe(original);
    expect(await readdir(path.dirname(cachedFile(cacheDir, ref)))).toEqual(['Histograms.json']);
    expect(cache.counters).toMatchObject({ fetches: 1, diskHits: 0, memoryHits: 0, notFound: 0 });
  });

  it('answers again from memory without a request, same compiled object', async () => {
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    const first = await cache.get(urlOf(RELEASE));
    // http vs https and hex case do not matter: one revision, one entry.
    const second = await cache.get('http://hg.mozilla.org/releases/mozilla-release/rev/A55C55EDF302');
    expect(second).toBe(first);
    expect(server.requests).toHaveLength(1);
    expect(cache.counters).toMatchObject({ fetches: 1, memoryHits: 1 });
  });

  it('keys a 40-digit upper-case id and its 12-digit lower-case short id as one revision: one fetch, one file', async () => {
    server.setDelayMs(50);
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    const full = `https://hg.mozilla.org/${CENTRAL.repo}/rev/${CENTRAL.revision.toUpperCase()}0123456789ABCDEF0123456789AB`;
    const short = urlOf(CENTRAL);
    // At once (the shared load) and after (memory), in both spellings.
    const results = await Promise.all([cache.get(full), cache.get(short), cache.get(full.toLowerCase())]);
    results.push(await cache.get(full), await cache.get(short));
    expect(new Set(results).size).toBe(1);
    expect(server.requests).toEqual([histogramsPath(CENTRAL.repo, CENTRAL.revision)]);
    expect(await readdir(path.join(cacheDir, CENTRAL.repo))).toEqual([CENTRAL.revision]);

    // Another process: the full id finds the short id's file on disk.
    const restarted = new RevisionCache({ hgServer: server.url, cacheDir });
    expect((await restarted.get(full)).size).toBe(results[0]?.size);
    expect(restarted.counters).toMatchObject({ diskHits: 1, fetches: 0 });
  });

  it('remembers a 404 under the normalised id too', async () => {
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    await expect(cache.get('https://hg.mozilla.org/mozilla-central/rev/0123456789AB')).rejects.toThrow(/answered HTTP 404/);
    await expect(cache.get('https://hg.mozilla.org/mozilla-central/rev/0123456789abcdef0123456789abcdef01234567')).rejects.toThrow(/answered HTTP 404/);
    expect(server.requests).toEqual([histogramsPath('mozilla-central', '0123456789ab')]);
    expect(cache.counters).toMatchObject({ fetches: 1, notFound: 1, notFoundHits: 1 });
  });

  it('fetches a short id by its prefix, as the server resolves it', async () => {
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    const definitions = await cache.get('https://hg.mozilla.org/releases/mozilla-release/rev/A55C55');
    expect(definitions.size).toBeGreaterThan(500);
    expect(server.requests).toEqual([histogramsPath(RELEASE.repo, 'a55c55')]);
  });

  it('shares one fetch among 50 concurrent gets (single flight)', async () => {
    server.setDelayMs(100);
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.get(urlOf(CENTRAL))));
    expect(server.requests).toHaveLength(1);
    expect(new Set(results).size).toBe(1);
    expect(cache.counters.fetches).toBe(1);
  });

  it('loads from the disk cache in a new instance (another process) without a request', async () => {
    await new RevisionCache({ hgServer: server.url, cacheDir }).get(urlOf(RELEASE));
    const restarted = new RevisionCache({ hgServer: server.url, cacheDir });
    const definitions = await restarted.get(urlOf(RELEASE));
    expect(definitions.get('DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT')?.bucketCount).toBe(10);
    expect(server.requests).toHaveLength(1);
    expect(restarted.counters).toMatchObject({ diskHits: 1, fetches: 0 });
  });

  it('keeps at most memoryEntries revisions in memory, then reloads from disk', async () => {
    const cache = new RevisionCache({ hgServer: server.url, cacheDir, memoryEntries: 1 });
    await cache.get(urlOf(RELEASE));
    await cache.get(urlOf(CENTRAL));
    await cache.get(urlOf(RELEASE));
    expect(server.requests).toHaveLength(2);
    expect(cache.counters).toMatchObject({ fetches: 2, diskHits: 1, memoryHits: 0 });
  });

  it('keeps compiled revisions within memoryMaxBytes by their estimated heap', async () => {
    const probe = new RevisionCache({ hgServer: server.url, cacheDir });
    const release = estimateDefinitionsBytes(await probe.get(urlOf(RELEASE)));
    const central = estimateDefinitionsBytes(await probe.get(urlOf(CENTRAL)));
    // Room for one of them, not both.
    const cache = new RevisionCache({ hgServer: server.url, cacheDir, memoryMaxBytes: Math.max(release, central) + 1 });
    await cache.get(urlOf(RELEASE));
    await cache.get(urlOf(RELEASE));
    await cache.get(urlOf(CENTRAL));
    await cache.get(urlOf(RELEASE));
    expect(cache.counters).toMatchObject({ diskHits: 3, memoryHits: 1, fetches: 0 });
    // Smaller than one revision: nothing is kept, every get compiles from disk (and still answers).
    const tiny = new RevisionCache({ hgServer: server.url, cacheDir, memoryMaxBytes: 1_000 });
    await tiny.get(urlOf(RELEASE));
    expect((await tiny.get(urlOf(RELEASE))).size).toBeGreaterThan(500);
    expect(tiny.counters).toMatchObject({ diskHits: 2, memoryHits: 0 });
  });

  it('ignores an invalid file on disk, refetches it and repairs the cache', async () => {
    const file = cachedFile(cacheDir, RELEASE);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"truncated": ');
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    const definitions = await cache.get(urlOf(RELEASE));
    expect(definitions.size).toBeGreaterThan(500);
    expect(server.requests).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(
      await readFile(fixturePath('hg', histogramsPath(RELEASE.repo, RELEASE.revision)), 'utf8'),
    );
  });

  it('still answers when the disk cache cannot be written', async () => {
    // A file where the repo directory should be: mkdir fails, the get must not.
    await writeFile(path.join(cacheDir, 'mozilla-central'), 'not a directory');
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    expect((await cache.get(urlOf(CENTRAL))).size).toBeGreaterThan(500);
    expect(await cache.get(urlOf(CENTRAL))).toBeDefined();
    expect(server.requests).toHaveLength(1);
  });

  it('gives a revision\'s Histograms.json as parsed JSON (getSource): from the disk cache, refetched when gone', async () => {
    const cache = new RevisionCache({ hgServer: server.url, cacheDir });
    const original = JSON.parse(await readFile(fixturePath('hg', histogramsPath(RELEASE.repo, RELEASE.revision)), 'utf8')) as unknown;
    expect(await cache.getSource(urlOf(RELEASE))).toEqual(original);
    expect(server.requests).toHaveLength(1);
    await rm(cachedFile(cacheDir, RELEASE));
    expect(await cache.getSource(urlOf(RELEASE))).toEqual(original);
    expect(server.requests).toHaveLength(2);
    await expect(cache.getSource('https://hg.mozilla.org/mozilla-central/rev/0123456789ab')).rejects.toThrow(/answered HTTP 404/);
  });

  it('refuses an hgServer that is not an http(s) URL', () => {
    expect(() => new RevisionCache({ hgServer: 'hg.mozilla.org', cacheDir })).toThrow(TypeError);
    expect(() => new RevisionCache({ hgServer: 'file:///etc', cacheDir })).toThrow(TypeError);
  });
});
