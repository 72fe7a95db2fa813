/**
 * SPEC 5, deduplication by document (docId AND decoded body), end to end:
 * Firefox before unified telemetry sends a long session's idle-daily pings
 * and then its saved-session under one docId (all of them are kept), and a
 * client retry resends one document, byte for byte or compressed anew
 * (stored once).
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAllLines, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitFor } from '../support/services.js';

const BASE_INFO = { appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812' };

function ping(reason: string, day: number): string {
  return JSON.stringify({ ver: 2, info: { ...BASE_INFO, reason }, simpleMeasurements: { uptime: day * 1440 } });
}

const urlPath = (docId: string, reason: string) => `${docId}/${reason}/Firefox/23.0.1/release/20130814063812`;

describe('deduplication by document', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline('dedup-doc', { workers: 2, workerEnv: { HOLD_RECHECK: '100ms' } });
  });
  afterAll(async () => {
    await p.stop();
  });

  const storedBodies = async (docId: string) =>
    (await readAllLines(p.storageDir)).filter((l) => l.line.startsWith(`${docId}\t`)).map((l) => l.line.slice(docId.length + 1));
  const settled = async () => {
    await waitFor('queue drained', async () => (await p.env.queueDepth(p.env.topology.persistQueue)) === 0);
    await new Promise((resolve) => setTimeout(resolve, 400)); // held copies re-checked and acked
  };

  it('keeps a session\'s idle-daily pings and its saved-session that share one docId', async () => {
    const docId = `session-${Date.now()}`;
    const documents = [ping('idle-daily', 1), ping('idle-daily', 2), ping('saved-session', 2)];
    for (const [i, body] of documents.entries()) {
      const response = await p.submit(urlPath(docId, i < 2 ? 'idle-daily' : 'saved-session'), gzipSync(body), { 'content-encoding': 'gzip' });
      expect(response.status).toBe(200);
    }
    await waitFor('all three documents stored', async () => (await storedBodies(docId)).length >= 3);
    await settled();
    expect((await storedBodies(docId)).map((json) => JSON.parse(json) as unknown).sort()).toEqual(documents.map((json) => JSON.parse(json) as unknown).sort());
  });

  it('stores a retried document once, resent byte for byte, compressed anew, or uncompressed, also in flight at once', async () => {
    const docId = `retry-${Date.now()}`;
    const body = ping('saved-session', 3);
    const first = gzipSync(body, { level: 6 });
    const recompressed = gzipSync(body, { level: 1 });
    // Another gzip header (its OS byte) with the same deflate stream: the bytes differ, the document does not.
    const otherHeader = Buffer.from(first);
    otherHeader[9] = 0x00;
    expect(recompressed.equals(first)).toBe(false);
    const copies = [first, first, recompressed, otherHeader];
    const statuses = await Promise.all(copies.map(async (copy) => (await p.submit(urlPath(docId, 'saved-session'), copy, { 'content-encoding': 'gzip' })).status));
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect((await p.submit(urlPath(docId, 'saved-session'), body)).status).toBe(200);
    await waitFor('the document stored', async () => (await storedBodies(docId)).length >= 1);
    await settled();
    expect(await storedBodies(docId)).toHaveLength(1);
  });
});
