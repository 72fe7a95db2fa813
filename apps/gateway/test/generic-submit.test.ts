/**
 * The generic submission form (SPEC 2, Mozilla's edge specification), driven
 * in process with app.request(): POST|PUT /submit/<namespace>/<docType>/<docVersion>/<docId>,
 * the rules of each component, accepted namespaces, the limits, and the
 * metadata a submission carries into the message.
 */
import { gzipSync } from 'node:zlib';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import { BrokerUnavailableError } from '@telemetry/shared/amqp/confirm-publisher';
import { ConfigError } from '@telemetry/shared/config/env';
import { silentLogger } from '@telemetry/shared/logger';
import { describe, expect, it } from 'vitest';
import { createGatewayApp } from '../src/app.js';
import { parseGatewayConfig } from '../src/config.js';
import { HttpError } from '../src/http-error.js';
import { createGatewayMetrics } from '../src/metrics.js';
import { parseSubmitPath } from '../src/routes/submit-path.js';
import type { SubmissionSink } from '../src/submission-sink.js';

class RecordingSink implements SubmissionSink {
  readonly published: Submission[] = [];
  failWith: Error | undefined;
  isReady(): boolean {
    return true;
  }
  async publish(submission: Submission): Promise<void> {
    await Promise.resolve();
    if (this.failWith) throw this.failWith;
    this.published.push(submission);
  }
}

const DOC_ID = '8f2bb6a4-5b7e-4d8c-9a1e-2f6c3d4b5a69';
const BASELINE = `/submit/firefox-desktop/baseline/1/${DOC_ID}`;
const RECEIVED = Date.UTC(2026, 0, 15, 9, 30);

function setup(env: Record<string, string> = {}) {
  const sink = new RecordingSink();
  const app = createGatewayApp({
    config: parseGatewayConfig({ MAX_BODY_BYTES: '1000', ...env }),
    sink,
    metrics: createGatewayMetrics({ defaultMetrics: false }),
    logger: silentLogger,
    nowMs: () => RECEIVED,
    remoteAddress: () => '10.1.2.3',
  });
  const send = (path: string, body: Uint8Array | string | undefined, init: { method?: string; headers?: Record<string, string> } = {}) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const headers: Record<string, string> = { ...(bytes ? { 'content-length': String(bytes.length) } : {}), ...init.headers };
    return app.request(path, { method: init.method ?? 'POST', headers, ...(bytes ? { body: bytes } : {}) });
  };
  return { sink, send, app };
}

const GLEAN_HEADERS = {
  'content-encoding': 'gzip',
  'content-type': 'application/json; charset=utf-8',
  date: 'Thu, 15 Jan 2026 09:30:00 GMT',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0',
  'x-telemetry-agent': 'Glean/67.3.2 (Rust on Linux)',
  'x-debug-id': 'my-debug-session',
  'x-source-tags': 'automation',
  dnt: '1',
  'x-forwarded-for': '203.0.113.5',
  cookie: 'never forwarded',
};

