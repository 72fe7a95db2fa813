import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { PingError, RevisionUnavailableError } from '../src/errors.js';
import { RevisionCache } from '../src/revisions/revision-cache.js';
import { histogramsPath, startHgServer, writeHgRevision, type HgServer } from '../../test/support/hg-server.js';
import { fixturePath } from '../../test/support/fixtures.js';

const REPO = 'mozilla-central';
const REAL = '8d3810543edc';
const UNKNOWN = '0123456789ab';
const urlOf = (revision: string) => `https://hg.mozilla.org/${REPO}/rev/${revision}`;
const realFile = fixturePath('hg', histogramsPath(REPO, REAL));

/** The rejection of a promise (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function expectMissingRevision(error: unknown): void {
  expect(error).toBeInstanceOf(PingError);
  expect((error as PingError).type).toBe('missing_revision');
}

let tempDir: string;
let hgRoot: string;
let cacheDir: string;
let server: HgServer;
let clock: ManualClock;
beforeEach(async () => {
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'revision-faults-'));
  hgRoot = path.join(tempDir, 'hg');
  cacheDir = path.join(tempDir, 'cache');
  await writeHgRevision(hgRoot, REPO, REAL, await readFile(realFile));
  server = await startHgServer({ root: hgRoot });
  clock = new ManualClock(1_700_000_000_000);
});
afterEach(async () => {
  await server.close();
  await rm(tempDir, { recursive: true, force: true });
});

const newCache = (options: { fetchTimeoutMs?: number; maxFileBytes?: number } = {}) =>
  new RevisionCache({ hgServer: server.url, cacheDir, clock, notFoundTtlMs: 60_000, ...options });

describe('RevisionCache: permanent answers (missing_revision)', () => {
  it('remembers a 404 until the TTL expires, then asks again', async () => {
    const cache = newCache();
    expectMissingRevision(await rejectionOf(cache.get(urlOf(UNKNOWN))));
    clock.advance(59_999);
    expectMissingRevision(await rejectionOf(cache.get(urlOf(UNKNOWN))));
    expect(server.requests).toHaveLength(1);

    // The revision appears on the server (pushed late): found once the answer expires.
    await writeHgRevision(hgRoot, REPO, UNKNOWN, await readFile(realFile));
    clock.advance(1);
    expect((await cache.get(urlOf(UNKNOWN))).size).toBeGreaterThan(500);
    expect(server.requests).toHaveLength(2);
    expect(cache.counters).toMatchObject({ fetches: 2, notFound: 1, notFoundHits: 1 });
  });

  it('shares one 404 among concurrent gets', async () => {
    server.setDelayMs(50);
    const cache = newCache();
    const errors = await Promise.all(Array.from({ length: 20 }, () => rejectionOf(cache.get(urlOf(UNKNOWN)))));
    errors.forEach(expectMissingRevision);
    expect(server.requests).toHaveLength(1);
  });

  it.each(['invalid.json', 'invalid_kind.json', 'invalid_schema.json', 'missing_kind.json'])(
    'refuses the invalid file %s, remembers it and never caches it on disk',
    async (name) => {
      await copyFile(fixturePath('histograms-bad', name), await writeHgRevision(hgRoot, REPO, UNKNOWN, ''));
      const cache = newCache();
      const error = await rejectionOf(cache.get(urlOf(UNKNOWN)));
      expectMissingRevision(error);
      expect((error as Error).message).toMatch(/invalid Histograms\.json/);
      expectMissingRevision(await rejectionOf(cache.get(urlOf(UNKNOWN))));
      expect(server.requests).toHaveLength(1);
      await expect(readdir(path.join(cacheDir, REPO, UNKNOWN))).rejects.toThrow(/ENOENT/);
    },
  );

  it('refuses an answer larger than maxFileBytes', async () => {
    const cache = newCache({ maxFileBytes: 10_000 });
    expectMissingRevision(await rejectionOf(cache.get(urlOf(REAL))));
  });

  it('refuses a malformed revision URL without contacting the server', async () => {
    const cache = newCache();
    expectMissingRevision(await rejectionOf(cache.get('https://hg.mozilla.org/../../etc/rev/a55c55edf302')));
    expectMissingRevision(await rejectionOf(cache.get(42 as unknown as string)));
    expect(server.requests).toHaveLength(0);
    expect(cache.counters.invalidUrls).toBe(2);
  });
});

describe('RevisionCache: transient answers (RevisionUnavailableError, never remembered)', () => {
  it.each([500, 502, 503, 429])('HTTP %i, then recovery on the next get', async (status) => {
    const cache = newCache();
    server.failNext(1, status);
    const error = await rejectionOf(cache.get(urlOf(REAL)));
    expect(error).toBeInstanceOf(RevisionUnavailableError);
    expect((error as Error).message).toContain(`HTTP ${status}`);
    expect((await cache.get(urlOf(REAL))).size).toBeGreaterThan(500);
    expect(server.requests).toHaveLength(2);
    expect(cache.counters).toMatchObject({ unavailable: 1, notFound: 0, fetches: 2 });
  });

  it('a connection dropped without an answer', async () => {
    const cache = newCache();
    server.failNext(1, 0);
    expect(await rejectionOf(cache.get(urlOf(REAL)))).toBeInstanceOf(RevisionUnavailableError);
    expect((await cache.get(urlOf(REAL))).size).toBeGreaterThan(500);
  });

  it('a server slower than fetchTimeoutMs', async () => {
    const cache = newCache({ fetchTimeoutMs: 100 });
    server.setDelayMs(2_000);
    const error = await rejectionOf(cache.get(urlOf(REAL)));
    expect(error).toBeInstanceOf(RevisionUnavailableError);
    expect((error as Error).message).toMatch(/timed out after 100 ms/);
    server.setDelayMs(0);
    expect((await cache.get(urlOf(REAL))).size).toBeGreaterThan(500);
  });

  it('a server that is down (closed port)', async () => {
    const down = await startHgServer({ root: hgRoot });
    await down.close();
    const cache = new RevisionCache({ hgServer: down.url, cacheDir, clock });
    const error = await rejectionOf(cache.get(urlOf(REAL)));
    expect(error).toBeInstanceOf(RevisionUnavailableError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    // Not remembered: the next get tries the server again (still down).
    expect(await rejectionOf(cache.get(urlOf(REAL)))).toBeInstanceOf(RevisionUnavailableError);
    expect(cache.counters).toMatchObject({ fetches: 2, unavailable: 2, notFound: 0, notFoundHits: 0 });
  });
});
