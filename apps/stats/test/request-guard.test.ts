/**
 * The stats app's request guards (request-guard.ts) and error mapping, in
 * process with app.request(): malformed percent-encoding is a 400 (never a
 * 500, never an error log), state-changing requests need an allowed Host, a
 * same-origin (or listed) Origin and a JSON body of at most 64 KiB, and the
 * configuration of the allowed hosts and timeouts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@telemetry/shared/clock';
import { ConfigError } from '@telemetry/shared/config/env';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { deleteKeys, REDIS_URL, uniqueName } from '../../../test/support/services.js';
import { createStatsApp } from '../src/app.js';
import { parseStatsConfig } from '../src/config.js';
import type { RequestGuardOptions } from '../src/request-guard.js';
import { MAX_STATE_CHANGE_BODY_BYTES } from '../src/request-guard.js';
import { StatsService } from '../src/stats-service.js';

const HOUR_MS = 3_600_000;
type LogLine = { level: number; msg: string };

describe('stats request guards', () => {
  const prefix = uniqueName('stats-guard');
  const redis = new Redis(REDIS_URL);
  const store = new RedisCounterStore(redis, { prefix, retentionMs: HOUR_MS, detailRetentionMs: HOUR_MS, maxValuesPerHour: 5 });
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as LogLine) });
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'stats-guard-'));
    await writeFile(path.join(dataDir, 'index.json'), '{"ok":true}');
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const app = (hosts?: RequestGuardOptions) =>
    createStatsApp({
      service: new StatsService(store, systemClock, { detailRetentionMs: HOUR_MS, maxScanCounters: 250_000 }),
      retentionMs: HOUR_MS,
      logger,
      registry: new Registry(),
      isReady: () => true,
      limits: { queries: { maxConcurrent: 2, maxQueued: 2 }, maxStreams: 1 },
      dataDir,
      // A state-changing route of the test's own, to see what reaches a handler.
      mount: (statsApp) => statsApp.post('/admin/echo', async (c) => c.json({ received: await c.req.text() })),
      ...(hosts ? { hosts } : {}),
    });

  it('answers malformed percent-encoding in a path or query with 400 JSON, never 500, never an error log', async () => {
    const stats = app();
    logs.length = 0;
    for (const url of ['/data/%E0%A4%A.json', '/api/stats/dimensions/%E0%A4%A?window=1h', '/api/stats/summary?window=%E0%A4%A', '/data/%ZZ.json', '/%']) {
      const response = await stats.request(url);
      expect(response.status, url).toBe(400);
      expect(await response.json()).toEqual({ error: 'the URL has a malformed percent-encoding' });
    }
    // Well-formed encodings still reach their routes.
    expect(await (await stats.request('/data/%69ndex.json')).json()).toEqual({ ok: true });
    expect((await stats.request('/api/stats/summary?window=1%6D')).status).toBe(200);
    expect(logs.filter((line) => line.level >= 50)).toEqual([]);
  });

  it('refuses a state-changing request to a host that is not allowed, anywhere in the app', async () => {
    const stats = app();
    const refused = await stats.request('http://rebound.example/api/stats/summary', { method: 'POST', headers: { host: 'rebound.example' } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/STATS_ALLOWED_HOSTS/);
    // The loopback names are allowed on any port; a GET outside /admin is not checked.
    for (const host of ['localhost:8081', '127.0.0.1', '[::1]:9000']) {
      expect((await stats.request('/admin/echo', { method: 'POST', headers: { host } })).status, host).toBe(200);
    }
    expect((await stats.request('/status', { headers: { host: 'rebound.example' } })).status).toBe(200);
  });

  it('allows STATS_HOST when it is a concrete address, and the names of STATS_ALLOWED_HOSTS', async () => {
    const stats = app({ listenHost: '10.1.2.3', allowedHosts: ['stats.example.org', 'board.example.org:8443'] });
    const status = async (host: string, origin?: string) =>
      (await stats.request('/admin/echo', { method: 'POST', headers: { host, ...(origin ? { origin } : {}) } })).status;
    expect(await status('10.1.2.3:8081')).toBe(200);
    expect(await status('stats.example.org')).toBe(200);
    expect(await status('board.example.org:8443')).toBe(200);
    expect(await status('board.example.org:8444')).toBe(403);
    expect(await status('other.example.org')).toBe(403);
    // A proxy that rewrites Host: the Origin is accepted when it names a listed host.
    expect(await status('127.0.0.1:8081', 'https://stats.example.org')).toBe(200);
    expect(await status('127.0.0.1:8081', 'https://other.example.org')).toBe(403);
    // A wildcard STATS_HOST adds nothing.
    const wildcard = app({ listenHost: '0.0.0.0', allowedHosts: [] });
    expect((await wildcard.request('/admin/echo', { method: 'POST', headers: { host: '0.0.0.0:8081' } })).status).toBe(403);
  });

  it('refuses a cross-origin or opaque Origin, accepts the same origin whatever the scheme', async () => {
    const stats = app();
    const post = (origin: string) => stats.request('/admin/echo', { method: 'POST', headers: { host: 'localhost:8081', origin } });
    expect((await post('http://localhost:8081')).status).toBe(200);
    expect((await post('https://localhost:8081')).status).toBe(200);
    for (const origin of ['http://localhost:3000', 'http://localhost', 'https://attacker.example', 'null', 'not a url']) {
      const response = await post(origin);
      expect(response.status, origin).toBe(403);
      expect(((await response.json()) as { error: string }).error).toMatch(/Origin/);
    }
  });

  it('takes only JSON bodies, of at most 64 KiB, on state-changing requests', async () => {
    const stats = app();
    const send = (headers: Record<string, string>, body?: string) => stats.request('/admin/echo', { method: 'POST', headers, ...(body === undefined ? {} : { body }) });
    expect((await send({ 'content-type': 'application/json; charset=utf-8' }, '{"a":1}')).status).toBe(200);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const response = await send({ 'content-type': type }, 'a=1');
      expect(response.status, type).toBe(415);
    }
    // A body announced without a Content-Type is refused as well; no body and no type is fine (bull-board's PUTs).
    expect((await send({ 'content-length': '7' }, '{"a":1}')).status).toBe(415);
    expect((await send({ 'content-length': '0' })).status).toBe(200);
    const big = JSON.stringify({ data: 'x'.repeat(MAX_STATE_CHANGE_BODY_BYTES) });
    const tooLarge = await send({ 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(big)) }, big);
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { error: string }).error).toMatch(/larger than 65536 bytes/);
    // Without Content-Length the body is counted as it is read.
    expect((await send({ 'content-type': 'application/json' }, big)).status).toBe(413);
  });

  it('parses STATS_ALLOWED_HOSTS and the timeouts, and refuses a header timeout above the request timeout', () => {
    const config = parseStatsConfig({ STATS_ALLOWED_HOSTS: ' Stats.Example.org, ,board.example.org:8443 ', HEADERS_TIMEOUT: '2s', REQUEST_TIMEOUT: '5s' });
    expect(config.allowedHosts).toEqual(['stats.example.org', 'board.example.org:8443']);
    expect({ headers: config.headersTimeoutMs, request: config.requestTimeoutMs }).toEqual({ headers: 2_000, request: 5_000 });
    const defaults = parseStatsConfig({});
    expect({ hosts: defaults.allowedHosts, headers: defaults.headersTimeoutMs, request: defaults.requestTimeoutMs }).toEqual({ hosts: [], headers: 10_000, request: 30_000 });
    expect(() => parseStatsConfig({ HEADERS_TIMEOUT: '40s' })).toThrow(ConfigError);
    expect(() => parseStatsConfig({ HEADERS_TIMEOUT: '40s' })).toThrow(/HEADERS_TIMEOUT/);
  });
});
