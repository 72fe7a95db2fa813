import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHgServer, type HgServer } from '../../../test/support/hg-server.js';
import { REDIS_URL, waitFor } from '../../../test/support/services.js';
import { DASHBOARD_JOB } from '../src/dashboard/run.js';
import { HISTOGRAM_JOB } from '../src/histograms/run.js';
import { queueNames } from '../src/distributed/options.js';
import { RunAbortedError } from '../src/runner.js';
import { runMapReduce, type MapReduceOptions } from '../src/run.js';
import { buildDataSet, filterJson } from './support/dataset.js';
import { distributedEnvironment, type DistributedEnvironment } from './support/workers.js';

const JOBS = path.join(import.meta.dirname, 'jobs');

describe('distributed runs (BullMQ flows on mapreduce-worker processes)', () => {
  let dir: string;
  let data: string;
  let hg: HgServer;
  let cluster: DistributedEnvironment;
  let runs = 0;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-distributed-'));
    data = path.join(dir, 'data');
    await buildDataSet(data);
    hg = await startHgServer();
  });
  afterAll(async () => {
    await hg.close();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await cluster.cleanup();
  });

  /** Runs `job` locally and distributed with the same options; returns both outputs. */
  async function bothWays(job: string, options: Partial<MapReduceOptions>) {
    runs += 1;
    const base = { job, inputFilter: filterJson(), dataDir: data, workDir: path.join(dir, 'work'), ...options };
    const localOutput = path.join(dir, `local-${runs}.txt`);
    const remoteOutput = path.join(dir, `remote-${runs}.txt`);
    const local = await runMapReduce({ ...base, output: localOutput });
    const remote = await runMapReduce({ ...base, output: remoteOutput, distributed: cluster.options });
    return { local, remote, localText: await readFile(localOutput, 'utf8'), remoteText: await readFile(remoteOutput, 'utf8') };
  }

  it('gives byte-identical output to the local run: reduce with combine, several reducers, map-only, the histogram and dashboard jobs', async () => {
    cluster = distributedEnvironment('same');
    await Promise.all([cluster.startWorker(), cluster.startWorker()]);

    const count = await bothWays(path.join(JOBS, 'count.ts'), { mappers: 3, reducers: 2, combineThreshold: 3 });
    expect(count.remoteText).toBe(count.localText);
    expect(count.remoteText.split('\n').length).toBeGreaterThan(5);
    expect(count.remote.map).toEqual(count.local.map);
    expect(count.remote.map.tornLines).toBe(1);
    expect(count.remote.map.combines).toBeGreaterThan(0);

    const docs = await bothWays(path.join(JOBS, 'docs.mjs'), { mappers: 2 });
    expect(docs.remoteText).toBe(docs.localText);

    // Floating-point sums too: both modes add the same values in the same order.
    const params = { hgServer: hg.url, revisionCacheDir: path.join(dir, 'revisions') };
    const histograms = await bothWays(HISTOGRAM_JOB, { mappers: 3, reducers: 2, params, combineThreshold: 4 });
    expect(histograms.remoteText).toBe(histograms.localText);
    expect(histograms.remoteText).toContain('"group","saved_session","Firefox","nightly","28.0a1"');
    const dashboard = await bothWays(DASHBOARD_JOB, { mappers: 3, reducers: 2, params, combineThreshold: 4 });
    expect(dashboard.remoteText).toBe(dashboard.localText);
    expect(dashboard.remoteText).toContain('["measure","release","23","SIMPLE_MEASURES_UPTIME"]');
    expect(await readdir(path.join(dir, 'work'))).toEqual([]);
  }, 120_000);

  it('retries a map task that failed, and the result is still the local one', async () => {
    cluster = distributedEnvironment('retry');
    await cluster.startWorker();
    const marker = path.join(dir, `marker-${runs}`);
    const job = path.join(JOBS, 'flaky.ts');
    const local = path.join(dir, 'flaky-local.txt');
    await runMapReduce({ job, inputFilter: filterJson(), dataDir: data, workDir: path.join(dir, 'work'), output: local, mappers: 2 });
    const remote = path.join(dir, 'flaky-remote.txt');
    await runMapReduce({
      job,
      inputFilter: filterJson(),
      dataDir: data,
      workDir: path.join(dir, 'work'),
      output: remote,
      mappers: 2,
      params: { marker, failOnce: 'true' },
      distributed: cluster.options,
    });
    expect(existsSync(marker)).toBe(true);
    expect(await readFile(remote, 'utf8')).toBe(await readFile(local, 'utf8'));
  }, 90_000);

  it('reports the failing task, file and line once the attempts are used up', async () => {
    cluster = distributedEnvironment('fail');
    await cluster.startWorker();
    const failDocId = 'ab-000003-0000-0000-000000000000';
    const attempt = runMapReduce({
      job: path.join(JOBS, 'throws.ts'),
      inputFilter: filterJson(),
      dataDir: data,
      workDir: path.join(dir, 'work'),
      output: path.join(dir, 'never.txt'),
      mappers: 2,
      params: { failDocId },
      distributed: { ...cluster.options, attempts: 2, backoffMs: 50 },
    });
    await expect(attempt).rejects.toThrow(/map task \d failed after 2 attempt\(s\): .*20131011\.v2\.wA\.2\.log\.gz:4 \(ab-000003-[^)]*\): map failed: RangeError/);
    expect(existsSync(path.join(dir, 'never.txt'))).toBe(false);
  }, 90_000);

  it('cancels the run when its client is interrupted: queued tasks fail at once, the work dir is left clean', async () => {
    cluster = distributedEnvironment('cancel');
    await cluster.startWorker();
    const marker = path.join(dir, 'cancel-marker');
    const controller = new AbortController();
    const workDir = path.join(dir, 'cancel-work');
    const attempt = runMapReduce({
      job: path.join(JOBS, 'flaky.ts'),
      inputFilter: filterJson(),
      dataDir: data,
      workDir,
      output: path.join(dir, 'cancelled.txt'),
      mappers: 3,
      params: { marker, delayMs: '30' },
      distributed: cluster.options,
      signal: controller.signal,
    });
    attempt.catch(() => undefined);
    await waitFor('the first map task to start', () => existsSync(marker), 30_000);
    controller.abort();
    await expect(attempt).rejects.toThrow(RunAbortedError);
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const mapQueue = new Queue(queueNames(cluster.options.queue).map, { connection, prefix: cluster.options.prefix });
    try {
      // The running task fails when it writes (its directory is gone), the queued ones at once: none is left.
      await waitFor('every map task to stop', async () => {
        const counts = await mapQueue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
        return Object.values(counts).every((count) => count === 0);
      }, 60_000);
      const failed = await mapQueue.getFailed();
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.some((job) => /cancelled by its client/.test(job.failedReason))).toBe(true);
    } finally {
      await mapQueue.close();
      connection.disconnect();
    }
    expect(await readdir(workDir)).toEqual([]);
    expect(existsSync(path.join(dir, 'cancelled.txt'))).toBe(false);
  }, 120_000);

  it('completes when the worker running a map task is killed (SIGKILL): the stalled task is retried elsewhere', async () => {
    cluster = distributedEnvironment('kill');
    const first = await cluster.startWorker();
    const marker = path.join(dir, 'kill-marker');
    const options = {
      job: path.join(JOBS, 'flaky.ts'),
      inputFilter: filterJson({ appUpdateChannel: 'release' }),
      dataDir: data,
      workDir: path.join(dir, 'work'),
      mappers: 1,
    };
    const local = path.join(dir, 'kill-local.txt');
    await runMapReduce({ ...options, output: local });
    const remote = path.join(dir, 'kill-remote.txt');
    const run = runMapReduce({ ...options, output: remote, params: { marker, delayMs: '60' }, distributed: cluster.options });
    run.catch(() => undefined);
    // The marker is written by the first map call: the task is running on the only worker.
    await waitFor('the map task to start', () => existsSync(marker), 30_000);
    expect(await readFile(marker, 'utf8')).toBe(String(first.child.pid));
    first.child.kill('SIGKILL');
    await first.exited;
    await cluster.startWorker();
    await run;
    expect(await readFile(remote, 'utf8')).toBe(await readFile(local, 'utf8'));
  }, 120_000);
});
