/**
 * SPEC 3 and 9, faults that input causes, with the real worker pool (a
 * primary restarting its processes, each under WORKER_MAX_HEAP):
 * - a burst of byte-heavy pings (~10 KB of gzip inflating to ~10 MiB each):
 *   every one stored exactly once, no worker process dies (batches are
 *   bounded by decoded bytes, not only by count);
 * - a ping that kills the worker converting it, every time: dead-lettered
 *   with its reason after POISON_LIMIT deaths, while every other ping (some
 *   in the very message that carries it) is stored, once.
 */
import { gzipSync } from 'node:zlib';
import { DEAD_LETTER_REASON_HEADER } from '@telemetry/shared/amqp/headers';
import { decodeMessage } from '@telemetry/shared/amqp/wire-codec';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { classicPing, faultFixtures, figures, printSummary, scanOccurrences, sleep } from '../support/faults.js';
import { AMQP_URL, waitFor } from '../support/services.js';
import { killAllWorkerProcesses, spawnWorkerProcess } from '../support/worker-process.js';

const INFO = { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812' };
const MAX_UNCOMPRESSED = 10 * 1024 * 1024;

/** A valid, already-converted ping whose JSON is just under MAX_UNCOMPRESSED. */
function heavyPing(n: number): Buffer {
  const head = JSON.stringify({ ver: 2, info: INFO, n, padding: '' });
  const padding = 'x'.repeat(MAX_UNCOMPRESSED - head.length - 64);
  return gzipSync(JSON.stringify({ ver: 2, info: INFO, n, padding }), { level: 9 });
}

/** Valid JSON that needs far more heap to parse than its 9 MiB of text: kills a worker capped at 96 MiB. */
function heapKillerPing(): Buffer {
  return gzipSync(`{"ver":2,"info":${JSON.stringify(INFO)},"objects":[${'{},'.repeat(3_000_000)}{}]}`);
}

const restarts = (logs: readonly { msg?: string }[]) => logs.filter((entry) => entry.msg === 'process exited; restarting').length;

describe('faults caused by input, with the real worker pool', () => {
  const fixtures = faultFixtures();
  afterEach(async () => {
    await killAllWorkerProcesses();
  });

  it('stores a burst of 80 pings inflating to ~10 MiB each exactly once, and no worker process dies', async () => {
    const pipeline = await fixtures.pipeline('fault-heavy', { workers: 0 });
    const bodies = Array.from({ length: 80 }, (_, n) => heavyPing(n));
    expect(Math.max(...bodies.map((b) => b.length))).toBeLessThan(20_000);
    const docIds = bodies.map((_, n) => `heavy-${Date.now()}-${n}`);
    const statuses = await Promise.all(bodies.map(async (body, n) => (await pipeline.submit(docIds[n] ?? '', body, { 'content-encoding': 'gzip' })).status));
    expect(statuses.every((status) => status === 200)).toBe(true);

    const pool = spawnWorkerProcess({ ...pipeline.workerEnv(0), WORKER_SLOT: '0' }, 2);
    // Polled slowly: a scan reads the 800 MiB stored.
    const started = Date.now();
    await waitFor('the persist queue drained', async () => (await pipeline.env.queueDepth(pipeline.env.topology.persistQueue)) === 0, 60_000);
    while ((await scanOccurrences(pipeline.storageDir, pipeline.errorsDir)).storedLines < docIds.length && Date.now() - started < 90_000) await sleep(1_000);
    await waitFor('the persist queue drained', async () => (await pipeline.env.queueDepth(pipeline.env.topology.persistQueue)) === 0, 10_000);
    expect(restarts(pool.logs)).toBe(0);
    expect(pool.exit).toBeUndefined();
    expect((await pool.stop(30_000)).code).toBe(0);

    const f = figures(docIds, await scanOccurrences(pipeline.storageDir, pipeline.errorsDir));
    printSummary('burst of 80 pings inflating to ~10 MiB', f, { gzipBytes: bodies[0]?.length, restarts: restarts(pool.logs), storedWithinMs: Date.now() - started });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
  }, 120_000);

  it('dead-letters a ping that kills its worker every time, with the reason, and stores all the others once', async () => {
    const pipeline = await fixtures.pipeline('fault-poison', { workers: 0 });
    const stamp = Date.now();
    const poisonId = `poison-${stamp}`;
    const docIds = Array.from({ length: 40 }, (_, n) => `innocent-${stamp}-${n}`);
    // Sent together: the gateway frames the poison and innocent pings into the same messages.
    const statuses = await Promise.all([
      pipeline.submit(poisonId, heapKillerPing(), { 'content-encoding': 'gzip' }).then((r) => r.status),
      ...docIds.map(async (docId, n) => (await pipeline.submit(docId, classicPing(n))).status),
    ]);
    expect(statuses.every((status) => status === 200)).toBe(true);

    const pool = spawnWorkerProcess({ ...pipeline.workerEnv(0), WORKER_MAX_HEAP: '96MiB' }, 2);
    const deadLetterQueue = pipeline.env.topology.deadLetterQueue;
    await waitFor('the poison dead-lettered', async () => (await pipeline.env.queueDepth(deadLetterQueue)) === 1, 90_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${pool.tail(40)}`);
    });
    await waitFor('every other ping stored', async () => {
      const o = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
      return docIds.every((docId) => o.count.has(docId));
    }, 30_000);
    await waitFor('the persist queue drained', async () => (await pipeline.env.queueDepth(pipeline.env.topology.persistQueue)) === 0, 10_000);
    const deaths = restarts(pool.logs);
    expect(deaths).toBeGreaterThanOrEqual(2);
    expect((await pool.stop(30_000)).code).toBe(0);

    // The dead letter carries the poison alone, with why.
    const connection = await amqp.connect(AMQP_URL);
    try {
      const channel = await connection.createChannel();
      const message = await channel.get(deadLetterQueue, { noAck: true });
      if (message === false) throw new Error('dead letter gone');
      expect(decodeMessage(message).submissions.map((s) => s.docId)).toEqual([poisonId]);
      const reason = String((message.properties.headers as Record<string, unknown>)[DEAD_LETTER_REASON_HEADER]);
      expect(reason).toMatch(/died \d+ times while converting it/);
    } finally {
      await connection.close();
    }
    const occurrences = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
    expect(occurrences.count.has(poisonId)).toBe(false);
    const f = figures(docIds, occurrences);
    printSummary('a ping that kills its worker', f, { workerDeaths: deaths });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
  }, 150_000);
});
