/**
 * SPEC 8 and 9: workers survive losing their RabbitMQ connection (a TCP proxy
 * in front of the shared broker, on the worker side only): they reconnect and
 * continue, and what the broker delivers again is deduplicated, never stored
 * twice.
 */
import { describe, expect, it } from 'vitest';
import type { RunningWorker } from '../../apps/workers/src/worker.js';
import { allPresent, faultFixtures, figures, printSummary, scanOccurrences, sleep, SubmissionStream, workerCounter } from '../support/faults.js';
import { AMQP_URL, waitFor } from '../support/services.js';

const outcomeCount = (worker: RunningWorker, outcome: string) => workerCounter(worker, 'telemetry_worker_messages_total', { outcome });

describe('workers losing their RabbitMQ connection', () => {
  const fixtures = faultFixtures();

  it('reconnect and continue; redelivered messages are deduplicated (no duplicate lines)', async () => {
    const amqpProxy = await fixtures.proxy(AMQP_URL, 5672);
    const pipeline = await fixtures.pipeline('fault-wamqp', { workers: 1, workerEnv: { AMQP_URL: amqpProxy.urlFor(AMQP_URL), BATCH_SIZE: '50' } });
    const worker = pipeline.workers[0];
    if (!worker) throw new Error('no worker');
    const queueDepth = () => pipeline.env.queueDepth(pipeline.env.topology.persistQueue);
    const stream = new SubmissionStream(pipeline.baseUrl, { prefix: 'wamqp', concurrency: 4, pauseMs: 5, badEvery: 10 });

    // 1. Deterministic redelivery: the worker persists a batch but its acks never
    //    reach the broker; the connection then dies, the broker delivers the
    //    whole batch again, and every copy is recognised as a duplicate.
    amqpProxy.dropUpstream();
    const unacked = await stream.sendBatch(60);
    expect(unacked.every((r) => r.status === 200)).toBe(true);
    const unackedIds = unacked.map((r) => r.docId);
    await waitFor('the batch persisted', () => allPresent(unackedIds, pipeline.storageDir, pipeline.errorsDir), 10_000);
    amqpProxy.cut();
    await waitFor('the worker noticing the loss', () => !worker.consumer.isConnected(), 5_000);
    // Not acknowledged: with the worker gone, all 60 are back in the queue.
    await waitFor('the unacknowledged batch back in the queue', async () => (await pipeline.env.queuedSubmissions(pipeline.env.topology.persistQueue)) === unacked.length, 5_000);
    const duplicatesBefore = await outcomeCount(worker, 'duplicate');
    amqpProxy.restore();
    await waitFor('the worker reconnected', () => worker.consumer.isConnected(), 10_000);
    await waitFor('the redelivered batch handled as duplicates', async () => (await outcomeCount(worker, 'duplicate')) - duplicatesBefore >= unacked.length, 10_000);
    expect(await queueDepth()).toBe(0);

    // 2. A steady stream through two connection losses.
    stream.start();
    for (let round = 0; round < 2; round += 1) {
      await sleep(1_000);
      amqpProxy.cut();
      await waitFor('the worker noticing the loss', () => !worker.consumer.isConnected(), 5_000);
      await sleep(1_000);
      amqpProxy.restore();
      await waitFor('the worker reconnected', () => worker.consumer.isConnected(), 10_000);
    }
    await sleep(1_000);
    await stream.stop();
    const accepted = stream.accepted();
    // The gateway (healthy here) answers 200, or 503 should the shared broker not confirm in time:
    // a 503 is not accepted (the client retries), so it is not counted as accepted either.
    expect(Object.keys(stream.statusCounts()).filter((status) => status !== '200' && status !== '503')).toEqual([]);

    await waitFor('every accepted docId persisted', () => allPresent(accepted, pipeline.storageDir, pipeline.errorsDir), 20_000).catch(
      () => undefined, // the figures below say what is missing
    );
    // The same worker instance did all of it, over several connections.
    expect(pipeline.workers).toEqual([worker]);
    expect(amqpProxy.forwardedConnections).toBeGreaterThanOrEqual(4);
    const dedupedRedeliveries = (await outcomeCount(worker, 'duplicate')) - duplicatesBefore;
    for (const w of pipeline.workers.splice(0)) await w.stop();
    expect(await queueDepth()).toBe(0);

    const occurrences = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
    const f = figures(accepted, occurrences);
    printSummary('worker, RabbitMQ connection loss', f, {
      statuses: stream.statusCounts(),
      dedupedRedeliveries,
      connections: amqpProxy.forwardedConnections,
      stored: occurrences.storedLines,
      filed: occurrences.filedLines,
    });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
  }, 60_000);
});
