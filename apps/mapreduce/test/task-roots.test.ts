/**
 * A mapreduce-worker takes a task only when its job module, run directory and
 * data directory are under its roots (MAPREDUCE_JOB_ROOTS,
 * MAPREDUCE_WORK_ROOTS, MAPREDUCE_DATA_ROOTS), real paths compared
 * (symlinks and `..` resolved). Forged jobs are added straight to the BullMQ
 * queues, as the queue board or anyone reaching Redis could: each fails at
 * once, without retries, with a message naming the refused path, logged at
 * warn, and its job module is never imported. A run inside the roots still
 * runs; the client refuses a run outside them before submitting anything.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTelemetry } from '../../../test/support/cli.js';
import { REDIS_URL, uniqueName, waitFor } from '../../../test/support/services.js';
import { parseMapreduceConfig } from '../src/config.js';
import type { MapJobData, ReduceJobData, RunJobData } from '../src/distributed/jobs.js';
import { queueNames } from '../src/distributed/options.js';
import { runMapReduce } from '../src/run.js';
import { assertTaskUnderRoots, assertUnderRoots, PathOutsideRootsError, SHIPPED_JOBS_DIR, type TaskRoots } from '../src/task-roots.js';
import type { MapTaskSpec, ReduceTaskSpec } from '../src/tasks.js';
import { buildDataSet, filterJson } from './support/dataset.js';
import { distributedEnvironment, type DistributedEnvironment } from './support/workers.js';

/** Counts records per channel; plain JavaScript, so it runs from a temp directory. */
const COUNT_JOB = `export function map(_key, dims, _value, ctx) { ctx.write(dims.appUpdateChannel, 1); }
export function reduce(key, values, ctx) { ctx.write(key, values.length); }
`;

