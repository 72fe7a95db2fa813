/**
 * Property tests of the gateway's answers to hostile requests: whatever the
 * path, method, headers or body, the answer is one of the statuses of SPEC 2
 * (never a 500), and nothing refused is ever enqueued.
 */
import fc from 'fast-check';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import { silentLogger } from '@telemetry/shared/logger';
import { describe, expect, it } from 'vitest';
import { createGatewayApp } from '../../apps/gateway/src/app.js';
import { parseGatewayConfig } from '../../apps/gateway/src/config.js';
import { createGatewayMetrics } from '../../apps/gateway/src/metrics.js';

const ALLOWED = new Set([200, 202, 400, 404, 405, 411, 413, 414, 431]);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

function gateway(env: Record<string, string> = {}) {
  const published: Submission[] = [];
  const app = createGatewayApp({
    config: parseGatewayConfig({ MAX_BODY_BYTES: '4096', ...env }),
    sink: {
      isReady: () => true,
      publish: async (submission) => {
        await Promise.resolve();
        published.push(submission);
      },
    },
    metrics: createGatewayMetrics({ defaultMetrics: false }),
    logger: silentLogger,
  });
  return { app, published };
}

const pathSegment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/),
  fc.string({ maxLength: 30 }),
  fc.constantFrom('..', '.', '', '%2e%2e', '%2F', 'a/b', '\u0000', 'é', ' '),
);
// Generic-form paths (/submit/<namespace>/<docType>/<docVersion>/<docId>): near misses of each rule.
const genericPart = fc.oneof(pathSegment, fc.stringMatching(/^[a-z0-9_-]{1,20}$/), fc.stringMatching(/^\d{1,3}$/), fc.uuid());
const path = fc.oneof(
  fc.array(pathSegment, { maxLength: 8 }).map((parts) => `/submit/telemetry/${parts.map(encodeURIComponent).join('/')}`),
  fc.array(genericPart, { minLength: 1, maxLength: 6 }).map((parts) => `/submit/${parts.map(encodeURIComponent).join('/')}`),
  fc.array(pathSegment, { maxLength: 8 }).map((parts) => `/${parts.map(encodeURIComponent).join('/')}`),
  fc.webPath(),
);
const method = fc.constantFrom('POST', 'PUT', 'GET', 'DELETE', 'PATCH', 'OPTIONS');
const headerValue = fc.oneof(fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')), fc.constant('x'.repeat(2000)));
const headers = fc.dictionary(fc.constantFrom('content-encoding', 'user-agent', 'dnt', 'x-debug-id', 'date', 'x-forwarded-for', 'x-random'), headerValue, { maxKeys: 4 });
const body = fc.oneof(fc.uint8Array({ maxLength: 6000 }), fc.constant(new Uint8Array(0)), fc.constant(new Uint8Array([0x1f, 0x8b, 0x08])));

describe('gateway under hostile requests', () => {
  it('answers every request with a status of SPEC 2, never 500, and enqueues only 200s', async () => {
    const { app, published } = gateway();
    await fc.assert(
      fc.asyncProperty(path, method, headers, body, fc.boolean(), async (p, m, h, b, withLength) => {
        const before = published.length;
        const init: RequestInit = { method: m, headers: { ...h, ...(withLength && m !== 'GET' ? { 'content-length': String(b.length) } : {}) } };
        if (m !== 'GET' && b.length > 0) init.body = b;
        const response = await app.request(p, init);
        expect(ALLOWED.has(response.status), `${m} ${p} -> ${response.status}`).toBe(true);
        expect(published.length - before).toBe(response.status === 200 ? 1 : 0);
        if (response.status === 200) {
          const submitted = published[published.length - 1];
          expect(submitted?.docId).toMatch(/^[A-Za-z0-9-]{1,100}$/);
          // A generic-form submission passed every rule of the form.
          if (submitted?.generic) expect(`${submitted.generic.namespace}/${submitted.generic.docType}/${submitted.generic.docVersion}`).toMatch(/^[a-z0-9_-]+\/[a-z0-9_-]+\/\d+$/);
          expect(Buffer.from(b).equals(submitted?.body ?? Buffer.alloc(0))).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('discards oversize requests with 202 and never enqueues them when OVERSIZE_STATUS=202', async () => {
    const { app, published } = gateway({ OVERSIZE_STATUS: '202' });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 4097, max: 20_000 }), async (size) => {
        const response = await app.request('/submit/telemetry/abc-1', { method: 'POST', headers: { 'content-length': String(size) }, body: new Uint8Array(size) });
        expect(response.status).toBe(202);
      }),
      { numRuns: 20 },
    );
    expect(published).toHaveLength(0);
  });
});
