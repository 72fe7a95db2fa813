/**
 * The Dockerflow sub-app (shared/src/http/dockerflow.ts), the heartbeat
 * checks against the real RabbitMQ and Redis (and a wrong vhost, a closed
 * port, a free-space threshold no disk meets), and the version.json rules.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/env.js';
import { loadVersionInfo, packageVersionInfo } from '../src/config/ops.js';
import { dockerflowApp, runChecks, type HeartbeatReport } from '../src/http/dockerflow.js';
import { freeSpaceCheck, rabbitmqCheck, redisCheck } from '../src/http/health-checks.js';
import { AMQP_URL, REDIS_URL } from '../../test/support/services.js';
import { freePort } from '../../test/support/ports.js';

const VERSION = { source: 'https://example.org/telemetry', version: '1.2.3', commit: 'abc123', build: 'https://ci.example.org/1' };

describe('dockerflowApp', () => {
  it('answers /__lbheartbeat__ without running any check, and /__version__ with the version.json', async () => {
    let runs = 0;
    const app = dockerflowApp({ checks: { slow: () => new Promise((resolve) => setTimeout(() => resolve(`${++runs}`), 10)) }, version: VERSION, timeoutMs: 1_000 });
    const lb = await app.request('/__lbheartbeat__');
    expect([lb.status, runs]).toEqual([200, 0]);
    const version = await app.request('/__version__');
    expect(version.status).toBe(200);
    expect(await version.json()).toEqual(VERSION);
    expect((await app.request('/__heartbeat__', { method: 'POST' })).status).toBe(405);
  });

  it('answers /__heartbeat__ 200 with one entry per check when all pass, 500 naming the one that failed or took too long', async () => {
    const ok = dockerflowApp({ checks: { a: () => Promise.resolve('fine'), b: () => Promise.resolve(undefined) }, version: VERSION, timeoutMs: 500 });
    const passing = await ok.request('/__heartbeat__');
    const report = (await passing.json()) as HeartbeatReport;
    expect(passing.status).toBe(200);
    expect(report.status).toBe('ok');
    expect(report.checks).toEqual({ a: 'ok', b: 'ok' });
    expect(report.details.a?.message).toBe('fine');

    const started = Date.now();
    const failing = dockerflowApp({
      checks: { fine: () => Promise.resolve('ok'), broken: () => Promise.reject(new Error('disk on fire')), stuck: () => new Promise<never>(() => undefined) },
      version: VERSION,
      timeoutMs: 200,
    });
    const answer = await failing.request('/__heartbeat__');
    const failed = (await answer.json()) as HeartbeatReport;
    expect(answer.status).toBe(500);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(failed.checks).toEqual({ fine: 'ok', broken: 'error', stuck: 'error' });
    expect(failed.details.broken?.message).toBe('disk on fire');
    expect(failed.details.stuck?.message).toBe('no answer within 200 ms');
  });

  it('runs the checks once for concurrent heartbeats', async () => {
    let runs = 0;
    const app = dockerflowApp({ checks: { counted: () => new Promise((resolve) => setTimeout(() => resolve(String(++runs)), 50)) }, version: VERSION, timeoutMs: 1_000 });
    const answers = await Promise.all([app.request('/__heartbeat__'), app.request('/__heartbeat__'), app.request('/__heartbeat__')]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(runs).toBe(1);
    await app.request('/__heartbeat__');
    expect(runs).toBe(2);
  });
});

describe('heartbeat checks against the real services', () => {
  let closedPort: number;
  let silent: http.Server;
  let silentPort: number;
  beforeAll(async () => {
    closedPort = await freePort();
    // Accepts connections and never answers: the timeout must bound the check.
    silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as AddressInfo).port;
  });
  afterAll(() => {
    silent.closeAllConnections();
    silent.close();
  });

  it('passes for the real RabbitMQ and Redis, fails for a wrong vhost, a closed port and a server that never answers', async () => {
    const wrongVhost = `${AMQP_URL.replace(/\/$/, '')}/no-such-vhost-${Date.now()}`;
    const report = await runChecks(
      {
        rabbitmq: rabbitmqCheck(AMQP_URL, 1_000),
        redis: redisCheck(REDIS_URL, 1_000),
        rabbitmq_vhost: rabbitmqCheck(wrongVhost, 1_000),
        rabbitmq_closed: rabbitmqCheck(`amqp://guest:guest@127.0.0.1:${closedPort}`, 1_000),
        redis_closed: redisCheck(`redis://127.0.0.1:${closedPort}`, 1_000),
        redis_silent: redisCheck(`redis://127.0.0.1:${silentPort}`, 300),
      },
      1_000,
    );
    expect(report.checks).toEqual({ rabbitmq: 'ok', redis: 'ok', rabbitmq_vhost: 'error', rabbitmq_closed: 'error', redis_closed: 'error', redis_silent: 'error' });
    expect(report.details.redis?.message).toBe('PONG');
    expect(report.details.rabbitmq_closed?.message).toMatch(/ECONNREFUSED/);
    expect(report.details.rabbitmq_vhost?.message).toMatch(/refused to open the vhost/);
    expect(report.details.redis_silent?.durationMs).toBeLessThan(1_000);
  });

  it('passes for a broker list while one node answers, saying which did not', async () => {
    const closed = `amqp://guest:secret@127.0.0.1:${closedPort}`;
    const report = await runChecks({ some: rabbitmqCheck(`${closed},${AMQP_URL}`, 1_000), none: rabbitmqCheck(`${closed},${closed}/other`, 1_000) }, 2_000);
    expect(report.checks).toEqual({ some: 'ok', none: 'error' });
    expect(report.details.some?.message).toMatch(new RegExp(`^connected to 1 of 2 brokers \\(127\\.0\\.0\\.1:${closedPort}: .*ECONNREFUSED`));
    expect(report.details.none?.message).toMatch(/^no broker answered/);
    expect(JSON.stringify(report)).not.toContain('secret');
  });

  it('checks free space against the threshold, on the nearest existing parent of a directory not created yet', async () => {
    const dir = path.join(os.tmpdir(), `not-yet-${Date.now()}`, 'storage');
    const report = await runChecks({ enough: freeSpaceCheck(dir, 1), too_little: freeSpaceCheck(os.tmpdir(), Number.MAX_SAFE_INTEGER) }, 1_000);
    expect(report.checks).toEqual({ enough: 'ok', too_little: 'error' });
    expect(report.details.enough?.message).toMatch(/free, at least 0\.0 MiB wanted/);
  });
});

describe('version.json', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'version-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the file as written, and fills version/commit/source it lacks with "unknown"', async () => {
    const file = path.join(dir, 'version.json');
    await writeFile(file, JSON.stringify(VERSION));
    expect(loadVersionInfo(file)).toEqual(VERSION);
    await writeFile(file, JSON.stringify({ version: '2.0.0' }));
    expect(loadVersionInfo(file)).toEqual({ version: '2.0.0', commit: 'unknown', source: 'unknown' });
  });

  it('falls back to package.json (its version, commit "unknown") without the file, and refuses a file that is not a JSON object', async () => {
    const fallback = loadVersionInfo(path.join(dir, 'absent.json'));
    expect(fallback).toEqual(packageVersionInfo());
    expect(fallback.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(fallback.commit).toBe('unknown');
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, '[1, 2');
    expect(() => loadVersionInfo(broken)).toThrow(ConfigError);
    expect(() => loadVersionInfo(broken)).toThrow(/VERSION_FILE: .*broken\.json is not a JSON object/);
  });
});
