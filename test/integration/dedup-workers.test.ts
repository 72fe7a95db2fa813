import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAllLines, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitFor } from '../support/services.js';

/** A tiny already-converted ping: no revision needed, so the test is about dedup only. */
function ping(n: number): string {
  return JSON.stringify({ ver: 2, info: { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'nightly', appVersion: '28.0a1', appBuildID: `2013${n}` } });
}

describe('deduplication across two workers', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    // Small batches and prefetch so copies of one docId really land on both workers.
    p = await startTestPipeline('dedup2', { workers: 2, workerEnv: { BATCH_SIZE: '5', PREFETCH: '5', HOLD_RECHECK: '100ms' } });
  });
  afterAll(async () => {
    await p.stop();
  });

  it('stores each docId once when copies are in flight on different workers at the same time', async () => {
    const stamp = Date.now();
    const docIds = Array.from({ length: 60 }, (_, i) => `multi-${stamp}-${i}`);
    // Every docId sent three times concurrently (a client retry while the first copy still waits).
    const responses = await Promise.all(docIds.flatMap((id, i) => [p.submit(id, ping(i)), p.submit(id, ping(i)), p.submit(id, ping(i))]));
    expect(responses.every((r) => r.status === 200)).toBe(true);

    await waitFor('every docId stored', async () => {
      const stored = new Set((await readAllLines(p.storageDir)).map((l) => l.line.split('\t')[0]));
      return docIds.every((id) => stored.has(id));
    }, 30_000);
    await waitFor('queue drained', async () => (await p.env.queueDepth(p.env.topology.persistQueue)) === 0);
    await new Promise((resolve) => setTimeout(resolve, 500)); // held copies re-checked and acked

    const lines = (await readAllLines(p.storageDir)).map((l) => l.line.split('\t')[0]).filter((id) => id?.startsWith(`multi-${stamp}-`));
    expect(lines).toHaveLength(docIds.length);
    expect(new Set(lines).size).toBe(docIds.length);
    // Both workers took part (each wrote its own file).
    const writers = new Set((await readAllLines(p.storageDir)).map((l) => /\.v2\.([^.]+)\./.exec(l.file)?.[1]));
    expect(writers.size).toBe(2);
  });
});