describe('POST|PUT /submit/<namespace>/<docType>/<docVersion>/<docId>', () => {
  it('accepts a Glean ping and enqueues it with the generic form, the method, the edge headers and the query string', async () => {
    const { sink, send } = setup();
    const body = gzipSync('{"ping_info":{},"client_info":{}}');
    const response = await send(`${BASELINE}?v=1&x=y`, body, { headers: GLEAN_HEADERS });
    expect(response.status).toBe(200);
    expect(sink.published).toHaveLength(1);
    const [published] = sink.published;
    expect(published?.docId).toBe(DOC_ID);
    expect(published?.path).toBe(`firefox-desktop/baseline/1/${DOC_ID}`);
    expect(published?.generic).toEqual({ namespace: 'firefox-desktop', docType: 'baseline', docVersion: '1' });
    expect(published?.urlDimensions).toBeUndefined();
    expect(published?.method).toBe('POST');
    expect(published?.query).toBe('v=1&x=y');
    expect(published?.contentEncoding).toBe('gzip');
    expect(published?.receivedAtMs).toBe(RECEIVED);
    expect(published?.body.equals(body)).toBe(true);
    // The edge's headers; X-Forwarded-For only with STORE_CLIENT_IP (it holds client addresses); never others.
    expect(published?.clientHeaders).toEqual({
      'content-length': String(body.length),
      date: GLEAN_HEADERS.date,
      'user-agent': GLEAN_HEADERS['user-agent'],
      'x-telemetry-agent': 'Glean/67.3.2 (Rust on Linux)',
      'x-debug-id': 'my-debug-session',
      'x-source-tags': 'automation',
      dnt: '1',
    });
    expect(published?.clientIp).toBeUndefined();
  });

  it('treats PUT as POST, and keeps X-Forwarded-For and the client IP when STORE_CLIENT_IP is on', async () => {
    const { sink, send } = setup({ STORE_CLIENT_IP: 'true' });
    expect((await send(BASELINE, '{}', { method: 'PUT', headers: { 'x-forwarded-for': '203.0.113.5, 10.0.0.1' } })).status).toBe(200);
    expect(sink.published[0]?.method).toBe('PUT');
    expect(sink.published[0]?.clientHeaders['x-forwarded-for']).toBe('203.0.113.5, 10.0.0.1');
    expect(sink.published[0]?.clientIp).toBe('10.1.2.3');
  });

  it.each([
    // namespace: [a-z0-9_-]
    [`/submit/Firefox-Desktop/baseline/1/${DOC_ID}`, 400],
    [`/submit/firefox.desktop/baseline/1/${DOC_ID}`, 400],
    [`/submit/firefox%2Ddesktop/baseline/1/${DOC_ID}`, 400],
    // docType: [a-z0-9_-]
    [`/submit/firefox-desktop/Baseline/1/${DOC_ID}`, 400],
    [`/submit/firefox-desktop/base.line/1/${DOC_ID}`, 400],
    [`/submit/firefox-desktop//1/${DOC_ID}`, 400],
    // docVersion: digits
    [`/submit/firefox-desktop/baseline/v1/${DOC_ID}`, 400],
    [`/submit/firefox-desktop/baseline/1.0/${DOC_ID}`, 400],
    [`/submit/firefox-desktop/baseline//${DOC_ID}`, 400],
    // docId: a UUID
    ['/submit/firefox-desktop/baseline/1/not-a-uuid', 400],
    [`/submit/firefox-desktop/baseline/1/${DOC_ID.replaceAll('-', '')}`, 400],
    [`/submit/firefox-desktop/baseline/1/${DOC_ID}0`, 400],
    [`/submit/firefox-desktop/baseline/1/${DOC_ID.replace('8', 'g')}`, 400],
    // four components, no more, no fewer
    ['/submit/firefox-desktop/baseline/1', 400],
    [`/submit/firefox-desktop/baseline/1/${DOC_ID}/extra`, 400],
    [`/submit/firefox-desktop/${DOC_ID}`, 400],
    // no namespace at all: neither form
    ['/submit/', 404],
    [`/submit//baseline/1/${DOC_ID}`, 404],
  ])('%s -> %i and nothing is enqueued', async (path, status) => {
    const { sink, send } = setup();
    expect((await send(path, '{}')).status).toBe(status);
    expect(sink.published).toHaveLength(0);
  });

  it('takes upper-case UUIDs (the edge asks for a UUID, not its case)', async () => {
    const { sink, send } = setup();
    expect((await send(`/submit/firefox-desktop/baseline/1/${DOC_ID.toUpperCase()}`, '{}')).status).toBe(200);
    expect(sink.published[0]?.docId).toBe(DOC_ID.toUpperCase());
  });

  it('answers 404 for a well-formed namespace that ACCEPTED_NAMESPACES leaves out; telemetry is always taken', async () => {
    const { sink, send } = setup({ ACCEPTED_NAMESPACES: 'firefox-desktop, org-mozilla-fenix' });
    expect((await send(`/submit/org-mozilla-focus/baseline/1/${DOC_ID}`, '{}')).status).toBe(404);
    expect((await send('/submit/org-mozilla-focus/whatever', '{}')).status).toBe(404);
    expect(sink.published).toHaveLength(0);
    expect((await send(BASELINE, '{}')).status).toBe(200);
    expect((await send(`/submit/org-mozilla-fenix/metrics/1/${DOC_ID}`, '{}')).status).toBe(200);
    expect((await send(`/submit/telemetry/${DOC_ID}/main/Firefox/153.8.0/esr/20260101000000`, '{}')).status).toBe(200);
    expect(sink.published.map((s) => s.generic?.namespace)).toEqual(['firefox-desktop', 'org-mozilla-fenix', undefined]);
  });

  it('refuses an ACCEPTED_NAMESPACES entry that is not a generic namespace, naming the variable', () => {
    for (const bad of ['Firefox', 'firefox-desktop,telemetry', 'a.b']) {
      expect(() => parseGatewayConfig({ ACCEPTED_NAMESPACES: bad })).toThrow(ConfigError);
      expect(() => parseGatewayConfig({ ACCEPTED_NAMESPACES: bad })).toThrow(/ACCEPTED_NAMESPACES/);
    }
    expect(parseGatewayConfig({}).acceptedNamespaces).toBeUndefined();
    expect(parseGatewayConfig({ ACCEPTED_NAMESPACES: ' , ' }).acceptedNamespaces).toBeUndefined();
  });

  it('has the telemetry form\'s limits: 411, 400, 413, 414, 431, and 405 for other methods', async () => {
    const { sink, send, app } = setup();
    expect((await app.request(BASELINE, { method: 'POST' })).status).toBe(411);
    expect((await send(BASELINE, '')).status).toBe(400);
    expect((await send(BASELINE, 'x'.repeat(1001))).status).toBe(413);
    const chunked = await app.request(BASELINE, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: Buffer.alloc(5000, 1) });
    expect(chunked.status).toBe(413);
    expect((await send(`/submit/${'a'.repeat(11 * 1024)}/baseline/1/${DOC_ID}`, '{}')).status).toBe(414);
    expect((await send(BASELINE, '{}', { headers: { 'x-debug-id': 'd'.repeat(1025) } })).status).toBe(431);
    const get = await send(BASELINE, undefined, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, PUT');
    expect(sink.published).toHaveLength(0);
    expect((await send(BASELINE, 'x'.repeat(1000))).status).toBe(200);
  });

  it('answers 202 and discards oversize bodies and paths when OVERSIZE_STATUS=202', async () => {
    const { sink, send } = setup({ OVERSIZE_STATUS: '202' });
    expect((await send(BASELINE, 'x'.repeat(1001))).status).toBe(202);
    expect((await send(`/submit/firefox-desktop/${'a'.repeat(11 * 1024)}/1/${DOC_ID}`, '{}')).status).toBe(202);
    expect(sink.published).toHaveLength(0);
  });

  it('answers 503 with Retry-After when the broker cannot take it', async () => {
    const { sink, send } = setup();
    sink.failWith = new BrokerUnavailableError('down');
    const response = await send(BASELINE, '{}');
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
  });
});