describe('task roots of the mapreduce-worker', () => {
  let dir: string;
  let roots: TaskRoots;
  let jobs: string;
  let data: string;
  let work: string;
  let outside: string;
  /** Imported by no one, or it writes this marker. */
  let evilJob: string;
  let marker: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-roots-'));
    [jobs, data, work, outside] = ['jobs', 'data', 'work', 'outside'].map((name) => path.join(dir, name)) as [string, string, string, string];
    await Promise.all([jobs, work, outside].map((d) => mkdir(d, { recursive: true })));
    await buildDataSet(data);
    await writeFile(path.join(jobs, 'count.mjs'), COUNT_JOB);
    marker = path.join(dir, 'imported');
    evilJob = path.join(outside, 'evil.mjs');
    await writeFile(evilJob, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'imported');\n${COUNT_JOB}`);
    await symlink(evilJob, path.join(jobs, 'link.mjs'));
    await symlink(outside, path.join(work, 'escape'));
    roots = { jobs: [jobs], data: [data], work: [work] };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const mapTask = (overrides: Partial<MapTaskSpec> = {}): MapTaskSpec => ({
    runDir: path.join(work, 'mr-forged'),
    jobModule: path.join(jobs, 'count.mjs'),
    params: {},
    index: 0,
    dataDir: data,
    fieldNames: [],
    files: [],
    reducers: 1,
    combineThreshold: 100,
    maxBadRecords: 0,
    skipUnreadableFiles: false,
    ...overrides,
  });
  const reduceTask = (overrides: Partial<ReduceTaskSpec> = {}): ReduceTaskSpec => ({
    runDir: path.join(work, 'mr-forged'),
    jobModule: path.join(jobs, 'count.mjs'),
    params: {},
    partition: 0,
    mapTasks: 1,
    ...overrides,
  });

  describe('the check', () => {
    it('accepts paths under the roots, a run directory not created yet and a data directory that is its root', async () => {
      await expect(assertTaskUnderRoots(mapTask(), roots)).resolves.toBeUndefined();
      await expect(assertTaskUnderRoots(reduceTask({ runDir: path.join(work, 'not', 'yet') }), roots)).resolves.toBeUndefined();
      await expect(assertTaskUnderRoots(mapTask({ dataDir: path.join(data, 'saved_session') }), roots)).resolves.toBeUndefined();
    });

    it('refuses what leaves the roots, through .., a symlink, a relative path or a file of the task', async () => {
      const refusals: [() => Promise<void>, RegExp][] = [
        [() => assertTaskUnderRoots(mapTask({ jobModule: evilJob }), roots), /refused job module .*evil\.mjs: not under MAPREDUCE_JOB_ROOTS/],
        [() => assertTaskUnderRoots(mapTask({ jobModule: path.join(jobs, '..', 'outside', 'evil.mjs') }), roots), /refused job module/],
        [() => assertTaskUnderRoots(mapTask({ jobModule: path.join(jobs, 'link.mjs') }), roots), /refused job module .*link\.mjs/],
        [() => assertTaskUnderRoots(mapTask({ jobModule: 'count.mjs' }), roots), /refused job module count\.mjs/],
        [() => assertTaskUnderRoots(mapTask({ dataDir: '/etc' }), roots), /refused data directory \/etc: not under MAPREDUCE_DATA_ROOTS/],
        [() => assertTaskUnderRoots(mapTask({ files: [{ path: '../outside/evil.mjs', size: 1, dims: [] }] }), roots), /refused data directory .*outside\/evil\.mjs/],
        [() => assertTaskUnderRoots(reduceTask({ runDir: work }), roots), /refused run directory .*: not under MAPREDUCE_WORK_ROOTS/],
        [() => assertTaskUnderRoots(reduceTask({ runDir: path.join(work, 'escape', 'run') }), roots), /refused run directory .*escape/],
        [() => assertTaskUnderRoots(reduceTask({ runDir: path.join(outside, 'run') }), roots), /refused run directory/],
      ];
      for (const [check, message] of refusals) await expect(check()).rejects.toThrow(message);
      await expect(assertUnderRoots('jobs', '/etc/passwd', roots)).rejects.toBeInstanceOf(PathOutsideRootsError);
    });

    it('defaults to the shipped jobs, STORAGE_DIR and MAPREDUCE_WORK_DIR; takes comma-separated lists', () => {
      const defaults = parseMapreduceConfig({ STORAGE_DIR: '/srv/storage', MAPREDUCE_WORK_DIR: '/srv/work' }).distributed.roots;
      expect(defaults).toEqual({ jobs: [SHIPPED_JOBS_DIR], data: ['/srv/storage'], work: ['/srv/work'] });
      expect(existsSync(path.join(SHIPPED_JOBS_DIR, 'histograms.ts'))).toBe(true);
      const listed = parseMapreduceConfig({ MAPREDUCE_JOB_ROOTS: '/a, /b/,', MAPREDUCE_DATA_ROOTS: 'rel', MAPREDUCE_WORK_ROOTS: '/w' }).distributed.roots;
      expect(listed).toEqual({ jobs: ['/a', '/b'], data: [path.resolve('rel')], work: ['/w'] });
    });
  });

  describe('on a real worker and real BullMQ queues', () => {
    let cluster: DistributedEnvironment;
    let output: string[];
    let redis: Redis;
    let mapQueue: Queue;
    let reduceQueue: Queue;
    beforeAll(async () => {
      cluster = distributedEnvironment('roots');
      const worker = await cluster.startWorker({ MAPREDUCE_JOB_ROOTS: jobs, MAPREDUCE_DATA_ROOTS: data, MAPREDUCE_WORK_ROOTS: work });
      output = worker.output;
      redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const names = queueNames(cluster.options.queue);
      mapQueue = new Queue(names.map, { connection: redis, prefix: cluster.options.prefix });
      reduceQueue = new Queue(names.reduce, { connection: redis, prefix: cluster.options.prefix });
    }, 60_000);
    afterAll(async () => {
      await Promise.allSettled([mapQueue.close(), reduceQueue.close()]);
      redis.disconnect();
      await cluster.cleanup();
    });

    /** Adds a forged job as an attacker would (three attempts offered) and waits for it to fail. */
    async function forged(queue: Queue, data: MapJobData | ReduceJobData | RunJobData): Promise<Job> {
      const job = await queue.add(data.kind, data, { jobId: uniqueName('forged'), attempts: 3, backoff: { type: 'fixed', delay: 100 } });
      await waitFor(`forged job ${job.id} to fail`, async () => (await job.getState()) === 'failed', 20_000);
      const failed = await queue.getJob(job.id ?? '');
      if (!failed) throw new Error(`job ${job.id} is gone`);
      return failed;
    }

    it('fails a forged job naming a job module, data or run directory outside the roots at once, without importing anything', async () => {
      const cases: [Queue, MapJobData | ReduceJobData, RegExp][] = [
        [mapQueue, { kind: 'map', task: mapTask({ jobModule: evilJob }) }, /refused job module .*evil\.mjs/],
        [mapQueue, { kind: 'map', task: mapTask({ jobModule: path.join(jobs, 'link.mjs') }) }, /refused job module .*link\.mjs/],
        [mapQueue, { kind: 'map', task: mapTask({ dataDir: '/etc', files: [{ path: 'passwd', size: 1, dims: [] }] }) }, /refused data directory \/etc/],
        [reduceQueue, { kind: 'reduce', task: reduceTask({ runDir: path.join(outside, 'mr-forged') }) }, /refused run directory .*outside/],
      ];
      for (const [queue, data, message] of cases) {
        const job = await forged(queue, data);
        expect(job.failedReason).toMatch(message);
        expect(job.attemptsMade).toBe(1);
      }
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(path.join(outside, 'mr-forged'))).toBe(false);
      await waitFor('the refusals in the worker log', () => output.filter((line) => line.includes('task refused')).length >= cases.length, 5_000);
      const refusals = output.filter((line) => line.includes('task refused')).map((line) => JSON.parse(line) as { level: number; path: string });
      expect(refusals.every((line) => line.level === 40)).toBe(true);
      expect(refusals.map((line) => line.path)).toContain(evilJob);
    }, 60_000);

    it('fails a forged run whose reduce tasks are outside the roots before it queues them', async () => {
      const runId = uniqueName('mr-run');
      const job = await forged(reduceQueue, {
        kind: 'run',
        runId,
        mapTasks: 0,
        reduces: [reduceTask({ jobModule: evilJob, runDir: path.join(work, runId) })],
        attempts: 1,
        backoffMs: 10,
        step: 'reduce',
      });
      expect(job.failedReason).toMatch(/refused job module .*evil\.mjs/);
      expect(await reduceQueue.getJob(`${runId}-reduce-0`)).toBeUndefined();
      expect(existsSync(marker)).toBe(false);
    }, 30_000);

    it('still runs a run inside the roots, and its client refuses one outside them before submitting', async () => {
      const options = { job: path.join(jobs, 'count.mjs'), inputFilter: filterJson(), dataDir: data, workDir: work, mappers: 2 };
      const local = path.join(dir, 'local.txt');
      const remote = path.join(dir, 'remote.txt');
      await runMapReduce({ ...options, output: local });
      const result = await runMapReduce({ ...options, output: remote, distributed: { ...cluster.options, roots } });
      expect(result.map.records).toBeGreaterThan(0);
      expect(await readFile(remote, 'utf8')).toBe(await readFile(local, 'utf8'));

      const before = await mapQueue.getJobCounts();
      const refused = runMapReduce({ ...options, job: evilJob, output: path.join(dir, 'never.txt'), distributed: { ...cluster.options, roots } });
      // Refused before the client loads the job or submits anything.
      await expect(refused).rejects.toThrow(PathOutsideRootsError);
      expect(existsSync(marker)).toBe(false);
      await expect(runMapReduce({ ...options, dataDir: outside, output: path.join(dir, 'never.txt'), distributed: { ...cluster.options, roots } })).rejects.toThrow(
        /refused data directory/,
      );
      expect(await mapQueue.getJobCounts()).toEqual(before);
      expect(existsSync(path.join(dir, 'never.txt'))).toBe(false);
    }, 90_000);

    it('makes `telemetry mapreduce --distributed` exit 2 naming the refused job module, before submitting', async () => {
      const filter = path.join(dir, 'filter.json');
      await writeFile(filter, JSON.stringify(filterJson()));
      const before = await mapQueue.getJobCounts();
      const args = ['mapreduce', evilJob, '--input-filter', filter, '--data-dir', data, '--work-dir', work, '--output', path.join(dir, 'never.txt'), '--distributed'];
      const result = await runTelemetry(args, { env: { ...cluster.env, MAPREDUCE_JOB_ROOTS: jobs, MAPREDUCE_DATA_ROOTS: data, MAPREDUCE_WORK_ROOTS: work } });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/refused job module .*evil\.mjs: not under MAPREDUCE_JOB_ROOTS/);
      expect(existsSync(marker)).toBe(false);
      expect(await mapQueue.getJobCounts()).toEqual(before);
    }, 60_000);
  });
});
