/**
 * SPEC 8 and 9: workers survive a Redis restart. The worker (a real child
 * process) reaches Redis through a TCP proxy that is cut while submissions
 * keep coming: the batch that cannot claim its docIds is not acknowledged
 * and is retried; the same process carries on after Redis is back, and
 * everything answered 200 is stored (or filed) exactly once.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFailed } from 'vitest';
import { allPresent, faultFixtures, figures, printSummary, scanOccurrences, sleep, SubmissionStream } from '../support/faults.js';
import { REDIS_URL, waitFor } from '../support/services.js';
import { killAllWorkerProcesses, spawnWorkerProcess } from '../support/worker-process.js';

describe('a worker while Redis restarts', () => {
  const fixtures = faultFixtures(killAllWorkerProcesses);

  it('does not crash, acknowledges nothing unpersisted, and stores everything exactly once after Redis is back', async () => {
    const redisProxy = await fixtures.proxy(REDIS_URL, 6379);
    const pipeline = await fixtures.pipeline('fault-redis', { workers: 0 });
    const worker = spawnWorkerProcess({ ...pipeline.workerEnv(0), REDIS_URL: redisProxy.urlFor(REDIS_URL), BATCH_SIZE: '50' });
    const t0 = Date.now();
    const marks: string[] = [];
    const mark = (label: string) => marks.push(`${label} +${Date.now() - t0}ms`);
    onTestFailed(() => console.log(`timeline: ${marks.join(', ')}\nworker log:\n${worker.tail(80)}`));
    await worker.waitUntilConsuming();
    const stream = new SubmissionStream(pipeline.baseUrl, { prefix: 'redis', concurrency: 4, pauseMs: 5, badEvery: 10 });

    stream.start();
    await waitFor(
      '200 submissions persisted',
      async () => {
        const o = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
        return o.storedLines + o.filedLines >= 200;
      },
      20_000,
    );
    const cutAt = Date.now();
    mark('cut');
    redisProxy.cut();
    await worker.waitForLog(
      'a batch refused for want of Redis',
      (e) => e.msg === 'batch not handled; not acknowledging, retrying' && String(e.err).includes('Redis'),
      15_000,
    );
    const acceptedAtFirstFailure = stream.accepted().length;
    mark('first failure');
    await sleep(2_000);
    // Nothing accepted since the outage began has been stored: no claim, no write.
    const duringOutage = stream.results.filter((r) => r.status === 200 && r.startedAt > cutAt + 1_000).map((r) => r.docId);
    const storedDuringOutage = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(duringOutage.filter((docId) => storedDuringOutage.count.has(docId))).toEqual([]);

    const restoreAt = Date.now();
    mark('restore');
    redisProxy.restore();
    await worker.waitForLog('reconnected to Redis', (e) => e.msg === 'reconnected to Redis', 15_000);
    mark('reconnected');
    await sleep(1_000);
    await stream.stop();
    const accepted = stream.accepted();
    // The gateway (healthy here) answers 200, or 503 should the shared broker not confirm in time:
    // a 503 is not accepted (the client retries), so it is not counted as accepted either.
    expect(Object.keys(stream.statusCounts()).filter((status) => status !== '200' && status !== '503')).toEqual([]);

    await waitFor('every accepted docId persisted', () => allPresent(accepted, pipeline.storageDir, pipeline.errorsDir), 40_000).catch(
      () => undefined, // the figures below say what is missing
    );
    const caughtUpMs = Date.now() - restoreAt;
    mark('caught up');
    // The same process all along: it never exited, and still holds its writer lock.
    expect(worker.exit).toBeUndefined();
    expect((await readFile(path.join(pipeline.storageDir, '.writers', 'test_w0.pid'), 'utf8')).trim()).toBe(String(worker.pid));
    expect((await worker.stop()).code).toBe(0);
    mark('stopped');
    expect(await pipeline.env.queueDepth(pipeline.env.topology.persistQueue)).toBe(0);
    expect(await pipeline.env.queueDepth(pipeline.env.topology.deadLetterQueue)).toBe(0);

    const occurrences = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
    const f = figures(accepted, occurrences);
    const retries = worker.logs.filter((e) => e.msg === 'batch not handled; not acknowledging, retrying').length;
    printSummary('worker, Redis restart', f, {
      statuses: stream.statusCounts(),
      acceptedAtFirstFailure,
      acceptedDuringOutage: duringOutage.length,
      batchRetries: retries,
      caughtUpMs,
      stored: occurrences.storedLines,
      filed: occurrences.filedLines,
    });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
    // Redis failures are expected trouble, handled as such: nothing logged as an error.
    expect(worker.logs.filter((e) => (e.level ?? 0) >= 50)).toEqual([]);
  }, 60_000);
});
