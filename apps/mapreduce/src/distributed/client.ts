/**
 * The client side of `--distributed`: submits the run's flow, relays the
 * workers' progress, waits for the parent job and turns a failure into the
 * failing task's own message (which names the file and line).
 */
import { FlowProducer, Queue, QueueEvents } from 'bullmq';
import { TaskFailedError } from '../errors.js';
import { RunAbortedError, type PhaseResults, type ProgressSink, type RunPlan } from '../runner.js';
import { emptyCounters, type TaskCounters } from '../tasks.js';
import { CANCEL_TTL_SECONDS, cancelKey, mapJobId, reduceJobId, runJobId, taskJobOptions, type MapJobData, type RunJobData, type RunResult, type TaskResult } from './jobs.js';
import { bullConnection, KEEP_COMPLETED, KEEP_FAILED, queueNames, type DistributedOptions, type QueueNames } from './options.js';

export async function runDistributed(
  plan: RunPlan,
  options: DistributedOptions,
  sink: ProgressSink,
  signal?: AbortSignal,
): Promise<PhaseResults> {
  const names = queueNames(options.queue);
  // QueueEvents block on their connection: each gets its own.
  const main = bullConnection(options.redisUrl, 'mapreduce-client');
  const mapEventsConnection = bullConnection(options.redisUrl, 'mapreduce-client-events');
  const reduceEventsConnection = bullConnection(options.redisUrl, 'mapreduce-client-events');
  const connections = [main, mapEventsConnection, reduceEventsConnection];
  const flow = new FlowProducer({ connection: main, prefix: options.prefix });
  const mapEvents = new QueueEvents(names.map, { connection: mapEventsConnection, prefix: options.prefix });
  const reduceEvents = new QueueEvents(names.reduce, { connection: reduceEventsConnection, prefix: options.prefix });
  const mapIndex = new Map(plan.maps.map((task) => [mapJobId(plan.runId, task.index), task.index]));
  const reduceIndex = new Map(plan.reduces.map((task) => [reduceJobId(plan.runId, task.partition), task.partition]));
  try {
    mapEvents.on('progress', ({ jobId, data }) => {
      const index = mapIndex.get(jobId);
      // What processMapJob reported: the task's counters so far.
      if (index !== undefined && typeof data === 'object') sink('map', index, data as unknown as TaskCounters);
    });
    mapEvents.on('completed', ({ jobId, returnvalue }) => {
      const index = mapIndex.get(jobId);
      const result = parseResult(returnvalue);
      if (index !== undefined && result?.kind === 'map') sink('map', index, result.counters);
    });
    reduceEvents.on('completed', ({ jobId }) => {
      const partition = reduceIndex.get(jobId);
      if (partition !== undefined) sink('reduce', partition, emptyCounters());
    });
    // Subscribed before the flow exists, so no event of this run can be missed.
    await Promise.all([mapEvents.waitUntilReady(), reduceEvents.waitUntilReady()]);

    const runData: RunJobData = {
      kind: 'run',
      runId: plan.runId,
      mapTasks: plan.maps.length,
      reduces: plan.reduces,
      attempts: options.attempts,
      backoffMs: options.backoffMs,
      step: 'reduce',
    };
    const tree = await flow.add({
      name: 'run',
      queueName: names.reduce,
      data: runData,
      opts: { jobId: runJobId(plan.runId), attempts: options.attempts, backoff: { type: 'exponential', delay: options.backoffMs }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
      children: plan.maps.map((task) => ({
        name: 'map',
        queueName: names.map,
        data: { kind: 'map', task } satisfies MapJobData,
        opts: taskJobOptions(mapJobId(plan.runId, task.index), options.attempts, options.backoffMs),
      })),
    });
    const parent = tree.job;
    const finished = parent.waitUntilFinished(reduceEvents) as Promise<RunResult>;
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(new RunAbortedError('the run was interrupted'));
      signal?.addEventListener('abort', () => reject(new RunAbortedError('the run was interrupted')), { once: true });
    });
    try {
      const result = await Promise.race([finished, aborted]);
      return { map: result.map, reduce: result.reduce };
    } catch (error) {
      finished.catch(() => undefined);
      if (error instanceof RunAbortedError) {
        // Tasks not started yet fail at once; those running fail when they
        // next write (the client removes the run directory).
        await main.set(cancelKey(options.prefix, options.queue, plan.runId), '1', 'EX', CANCEL_TTL_SECONDS).catch(() => undefined);
        await parent.remove({ removeChildren: true }).catch(() => undefined);
        throw error;
      }
      throw await explainFailure(plan, names, options, error);
    }
  } finally {
    await Promise.allSettled([mapEvents.close(), reduceEvents.close(), flow.close()]);
    for (const connection of connections) connection.disconnect();
  }
}

function parseResult(returnvalue: unknown): TaskResult | undefined {
  try {
    const value: unknown = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue;
    return typeof value === 'object' && value !== null ? (value as TaskResult) : undefined;
  } catch {
    return undefined;
  }
}

/** The parent only says "child X failed": report the first failed task's own reason instead. */
async function explainFailure(plan: RunPlan, names: QueueNames, options: DistributedOptions, error: unknown): Promise<Error> {
  const connection = bullConnection(options.redisUrl, 'mapreduce-client-inspect');
  const mapQueue = new Queue(names.map, { connection, prefix: options.prefix });
  const reduceQueue = new Queue(names.reduce, { connection, prefix: options.prefix });
  try {
    const candidates = [
      ...plan.maps.map((task) => ({ queue: mapQueue, id: mapJobId(plan.runId, task.index), label: `map task ${task.index}` })),
      ...plan.reduces.map((task) => ({ queue: reduceQueue, id: reduceJobId(plan.runId, task.partition), label: `reduce task ${task.partition}` })),
    ];
    for (const candidate of candidates) {
      const job = (await candidate.queue.getJob(candidate.id));
      if (job?.failedReason) {
        return new TaskFailedError(`${candidate.label} failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`);
      }
    }
    return new TaskFailedError(`run ${plan.runId} failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await Promise.allSettled([mapQueue.close(), reduceQueue.close()]);
    connection.disconnect();
  }
}