describe('parseSubmitPath (the path as sent)', () => {
  const statusOf = (path: string, accepted?: ReadonlySet<string>): number => {
    try {
      parseSubmitPath(path, accepted);
      return 200;
    } catch (error) {
      if (error instanceof HttpError) return error.status;
      throw error;
    }
  };

  it('tells the two forms apart', () => {
    expect(parseSubmitPath(`/submit/telemetry/${DOC_ID}/main/Firefox/153.8.0/esr/20260101000000`, undefined)).toMatchObject({
      form: 'telemetry',
      docId: DOC_ID,
      urlDimensions: { reason: 'main', appUpdateChannel: 'esr' },
    });
    expect(parseSubmitPath(`/submit/telemetry/${DOC_ID}`, new Set(['x']))).toEqual({ form: 'telemetry', path: DOC_ID, docId: DOC_ID, urlDimensions: undefined });
    expect(parseSubmitPath('/submit/eng-workflow/hgpush/1/2c3a0767-d84a-4d02-8a92-fa54a3376049', undefined)).toEqual({
      form: 'generic',
      path: 'eng-workflow/hgpush/1/2c3a0767-d84a-4d02-8a92-fa54a3376049',
      docId: '2c3a0767-d84a-4d02-8a92-fa54a3376049',
      generic: { namespace: 'eng-workflow', docType: 'hgpush', docVersion: '1' },
    });
  });

  it('never normalises: dot segments are values, and `..` is no docType', () => {
    expect(statusOf(`/submit/x/../telemetry/${DOC_ID}`)).toBe(400);
    expect(statusOf(`/foo/../submit/firefox-desktop/baseline/1/${DOC_ID}`)).toBe(404);
    expect(statusOf(`/submit/firefox-desktop/./1/${DOC_ID}`)).toBe(400);
  });

  it('checks the namespace before the components: an unaccepted one is 404 whatever follows', () => {
    const accepted = new Set(['firefox-desktop']);
    expect(statusOf('/submit/other/abc', accepted)).toBe(404);
    expect(statusOf('/submit/other/abc', undefined)).toBe(400);
    expect(statusOf('/submit/BAD/abc', accepted)).toBe(400);
  });
});
