/**
 * SPEC 9: a submission answered 200 is persisted (or filed) through a worker
 * `kill -9`. The worker is a real child process, killed with SIGKILL while a
 * steady stream of submissions is being persisted; a new process in the same
 * slot takes over the dead one's lock, finishes (never appends to) the files
 * it left, and persists the rest.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseErrorLine } from '@telemetry/shared/storage/error-store';
import { parseRecordLine } from '@telemetry/shared/storage/reader';
import { describe, expect, it, onTestFailed } from 'vitest';
import { randomBytes } from 'node:crypto';
import { allPresent, faultFixtures, figures, printSummary, scanOccurrences, sleep, SubmissionStream } from '../support/faults.js';
import { REDIS_URL, waitFor } from '../support/services.js';
import { killAllWorkerProcesses, spawnWorkerProcess } from '../support/worker-process.js';

// Large batches gathered slowly: at the kill a batch's worth of deliveries is
// typically in the dead process's hands (delivered, maybe written, not acked).
const BATCH_SIZE = 100;

/** The active (unfinished) `.log` files of writer test_w0 under `root`, with their bytes. */
async function activeFiles(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith('.test_w0.log')) {
      const file = path.join(entry.parentPath, entry.name);
      out.set(file, await readFile(file));
    }
  }
  return out;
}

/** Every `.log.gz` under `root`, decompressed. */
async function compressedFiles(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith('.log.gz')) {
      const file = path.join(entry.parentPath, entry.name);
      out.set(file, gunzipSync(await readFile(file)));
    }
  }
  return out;
}

