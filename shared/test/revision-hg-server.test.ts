import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { histogramsPath, startHgServer, writeHgRevision, type HgServer } from '../../test/support/hg-server.js';
import { fixturePath } from '../../test/support/fixtures.js';

// Raw requests: fetch() would normalise `..` away before sending it.
function rawGet(url: string, requestPath: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, path: requestPath, method, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

describe('test hg server', () => {
  let server: HgServer;
  beforeEach(async () => {
    server = await startHgServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('serves a fixture revision byte for byte and records the request', async () => {
    const requestPath = histogramsPath('releases/mozilla-release', 'a55c55edf302');
    const expected = await readFile(fixturePath('hg', requestPath), 'utf8');
    const answer = await rawGet(server.url, requestPath);
    expect(answer).toEqual({ status: 200, body: expected });
    expect(server.requests).toEqual([requestPath]);
  });

  it.each([
    histogramsPath('mozilla-central', '000000000000'),
    '/mozilla-central/raw-file/8d3810543edc',
    '/',
    '/../README.md',
    '/mozilla-central/../../README.md',
    '/%2e%2e/README.md',
    '/mozilla-central/%2e%2e/%2e%2e/README.md',
    '/..%2fREADME.md',
    '/..%5cREADME.md',
    '/%00',
    '/%zz',
  ])('answers 404 for %s', async (requestPath) => {
    expect((await rawGet(server.url, requestPath)).status).toBe(404);
  });

  it('answers 405 to other methods, and HEAD without a body', async () => {
    const requestPath = histogramsPath('mozilla-central', '8d3810543edc');
    expect((await rawGet(server.url, requestPath, 'POST')).status).toBe(405);
    expect(await rawGet(server.url, requestPath, 'HEAD')).toEqual({ status: 200, body: '' });
  });

  it('injects failures for the next requests only', async () => {
    const requestPath = histogramsPath('mozilla-central', 'ad0ae007aa9e');
    server.failNext(2, 503);
    expect((await rawGet(server.url, requestPath)).status).toBe(503);
    expect((await rawGet(server.url, requestPath)).status).toBe(503);
    expect((await rawGet(server.url, requestPath)).status).toBe(200);
    server.failNext(1, 0);
    await expect(rawGet(server.url, requestPath)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(server.requests).toHaveLength(4);
  });

  it('delays answers', async () => {
    server.setDelayMs(150);
    const started = Date.now();
    expect((await rawGet(server.url, histogramsPath('mozilla-central', 'ad0ae007aa9e'))).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it.each(['a55c55edf302', 'a55c55', 'a'])('resolves the unique revision prefix %s as hg does', async (prefix) => {
    const expected = await readFile(fixturePath('hg', histogramsPath('releases/mozilla-release', 'a55c55edf302')), 'utf8');
    expect(await rawGet(server.url, histogramsPath('releases/mozilla-release', prefix))).toEqual({ status: 200, body: expected });
  });

  it('answers 404 for an id longer than the revision directory (not a prefix of it)', async () => {
    expect((await rawGet(server.url, histogramsPath('mozilla-central', `8d3810543edc${'0'.repeat(28)}`))).status).toBe(404);
  });
});

describe('test hg server with full 40-digit revision directories', () => {
  const FULL_A = 'abcdef0123456789abcdef0123456789abcdef01';
  const FULL_B = 'abc0000000000000000000000000000000000000';
  let root: string;
  let server: HgServer;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'hg-prefix-'));
    await writeHgRevision(root, 'mozilla-central', FULL_A, '{"A": 1}');
    await writeHgRevision(root, 'mozilla-central', FULL_B, '{"B": 1}');
    server = await startHgServer({ root });
  });
  afterEach(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves a revision by its short id, its full id or any unique prefix', async () => {
    for (const id of [FULL_A, FULL_A.slice(0, 12), 'abcd']) {
      expect(await rawGet(server.url, histogramsPath('mozilla-central', id))).toEqual({ status: 200, body: '{"A": 1}' });
    }
    expect(await rawGet(server.url, histogramsPath('mozilla-central', 'abc0'))).toEqual({ status: 200, body: '{"B": 1}' });
  });

  it('answers 404 for an ambiguous prefix, as hg does', async () => {
    expect((await rawGet(server.url, histogramsPath('mozilla-central', 'abc'))).status).toBe(404);
  });
});
