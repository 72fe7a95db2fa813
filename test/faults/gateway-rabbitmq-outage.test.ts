/**
 * SPEC 2 and 9: while RabbitMQ is unreachable the gateway answers 503 with
 * Retry-After (never 200) and /ready is 503; once the broker is back it
 * recovers by itself, and nothing it answered 200 is missing. The outage is a
 * TCP proxy in front of the shared broker, cut for the gateway only; the
 * workers are connected directly.
 */
import { describe, expect, it } from 'vitest';
import { allPresent, faultFixtures, figures, printSummary, scanOccurrences, sleep, SubmissionStream } from '../support/faults.js';
import { AMQP_URL, waitFor } from '../support/services.js';

describe('the gateway while RabbitMQ is unreachable', () => {
  const fixtures = faultFixtures();

  it('answers 503 with Retry-After, never 200, /ready 503; recovers by itself; loses nothing answered 200', async () => {
    const amqpProxy = await fixtures.proxy(AMQP_URL, 5672);
    const pipeline = await fixtures.pipeline('fault-gw', {
      gatewayEnv: { AMQP_URL: amqpProxy.urlFor(AMQP_URL), CONFIRM_TIMEOUT: '2s', RETRY_AFTER: '3s' },
    });
    const ready = async () => (await fetch(`${pipeline.baseUrl}/ready`)).status;
    const stream = new SubmissionStream(pipeline.baseUrl, { prefix: 'gw', concurrency: 4, pauseMs: 5 });

    stream.start();
    await waitFor('100 submissions accepted', () => stream.accepted().length >= 100, 10_000);
    expect(await ready()).toBe(200);

    const cutAt = Date.now();
    amqpProxy.cut();
    await waitFor('/ready 503', async () => (await ready()) === 503, 5_000);
    const detectedAt = Date.now();
    // The outage lasts a while; the stream keeps submitting, and so does a burst.
    const burst = await stream.sendBatch(20);
    await sleep(2_500);
    expect(await ready()).toBe(503);
    const restoreAt = Date.now();
    amqpProxy.restore();
    await waitFor('/ready 200 again', async () => (await ready()) === 200, 10_000);
    const recoveredAt = Date.now();
    await waitFor('submissions accepted again', () => stream.results.some((r) => r.startedAt >= recoveredAt && r.status === 200), 5_000);
    await sleep(500);
    await stream.stop();

    // Every request made while the broker was known to be away got 503 + Retry-After.
    const during = stream.results.filter((r) => r.startedAt >= detectedAt && r.endedAt <= restoreAt);
    expect(during.length).toBeGreaterThan(20);
    expect(during.filter((r) => r.status !== 503)).toEqual([]);
    expect(during.filter((r) => r.retryAfter !== '3')).toEqual([]);
    expect(burst.map((r) => r.status)).toEqual(burst.map(() => 503));
    // Nothing else: 200 before and after, 503 in between (no 500, no network error).
    expect(Object.keys(stream.statusCounts()).sort()).toEqual(['200', '503']);

    const accepted = stream.accepted();
    await waitFor('every accepted docId persisted', () => allPresent(accepted, pipeline.storageDir, pipeline.errorsDir), 20_000).catch(
      () => undefined, // the figures below say what is missing
    );
    for (const worker of pipeline.workers.splice(0)) await worker.stop();
    expect(await pipeline.env.queueDepth(pipeline.env.topology.persistQueue)).toBe(0);
    const f = figures(accepted, await scanOccurrences(pipeline.storageDir, pipeline.errorsDir));
    printSummary('gateway, RabbitMQ unreachable', f, {
      answered503: stream.statusCounts()['503'] ?? 0,
      detectMs: detectedAt - cutAt,
      recoverMs: recoveredAt - restoreAt,
    });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
    // Backoff is capped at 5 s: back within a few seconds of the broker.
    expect(recoveredAt - restoreAt).toBeLessThan(7_000);
  }, 60_000);

  it('answers 503 once the confirm timeout passes when the broker stops answering, and recovers after a reconnect', async () => {
    const amqpProxy = await fixtures.proxy(AMQP_URL, 5672);
    const pipeline = await fixtures.pipeline('fault-gwstall', {
      gatewayEnv: { AMQP_URL: amqpProxy.urlFor(AMQP_URL), CONFIRM_TIMEOUT: '1s', RETRY_AFTER: '2s' },
    });
    const stream = new SubmissionStream(pipeline.baseUrl, { prefix: 'stall', concurrency: 4 });
    expect((await stream.sendBatch(20)).every((r) => r.status === 200)).toBe(true);

    // The connection stays open but nothing the gateway sends reaches the broker.
    amqpProxy.dropUpstream();
    const stalled = await stream.sendBatch(20);
    expect(stalled.map((r) => r.status)).toEqual(stalled.map(() => 503));
    expect(stalled.every((r) => r.retryAfter === '2' && r.endedAt - r.startedAt >= 900)).toBe(true);

    // The connection dies (as a heartbeat timeout would end it); the gateway reconnects.
    amqpProxy.cut();
    amqpProxy.restore();
    await waitFor('/ready 200 again', async () => (await fetch(`${pipeline.baseUrl}/ready`)).status === 200, 10_000);
    expect((await stream.sendBatch(20)).every((r) => r.status === 200)).toBe(true);

    const accepted = stream.accepted();
    await waitFor('every accepted docId persisted', () => allPresent(accepted, pipeline.storageDir, pipeline.errorsDir), 20_000).catch(() => undefined);
    for (const worker of pipeline.workers.splice(0)) await worker.stop();
    const occurrences = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
    const f = figures(accepted, occurrences);
    printSummary('gateway, broker stalled', f, { answered503: stalled.length });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
    // What was answered 503 never reached the broker: not stored either.
    expect(stalled.filter((r) => occurrences.count.has(r.docId))).toEqual([]);
  }, 60_000);
});
