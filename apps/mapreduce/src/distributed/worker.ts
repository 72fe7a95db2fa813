/**
 * A mapreduce-worker process: BullMQ workers on the map, reduce and schedule
 * queues. Any number of them, on any hosts that see the same storage and
 * work-dir paths, coordinate through Redis alone. A worker that dies mid-task
 * stops renewing its lock; after MAPREDUCE_LOCK_DURATION another worker's
 * stalled-job check puts the task back and it runs again (a task rewrites
 * its output files from scratch, so running twice is harmless).
 *
 * At start it registers the schedules of the shipped jobs its configuration
 * sets (MAPREDUCE_HISTOGRAM_CRON, MAPREDUCE_DASHBOARD_CRON) and removes the
 * others (schedules.ts).
 *
 * A task runs only when its job module, run directory and data directory are
 * under the worker's roots (MAPREDUCE_*_ROOTS, task-roots.ts): job data is
 * whatever was added to the queue, so a path outside them fails the task at
 * once, without retries, and is logged at warn.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '@telemetry/shared/logger';
import type { MapreduceConfig } from '../config.js';
import {
  cancelKey,
  processMapJob,
  processReduceJob,
  processRunJob,
  TaskPathRefusedError,
  type CancelCheck,
  type MapJobData,
  type ReduceJobData,
  type RunJobData,
} from './jobs.js';
import { bullConnection, queueNames } from './options.js';
import { registerSchedules, runScheduled } from './schedules.js';

export interface MapreduceWorker {
  stop(): Promise<void>;
}

export async function startMapreduceWorker(config: MapreduceConfig, logger: Logger): Promise<MapreduceWorker> {
  const { redisUrl, prefix } = config.distributed;
  const names = queueNames(config.distributed.queue);
  // BullMQ never closes a connection it was given: every one is tracked and closed at stop.
  const connections: ReturnType<typeof bullConnection>[] = [];
  const connect = (name: string) => {
    const created = bullConnection(redisUrl, name);
    connections.push(created);
    return created;
  };
  const connection = connect('mapreduce-worker');
  const reduceQueue = new Queue(names.reduce, { connection, prefix });
  const scheduleQueue = new Queue(names.schedule, { connection, prefix });
  const workerOptions = {
    prefix,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
  };

  const cancelPrefix = cancelKey(prefix, config.distributed.queue, '');
  const isCancelled: CancelCheck = async (runId) => (await connection.exists(`${cancelPrefix}${runId}`)) === 1;
  const { roots } = config.distributed;
  const mapWorker = new Worker<MapJobData>(names.map, (job) => processMapJob(job, isCancelled, roots), {
    ...workerOptions,
    connection: connect('mapreduce-worker-map'),
    concurrency: config.concurrency,
  });
  const reduceWorker = new Worker<RunJobData | ReduceJobData>(
    names.reduce,
    (job, token) =>
      job.data.kind === 'run'
        ? processRunJob(job as Job<RunJobData>, token, reduceQueue, isCancelled, roots)
        : processReduceJob(job as Job<ReduceJobData>, isCancelled, roots),
    { ...workerOptions, connection: connect('mapreduce-worker-reduce'), concurrency: config.concurrency },
  );
  const scheduleWorker = new Worker(names.schedule, (job) => runScheduled(job.name, config, logger), {
    ...workerOptions,
    connection: connect('mapreduce-worker-schedule'),
    concurrency: 1,
  });
  const workers = [mapWorker, reduceWorker, scheduleWorker];
  for (const worker of workers) {
    worker.on('failed', (job, error) => {
      // A refused path is someone's forged (or misconfigured) job, not a failing task: say which path.
      if (error instanceof TaskPathRefusedError) {
        logger.warn({ queue: worker.name, jobId: job?.id, kind: error.refused.kind, path: error.refused.refused, roots: error.refused.roots }, 'task refused: path outside the configured roots');
        return;
      }
      logger.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: error.message }, 'task failed');
    });
    worker.on('error', (error) => logger.error({ queue: worker.name, err: error.message }, 'worker error'));
  }

  let schedules: Record<string, string>;
  try {
    schedules = await registerSchedules(scheduleQueue, config);
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  } catch (error) {
    await Promise.allSettled([...workers.map((worker) => worker.close(true)), reduceQueue.close(), scheduleQueue.close()]);
    for (const created of connections) created.disconnect();
    throw error;
  }
  logger.info({ queues: names, prefix, concurrency: config.concurrency, schedules, roots }, 'mapreduce worker started');

  return {
    async stop() {
      // close() waits for the tasks in hand; a task cut short by a hard kill is retried elsewhere.
      await Promise.allSettled(workers.map((worker) => worker.close()));
      await Promise.allSettled([reduceQueue.close(), scheduleQueue.close()]);
      for (const created of connections) created.disconnect();
    },
  };
}
