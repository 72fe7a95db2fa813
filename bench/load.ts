/** Load and baselines the benchmarks share: autocannon submissions, a bare node:http server, a seeded revision cache. */
import { copyFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import { fixturePath } from '../test/support/fixtures.js';
import { uniqueSubmitPath } from './stack.js';

/** A ~1 KiB Firefox-like JSON ping (the body of the HTTP benchmarks). */
export function benchPingBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ver: 2,
    info: { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812' },
    ...extra,
    padding: 'x'.repeat(800),
  });
}

/**
 * A Firefox 23 saved-session ping of exactly `bytes` bytes of JSON (default
 * 2 KiB, the body of bench/ingest-path.ts): the 2013 ping's info section
 * (revision a55c55edf302, whose Histograms.json seedRevisionCache provides),
 * a few simple measurements, no histograms, and padding up to the size.
 */
export function firefoxPingBody(bytes = 2048): string {
  const ping = (padding: string) =>
    JSON.stringify({
      ver: 1,
      info: {
        reason: 'saved-session',
        OS: 'WINNT',
        appID: '{ec8030f7-c20a-464f-9b0e-13a3a9e97384}',
        appVersion: '23.0.1',
        appName: 'Firefox',
        appBuildID: '20130814063812',
        appUpdateChannel: 'release',
        platformBuildID: '20130814063812',
        revision: 'http://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302',
        locale: 'en-US',
        cpucount: 2,
        memsize: 4096,
        arch: 'x86',
        version: '6.1',
      },
      simpleMeasurements: { uptime: 123, start: 47, main: 1375, firstPaint: 4813, sessionRestored: 4875 },
      histograms: {},
      padding,
    });
  const size = Buffer.byteLength(ping(''));
  if (size > bytes) throw new Error(`a Firefox ping body takes at least ${size} bytes`);
  return ping('x'.repeat(bytes - size));
}

export interface SubmitLoad {
  readonly seconds: number;
  readonly connections: number;
  readonly body: string;
  /** Requests per second over all connections; unset: as fast as answered. */
  readonly overallRate?: number;
}

/** POSTs `body` to unique Firefox-style submission paths of `url` with autocannon. */
export function submitLoad(url: string, load: SubmitLoad): Promise<autocannon.Result> {
  const nextPath = uniqueSubmitPath('bench');
  return autocannon({
    url,
    connections: load.connections,
    duration: load.seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: load.body,
    ...(load.overallRate ? { overallRate: load.overallRate } : {}),
    requests: [{ setupRequest: (request) => ({ ...request, path: nextPath() }) }],
  });
}

/** 2xx per second, non-2xx and errors of a `submitLoad`. */
export async function submitRate(url: string, load: SubmitLoad): Promise<{ rate: number; non2xx: number; errors: number }> {
  const result = await submitLoad(url, load);
  return { rate: result['2xx'] / load.seconds, non2xx: result.non2xx, errors: result.errors };
}

/** The same load against a bare node:http server that reads the body and answers 200 (the HTTP baseline). */
export async function bareHttpRate(load: SubmitLoad): Promise<{ rate: number; non2xx: number; errors: number }> {
  const bare = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('OK'));
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  try {
    return await submitRate(`http://127.0.0.1:${(bare.address() as AddressInfo).port}`, load);
  } finally {
    await new Promise((resolve) => bare.close(resolve));
  }
}

/** Puts the fixtures' Histograms.json of `releases/mozilla-release/<revision>` in a revision disk cache: no HTTP server needed. */
export async function seedRevisionCache(cacheDir: string, revision: string): Promise<void> {
  const revisionDir = path.join(cacheDir, 'releases', 'mozilla-release', revision);
  await mkdir(revisionDir, { recursive: true });
  await copyFile(
    fixturePath('hg', `releases/mozilla-release/raw-file/${revision}/toolkit/components/telemetry/Histograms.json`),
    path.join(revisionDir, 'Histograms.json'),
  );
}