/** docIds of the complete lines of a file's bytes. */
function docIdsOf(content: Buffer, errors: boolean): string[] {
  const text = content.toString('utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (errors ? parseErrorLine(line)?.docId : parseRecordLine(line)?.docId) ?? '?');
}

describe('a worker killed with SIGKILL mid-batch', () => {
  const fixtures = faultFixtures(killAllWorkerProcesses);

  it('loses nothing answered 200; the next process finishes the dead one\'s files without appending', async () => {
    const pipeline = await fixtures.pipeline('fault-kill', { workers: 0 });
    const env = {
      ...pipeline.workerEnv(0),
      BATCH_SIZE: String(BATCH_SIZE),
      PREFETCH: '200',
      BATCH_MAX_WAIT: '250ms',
      MAX_FILE_AGE: '10m',
    };
    const stream = new SubmissionStream(pipeline.baseUrl, { prefix: 'kill', concurrency: 4, badEvery: 10 });

    const first = spawnWorkerProcess(env);
    onTestFailed(() => console.log(`first worker log:\n${first.tail(40)}`));
    await first.waitUntilConsuming();
    stream.start();
    await waitFor(
      '300 submissions persisted by the first worker',
      async () => {
        const o = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
        return o.storedLines + o.filedLines >= 300;
      },
      20_000,
    );
    const acceptedBeforeKill = stream.accepted().length;
    first.kill('SIGKILL');
    expect((await first.waitForExit()).signal).toBe('SIGKILL');

    // What the dead writer left: its lock file and its unfinished files.
    const lockFile = path.join(pipeline.storageDir, '.writers', 'test_w0.pid');
    expect((await readFile(lockFile, 'utf8')).trim()).toBe(String(first.pid));
    const leftStorage = await activeFiles(pipeline.storageDir);
    const leftErrors = await activeFiles(pipeline.errorsDir);
    expect(leftStorage.size).toBeGreaterThan(0);
    expect(leftErrors.size).toBeGreaterThan(0);
    const leftDocIds = new Set([
      ...[...leftStorage.values()].flatMap((c) => docIdsOf(c, false)),
      ...[...leftErrors.values()].flatMap((c) => docIdsOf(c, true)),
    ]);
    const inFlightAtKill = acceptedBeforeKill - leftDocIds.size;

    // Submissions keep coming while no worker runs; then the same slot starts again.
    await sleep(300);
    const second = spawnWorkerProcess(env);
    onTestFailed(() => console.log(`second worker log:\n${second.tail(60)}`));
    await second.waitUntilConsuming();
    // The dead process's lock was taken over.
    expect((await readFile(lockFile, 'utf8')).trim()).toBe(String(second.pid));
    await sleep(1_000);
    await stream.stop();
    const accepted = stream.accepted();
    // The gateway (healthy here) answers 200, or 503 should the shared broker not confirm in time:
    // a 503 is not accepted (the client retries), so it is not counted as accepted either.
    expect(Object.keys(stream.statusCounts()).filter((status) => status !== '200' && status !== '503')).toEqual([]);

    await waitFor('every accepted docId persisted', () => allPresent(accepted, pipeline.storageDir, pipeline.errorsDir), 30_000).catch(
      () => undefined, // the figures below say what is missing
    );
    expect((await second.stop()).code).toBe(0);
    expect(await pipeline.env.queueDepth(pipeline.env.topology.persistQueue)).toBe(0);
    expect(await pipeline.env.queueDepth(pipeline.env.topology.deadLetterQueue)).toBe(0);

    const occurrences = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
    const f = figures(accepted, occurrences);
    printSummary('worker SIGKILL mid-batch', f, {
      statuses: stream.statusCounts(),
      acceptedBeforeKill,
      inFlightAtKill,
      leftFiles: leftStorage.size + leftErrors.size,
      stored: occurrences.storedLines,
      filed: occurrences.filedLines,
    });
    expect(f.lost).toEqual([]);
    // A duplicate can only come from the crash window: its first copy is in a
    // file the killed process wrote, and at most one batch was in that window.
    expect(f.duplicates.filter((docId) => !leftDocIds.has(docId))).toEqual([]);
    expect(f.duplicates.length).toBeLessThanOrEqual(BATCH_SIZE);

    // The dead writer's files were finished and compressed exactly as it left
    // them (never appended to), under a finished name of the same writer.
    const compressed = new Map([...(await compressedFiles(pipeline.storageDir)), ...(await compressedFiles(pipeline.errorsDir))]);
    for (const [file, content] of [...leftStorage, ...leftErrors]) {
      const base = path.basename(file, '.log');
      const match = [...compressed].filter(
        ([gz, data]) => path.dirname(gz) === path.dirname(file) && new RegExp(`^${base.replace(/\./g, '\\.')}\\.\\d{13,}\\.log\\.gz$`).test(path.basename(gz)) && data.equals(content),
      );
      expect(match, `${file} finished as it was`).toHaveLength(1);
    }
    // After the graceful stop every file is finished and compressed, and the lock is released.
    expect((await activeFiles(pipeline.storageDir)).size + (await activeFiles(pipeline.errorsDir)).size).toBe(0);
    await expect(readFile(lockFile)).rejects.toMatchObject({ code: 'ENOENT' });
    // The new process took over the dead one's lock and did real work.
    expect(second.logs.some((e) => e.msg === 'finished files left by an earlier run of this writer')).toBe(true);
  }, 60_000);

  it('killed between the fsync and marking the docIds done, stores that batch again: duplicates, never a loss', async () => {
    // Deterministic crash window: the batch's pings name an unknown revision
    // that the Mercurial server answers (404) only after a delay, so the batch
    // sits between its claim and its write; Redis requests are then swallowed
    // (the proxy drops what the worker sends), so after the fsync the batch
    // hangs on marking its docIds done, and is killed there.
    const redisProxy = await fixtures.proxy(REDIS_URL, 6379);
    const pipeline = await fixtures.pipeline('fault-killwin', { workers: 0 });
    const env = { ...pipeline.workerEnv(0), REDIS_URL: redisProxy.urlFor(REDIS_URL), BATCH_SIZE: '20', BATCH_MAX_WAIT: '100ms' };

    const revision = randomBytes(6).toString('hex');
    pipeline.hg.setDelayMs(1_500);
    const ping = JSON.stringify({
      ver: 1,
      info: { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812', revision: `http://hg.mozilla.org/releases/mozilla-release/rev/${revision}` },
      histograms: {},
    });
    const docIds = Array.from({ length: 20 }, (_, i) => `window-${i}`);
    const statuses = await Promise.all(docIds.map(async (docId) => (await pipeline.submit(docId, ping)).status));
    expect(statuses.every((s) => s === 200)).toBe(true);
    // Queued before the worker starts, so they arrive together: one batch of 20.
    const first = spawnWorkerProcess(env);
    await first.waitUntilConsuming();

    await waitFor('the batch fetching its revision (claimed, not written)', () => pipeline.hg.requests.some((r) => r.includes(revision)), 10_000);
    redisProxy.dropUpstream();
    await waitFor('the batch written and fsynced', () => allPresent(docIds, pipeline.storageDir, pipeline.errorsDir), 10_000);
    await sleep(100);
    first.kill('SIGKILL');
    await first.waitForExit();
    const left = await activeFiles(pipeline.errorsDir);
    const leftDocIds = new Set([...left.values()].flatMap((c) => docIdsOf(c, true)));
    expect([...leftDocIds].sort()).toEqual([...docIds].sort());

    redisProxy.cut();
    redisProxy.restore();
    pipeline.hg.setDelayMs(0);
    const second = spawnWorkerProcess(env);
    await second.waitUntilConsuming();
    await waitFor('the batch redelivered and stored again', async () => {
      const o = await scanOccurrences(pipeline.storageDir, pipeline.errorsDir);
      return docIds.every((docId) => (o.count.get(docId) ?? 0) >= 2);
    }, 15_000).catch(() => undefined);
    expect((await second.stop()).code).toBe(0);
    expect(await pipeline.env.queueDepth(pipeline.env.topology.persistQueue)).toBe(0);

    const f = figures(docIds, await scanOccurrences(pipeline.storageDir, pipeline.errorsDir));
    printSummary('worker SIGKILL between fsync and mark-done', f);
    expect(f.lost).toEqual([]);
    // Every docId of the killed batch is there twice (the dead writer's copy and the
    // retry's), and no more: the crash window costs a duplicate, never a loss.
    expect(f.duplicates.sort()).toEqual([...docIds].sort());
    expect(f.extraCopies).toBe(docIds.length);
  }, 60_000);
});
