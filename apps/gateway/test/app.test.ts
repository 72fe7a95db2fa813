import { gzipSync } from 'node:zlib';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import { BrokerUnavailableError, PublishBackpressureError } from '@telemetry/shared/amqp/confirm-publisher';
import { ManualClock } from '@telemetry/shared/clock';
import { silentLogger } from '@telemetry/shared/logger';
import { describe, expect, it } from 'vitest';
import { createGatewayApp } from '../src/app.js';
import { parseGatewayConfig } from '../src/config.js';
import { createGatewayMetrics } from '../src/metrics.js';
import type { SubmissionSink } from '../src/submission-sink.js';

/** An in-memory sink: records what the gateway hands over (the AMQP one is tested against RabbitMQ). */
class RecordingSink implements SubmissionSink {
  readonly published: Submission[] = [];
  ready = true;
  failWith: Error | undefined;
  isReady(): boolean {
    return this.ready;
  }
  async publish(submission: Submission): Promise<void> {
    await Promise.resolve();
    if (this.failWith) throw this.failWith;
    this.published.push(submission);
  }
}

const DOC_ID = '17caa68c-2c50-4f5c-a36b-a0d7e0cd8d55';
const FULL_PATH = `/submit/telemetry/${DOC_ID}/idle-daily/Firefox/23.0.1/release/20130814063812`;

function setup(env: Record<string, string> = {}) {
  const sink = new RecordingSink();
  const config = parseGatewayConfig({ MAX_BODY_BYTES: '1000', ...env });
  const app = createGatewayApp({
    config,
    sink,
    metrics: createGatewayMetrics({ defaultMetrics: false }),
    logger: silentLogger,
    nowMs: () => Date.UTC(2013, 8, 10, 12),
    remoteAddress: () => '10.1.2.3',
  });
  const send = (path: string, body: Uint8Array | string | undefined, init: { method?: string; headers?: Record<string, string> } = {}) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const headers: Record<string, string> = { ...(bytes ? { 'content-length': String(bytes.length) } : {}), ...init.headers };
    return app.request(path, { method: init.method ?? 'POST', headers, ...(bytes ? { body: bytes } : {}) });
  };
  return { app, sink, send };
}

