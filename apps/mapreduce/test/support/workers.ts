/**
 * Real `npx telemetry mapreduce-worker` processes on unique BullMQ queues and
 * a unique key prefix per test; `cleanup` stops them and deletes every key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { REPO_ROOT } from '../../../../test/support/fixtures.js';
import { REDIS_URL, uniqueName, waitFor } from '../../../../test/support/services.js';
import type { DistributedOptions } from '../../src/distributed/options.js';
import { SHIPPED_JOBS_DIR } from '../../src/task-roots.js';

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<void>;
}

export interface DistributedEnvironment {
  readonly options: DistributedOptions;
  readonly env: Record<string, string>;
  startWorker(extraEnv?: Record<string, string>): Promise<WorkerProcess>;
  cleanup(): Promise<void>;
}

const CLI = path.join(REPO_ROOT, 'cli', 'bin', 'telemetry.js');
const TEST_JOBS_DIR = path.join(REPO_ROOT, 'apps', 'mapreduce', 'test', 'jobs');

export function distributedEnvironment(label: string): DistributedEnvironment {
  const queue = uniqueName(`mr-${label}`);
  const prefix = uniqueName('bull');
  const options: DistributedOptions = { redisUrl: REDIS_URL, queue, prefix, attempts: 3, backoffMs: 200 };
  const env = {
    REDIS_URL,
    MAPREDUCE_QUEUE: queue,
    BULLMQ_PREFIX: prefix,
    MAPREDUCE_ATTEMPTS: '3',
    MAPREDUCE_BACKOFF: '200ms',
    // Short locks: a killed worker's task is taken over within seconds, not 30 s.
    MAPREDUCE_LOCK_DURATION: '2s',
    MAPREDUCE_STALLED_INTERVAL: '1s',
    // The tests' jobs, data sets and work dirs: the shipped jobs, the test jobs and temp directories.
    MAPREDUCE_JOB_ROOTS: `${SHIPPED_JOBS_DIR},${TEST_JOBS_DIR}`,
    MAPREDUCE_DATA_ROOTS: os.tmpdir(),
    MAPREDUCE_WORK_ROOTS: os.tmpdir(),
    LOG_LEVEL: 'info',
  };
  const workers: WorkerProcess[] = [];

  return {
    options,
    env,
    async startWorker(extraEnv = {}) {
      const child = spawn(process.execPath, [CLI, 'mapreduce-worker'], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output: string[] = [];
      const collect = (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const worker = { child, output, exited };
      workers.push(worker);
      await waitFor(
        `mapreduce-worker ${child.pid} to start (output: ${output.slice(-5).join(' | ')})`,
        () => {
          if (child.exitCode !== null) throw new Error(`mapreduce-worker exited: ${output.join('\n')}`);
          return output.some((line) => line.includes('mapreduce worker started'));
        },
        30_000,
      );
      return worker;
    },
    async cleanup() {
      for (const worker of workers) {
        if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
      }
      await Promise.race([Promise.all(workers.map((worker) => worker.exited)), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      const redis = new Redis(REDIS_URL);
      try {
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    },
  };
}
