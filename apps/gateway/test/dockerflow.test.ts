/**
 * The gateway's Dockerflow endpoints and request-duration histogram, through
 * app.request(); /__heartbeat__ checks the real RabbitMQ (and fails for a
 * vhost that does not exist).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import type { HeartbeatReport } from '@telemetry/shared/http/dockerflow';
import { silentLogger } from '@telemetry/shared/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMQP_URL } from '../../../test/support/services.js';
import { createGatewayApp } from '../src/app.js';
import { parseGatewayConfig } from '../src/config.js';
import { createGatewayMetrics } from '../src/metrics.js';
import type { SubmissionSink } from '../src/submission-sink.js';

/** Takes every submission (the AMQP sink is tested against RabbitMQ elsewhere; here only the endpoints matter). */
const acceptingSink: SubmissionSink = { isReady: () => true, publish: (_submission: Submission) => Promise.resolve() };

const VERSION = { source: 'https://example.org/telemetry', version: '9.8.7', commit: '0123abcd', build: 'local' };

describe('gateway Dockerflow endpoints', () => {
  let dir: string;
  let versionFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gateway-dockerflow-'));
    versionFile = path.join(dir, 'version.json');
    await writeFile(versionFile, JSON.stringify(VERSION));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function setup(env: Record<string, string> = {}) {
    const config = parseGatewayConfig({ AMQP_URL, VERSION_FILE: versionFile, HEARTBEAT_TIMEOUT: '2s', ...env });
    const metrics = createGatewayMetrics({ defaultMetrics: false, version: config.version });
    return { app: createGatewayApp({ config, sink: acceptingSink, metrics, logger: silentLogger }), metrics };
  }

  it('answers /__lbheartbeat__, /__version__ from VERSION_FILE, /__heartbeat__ with RabbitMQ ok, and no /metrics', async () => {
    const { app, metrics } = setup();
    expect((await app.request('/__lbheartbeat__')).status).toBe(200);
    expect(await (await app.request('/__version__')).json()).toEqual(VERSION);
    const heartbeat = await app.request('/__heartbeat__');
    const report = (await heartbeat.json()) as HeartbeatReport;
    expect([heartbeat.status, report.status, report.checks]).toEqual([200, 'ok', { rabbitmq: 'ok' }]);
    expect((await app.request('/metrics')).status).toBe(404);
    expect(await metrics.registry.metrics()).toContain(`telemetry_build_info{app="gateway",version="9.8.7",commit="0123abcd",node_version="${process.version}"} 1`);
  });

  it('answers /__heartbeat__ 500 with the rabbitmq entry failing when the vhost does not exist, /__lbheartbeat__ still 200', async () => {
    const { app } = setup({ AMQP_URL: `${AMQP_URL.replace(/\/$/, '')}/no-such-vhost-${Date.now()}` });
    const heartbeat = await app.request('/__heartbeat__');
    const report = (await heartbeat.json()) as HeartbeatReport;
    expect([heartbeat.status, report.status, report.checks]).toEqual([500, 'error', { rabbitmq: 'error' }]);
    expect(report.details.rabbitmq?.message).toMatch(/vhost/);
    expect((await app.request('/__lbheartbeat__')).status).toBe(200);
  });

  it('times every request by route pattern and status class', async () => {
    const { app, metrics } = setup();
    const submit = (id: string) => app.request(`/submit/telemetry/${id}`, { method: 'POST', headers: { 'content-length': '2' }, body: '{}' });
    expect((await submit('doc-1')).status).toBe(200);
    expect((await submit('bad id!')).status).toBe(400);
    expect((await app.request('/nowhere')).status).toBe(404);
    await app.request('/__lbheartbeat__');
    const text = await metrics.registry.metrics();
    const count = (route: string, statusClass: string) =>
      new RegExp(`telemetry_gateway_http_request_duration_seconds_count\\{route="${route.replaceAll('*', '\\*')}",status_class="${statusClass}"\\} (\\d+)`).exec(text)?.[1];
    // The submission route's pattern (e.g. /submit/*), one label value for every docId.
    const submitRoute = /_count\{route="(\/submit\/[^"]*)",status_class="2xx"\}/.exec(text)?.[1] ?? 'none';
    expect(submitRoute).toMatch(/\*$/);
    expect(count(submitRoute, '2xx')).toBe('1');
    expect(count(submitRoute, '4xx')).toBe('1');
    expect(count('/__lbheartbeat__', '2xx')).toBe('1');
    // Nothing matched: the middleware's own pattern, so unknown paths cannot add label values.
    expect(count('/*', '4xx')).toBe('1');
  });
});