describe('gateway submission API', () => {
  it('accepts the 6-component Firefox URL and forwards the body bytes untouched with metadata', async () => {
    const { sink, send } = setup();
    const body = gzipSync('{"ver":1}');
    const response = await send(`${FULL_PATH}?v=4`, body, {
      headers: { 'content-encoding': 'gzip', 'user-agent': 'Firefox/23', dnt: '1', 'x-pingsender-version': '1.0', cookie: 'no' },
    });
    expect(response.status).toBe(200);
    expect(sink.published).toHaveLength(1);
    const published = sink.published[0];
    expect(published?.docId).toBe(DOC_ID);
    expect(published?.body.equals(body)).toBe(true);
    expect(published?.contentEncoding).toBe('gzip');
    expect(published?.urlDimensions).toEqual({
      reason: 'idle-daily',
      appName: 'Firefox',
      appVersion: '23.0.1',
      appUpdateChannel: 'release',
      appBuildID: '20130814063812',
    });
    expect(published?.clientHeaders).toEqual({ 'content-length': String(body.length), 'user-agent': 'Firefox/23', dnt: '1', 'x-pingsender-version': '1.0' });
    expect(published?.receivedAtMs).toBe(Date.UTC(2013, 8, 10, 12));
    expect(published?.clientIp).toBeUndefined();
  });

  it('accepts PUT and the docId-only form', async () => {
    const { sink, send } = setup();
    expect((await send(`/submit/telemetry/${DOC_ID}`, '{}', { method: 'PUT' })).status).toBe(200);
    expect(sink.published[0]?.urlDimensions).toBeUndefined();
  });

  it.each([
    ['/submit/telemetry/', 400],
    ['/submit/telemetry', 400],
    [`/submit/telemetry/${DOC_ID}/idle-daily/Firefox`, 400],
    [`${FULL_PATH}/extra`, 400],
    ['/submit/telemetry/bad_id!', 400],
    [`/submit/telemetry/${'a'.repeat(101)}`, 400],
    // A generic-form namespace (any is accepted by default) with a telemetry-form path: 400 (the generic form's rules: generic-submit.test.ts).
    ['/submit/other/abc', 400],
    ['/submit/', 404],
    ['/', 404],
  ])('%s -> %i and nothing is enqueued', async (path, status) => {
    const { sink, send } = setup();
    expect((await send(path, '{}')).status).toBe(status);
    expect(sink.published).toHaveLength(0);
  });

  it('answers 405 with Allow for other methods', async () => {
    const { send } = setup();
    const response = await send(`/submit/telemetry/${DOC_ID}`, undefined, { method: 'GET' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST, PUT');
    expect((await send('/status', '{}', { method: 'DELETE' })).status).toBe(405);
  });

  it('enforces the body limits: 411, 400, 413', async () => {
    const { sink, send, app } = setup();
    expect((await app.request(`/submit/telemetry/${DOC_ID}`, { method: 'POST' })).status).toBe(411);
    expect((await send(`/submit/telemetry/${DOC_ID}`, '')).status).toBe(400);
    expect((await send(`/submit/telemetry/${DOC_ID}`, 'x'.repeat(1001))).status).toBe(413);
    // A lying Content-Length does not get past the cap either.
    const lying = await app.request(`/submit/telemetry/${DOC_ID}`, {
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked' },
      body: Buffer.alloc(5000, 1),
    });
    expect(lying.status).toBe(413);
    expect(sink.published).toHaveLength(0);
    expect((await send(`/submit/telemetry/${DOC_ID}`, 'x'.repeat(1000))).status).toBe(200);
  });

  it('refuses an over-long path with 414 and an over-long header value with 431', async () => {
    const { send } = setup();
    expect((await send(`/submit/telemetry/${'a'.repeat(11 * 1024)}`, '{}')).status).toBe(414);
    expect((await send(`/submit/telemetry/${DOC_ID}`, '{}', { headers: { 'user-agent': 'u'.repeat(1025) } })).status).toBe(431);
  });

  it('answers 202 and discards oversize bodies and paths when OVERSIZE_STATUS=202', async () => {
    const { sink, send } = setup({ OVERSIZE_STATUS: '202' });
    expect((await send(`/submit/telemetry/${DOC_ID}`, 'x'.repeat(1001))).status).toBe(202);
    expect((await send(`/submit/telemetry/${'a'.repeat(11 * 1024)}`, '{}')).status).toBe(202);
    expect(sink.published).toHaveLength(0);
  });

  it('answers 503 with Retry-After when the broker cannot take the message', async () => {
    const { sink, send } = setup({ RETRY_AFTER: '7s' });
    for (const failure of [new BrokerUnavailableError('down'), new PublishBackpressureError('full')]) {
      sink.failWith = failure;
      const response = await send(`/submit/telemetry/${DOC_ID}`, '{}');
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('7');
    }
  });

  it('stores the client IP only when asked, taking from X-Forwarded-For only the hops of trusted proxies', async () => {
    const direct = setup({ STORE_CLIENT_IP: 'true' });
    await direct.send(`/submit/telemetry/${DOC_ID}`, '{}', { headers: { 'x-forwarded-for': '1.1.1.1' } });
    expect(direct.sink.published[0]?.clientIp).toBe('10.1.2.3');
    // One proxy of ours: it appended the address it saw; what the client wrote before it is ignored.
    const oneHop = setup({ STORE_CLIENT_IP: 'true', TRUSTED_PROXY_HOPS: '1' });
    await oneHop.send(`/submit/telemetry/${DOC_ID}`, '{}', { headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' } });
    expect(oneHop.sink.published[0]?.clientIp).toBe('203.0.113.9');
    const twoHops = setup({ STORE_CLIENT_IP: 'true', TRUSTED_PROXY_HOPS: '2' });
    await twoHops.send(`/submit/telemetry/${DOC_ID}`, '{}', { headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.0.0.1' } });
    expect(twoHops.sink.published[0]?.clientIp).toBe('203.0.113.9');
    // A hop that is not an IP address: the socket's peer, never the text.
    await oneHop.send(`/submit/telemetry/${DOC_ID}`, '{}', { headers: { 'x-forwarded-for': '1.1.1.1, <script>' } });
    expect(oneHop.sink.published[1]?.clientIp).toBe('10.1.2.3');
  });

  it('refuses the removed TRUST_PROXY with a message naming its replacement', () => {
    expect(() => parseGatewayConfig({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY: was removed: set TRUSTED_PROXY_HOPS/);
  });

  it('serves /status and /ready, and no /metrics on the public port (METRICS_PORT has them)', async () => {
    const { app, sink } = setup();
    expect(await (await app.request('/status')).text()).toBe('OK');
    expect((await app.request('/ready')).status).toBe(200);
    sink.ready = false;
    expect((await app.request('/ready')).status).toBe(503);
    expect((await app.request('/metrics')).status).toBe(404);
  });
});

describe('per-IP rate limiting (optional)', () => {
  it('answers 429 with Retry-After past the burst, per client address, and refills over time', async () => {
    const clock = new ManualClock(1_000_000);
    const sink = new RecordingSink();
    let remote = '198.51.100.7';
    const app = createGatewayApp({
      config: parseGatewayConfig({ RATE_LIMIT_PER_SECOND: '2', RATE_LIMIT_BURST: '3' }),
      sink,
      metrics: createGatewayMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      clock,
      remoteAddress: () => remote,
    });
    const send = () => app.request(`/submit/telemetry/${DOC_ID}`, { method: 'POST', headers: { 'content-length': '2' }, body: '{}' });
    expect([(await send()).status, (await send()).status, (await send()).status]).toEqual([200, 200, 200]);
    const limited = await send();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    remote = '198.51.100.8'; // another client has its own bucket
    expect((await send()).status).toBe(200);
    remote = '198.51.100.7';
    clock.advance(500); // one token back at 2/s
    expect((await send()).status).toBe(200);
    expect((await send()).status).toBe(429);
    expect(sink.published).toHaveLength(5);
  });

  it('cannot be passed by rotating X-Forwarded-For behind a trusted proxy', async () => {
    const sink = new RecordingSink();
    const app = createGatewayApp({
      config: parseGatewayConfig({ RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '2', TRUSTED_PROXY_HOPS: '1' }),
      sink,
      metrics: createGatewayMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      clock: new ManualClock(1_000_000),
      remoteAddress: () => '10.0.0.1', // the proxy
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      // The client writes a new first hop each time; the proxy appends the client's real address.
      const headers = { 'content-length': '2', 'x-forwarded-for': `192.0.2.${i}, 198.51.100.7` };
      statuses.push((await app.request(`/submit/telemetry/${DOC_ID}`, { method: 'POST', headers, body: '{}' })).status);
    }
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
  });

  it('is off by default', async () => {
    const { send } = setup();
    const statuses = await Promise.all(Array.from({ length: 50 }, async () => send(`/submit/telemetry/${DOC_ID}`, "{}")));
    expect(statuses.every((r) => r.status === 200)).toBe(true);
  });
});
