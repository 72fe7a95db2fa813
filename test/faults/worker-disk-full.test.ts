/**
 * SPEC 5 and 9: a full disk during a batch. The fault is real ENOSPC through
 * the real writer: the worker's active file is replaced by a symlink to
 * /dev/full (every write to it fails with ENOSPC). The worker must stop
 * acknowledging (the messages stay with the broker), lose nothing, store
 * nothing twice (the batch's writes to other files are rolled back), and
 * resume by itself once the space is back.
 */
import { existsSync } from 'node:fs';
import { readdir, rename, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunningWorker } from '../../apps/workers/src/worker.js';
import { allPresent, faultFixtures, figures, printSummary, scanOccurrences, SubmissionStream, workerCounter } from '../support/faults.js';
import { AMQP_URL, waitFor } from '../support/services.js';

const transientFailures = (worker: RunningWorker) => workerCounter(worker, 'telemetry_worker_transient_failures_total');

/** The worker's active storage files (regular files only). */
async function activeFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.test_w0.log')).map((e) => path.join(e.parentPath, e.name));
}

describe.skipIf(!existsSync('/dev/full'))('a full disk during a batch', () => {
  const fixtures = faultFixtures();

  it('stops acknowledging, loses nothing, stores nothing twice, and resumes when space is back', async () => {
    const amqpProxy = await fixtures.proxy(AMQP_URL, 5672);
    const pipeline = await fixtures.pipeline('fault-disk', { workers: 1, workerEnv: { AMQP_URL: amqpProxy.urlFor(AMQP_URL), BATCH_SIZE: '100' } });
    const worker = pipeline.workers[0];
    if (!worker) throw new Error('no worker');
    const queueDepth = () => pipeline.env.queueDepth(pipeline.env.topology.persistQueue);
    const stream = new SubmissionStream(pipeline.baseUrl, { prefix: 'disk', concurrency: 6 });

    // Pings spread over three partitions, so three active files.
    const before = await stream.sendBatch(30);
    await waitFor('the first pings stored', () => allPresent(before.map((r) => r.docId), pipeline.storageDir, pipeline.errorsDir), 10_000);
    const files = await activeFiles(pipeline.storageDir);
    expect(files).toHaveLength(3);
    const full = files.find((f) => f.includes(`${path.sep}23.0.1${path.sep}`));
    if (!full) throw new Error('no active file for 23.0.1');

    // The disk fills up under one of them.
    const saved = path.join(pipeline.env.dir, 'saved.log');
    await rename(full, saved);
    await symlink('/dev/full', full);
    const failuresBefore = await transientFailures(worker);
    const during = await stream.sendBatch(30);
    expect(during.every((r) => r.status === 200)).toBe(true);
    const duringIds = during.map((r) => r.docId);
    await waitFor('the batch failing and being retried', async () => (await transientFailures(worker)) - failuresBefore >= 2, 10_000);
    // Nothing of the failing batch is in storage, not even in the two files that had room.
    const whileFull = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
    expect(duringIds.filter((docId) => whileFull.count.has(docId))).toEqual([]);

    // Not acknowledged: once the worker's connection drops, all 30 are back in the queue.
    amqpProxy.cut();
    await waitFor('the unacknowledged batch back in the queue', async () => (await pipeline.env.queuedSubmissions(pipeline.env.topology.persistQueue)) === during.length, 5_000);
    amqpProxy.restore();
    await waitFor('the worker reconnected', () => worker.consumer.isConnected(), 10_000);
    const failuresAfterReconnect = await transientFailures(worker);
    await waitFor('the redelivered batch failing again', async () => (await transientFailures(worker)) > failuresAfterReconnect, 10_000);

    // Space is back: the same worker resumes by itself.
    await unlink(full);
    await rename(saved, full);
    const freedAt = Date.now();
    await waitFor('the batch stored after the disk has room again', () => allPresent(duringIds, pipeline.storageDir, pipeline.errorsDir), 30_000).catch(
      () => undefined, // the figures below say what is missing
    );
    const resumedMs = Date.now() - freedAt;
    const failures = (await transientFailures(worker)) - failuresBefore;
    for (const w of pipeline.workers.splice(0)) await w.stop();
    expect(await queueDepth()).toBe(0);

    const accepted = stream.accepted();
    const f = figures(accepted, await scanOccurrences(pipeline.storageDir, pipeline.errorsDir));
    printSummary('worker, disk full (ENOSPC)', f, { failedAttempts: failures, resumedMs });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
  }, 60_000);

  it('stops promptly when asked to during a full disk, returning the unpersisted batch to the queue', async () => {
    const pipeline = await fixtures.pipeline('fault-diskstop', { workers: 1 });
    const worker = pipeline.workers[0];
    if (!worker) throw new Error('no worker');
    const stream = new SubmissionStream(pipeline.baseUrl, { prefix: 'diskstop', concurrency: 6 });
    const before = await stream.sendBatch(9);
    await waitFor('the first pings stored', () => allPresent(before.map((r) => r.docId), pipeline.storageDir, pipeline.errorsDir), 10_000);
    const files = await activeFiles(pipeline.storageDir);
    const saved = files.map((file, i) => ({ file, saved: path.join(pipeline.env.dir, `saved-${i}.log`) }));
    for (const { file, saved: to } of saved) {
      await rename(file, to);
      await symlink('/dev/full', file);
    }
    const during = await stream.sendBatch(30);
    expect(during.every((r) => r.status === 200)).toBe(true);
    await waitFor('the batch failing', async () => (await transientFailures(worker)) >= 2, 10_000);

    // SIGTERM-style stop while the batch cannot be persisted: it must not wait for the disk.
    const stopStarted = Date.now();
    pipeline.workers.splice(0);
    const stopped = await Promise.race([worker.stop().then(() => 'stopped' as const, (error: unknown) => error), new Promise((resolve) => setTimeout(() => resolve('hung'), 10_000))]);
    const stopMs = Date.now() - stopStarted;
    expect(stopped).toBe('stopped');
    // Nothing of it was acknowledged: all of it is back in the queue for the next worker.
    await waitFor('the batch back in the queue', async () => (await pipeline.env.queuedSubmissions(pipeline.env.topology.persistQueue)) === during.length, 5_000);

    for (const { file, saved: from } of saved) {
      await unlink(file).catch(() => undefined);
      await rename(from, file);
    }
    await pipeline.startWorker(0);
    const accepted = stream.accepted();
    await waitFor('everything stored by the next worker', () => allPresent(accepted, pipeline.storageDir, pipeline.errorsDir), 15_000).catch(() => undefined);
    for (const w of pipeline.workers.splice(0)) await w.stop();
    const f = figures(accepted, await scanOccurrences(pipeline.storageDir, pipeline.errorsDir));
    printSummary('worker stopped during a full disk', f, { stopMs });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
  }, 60_000);
});
