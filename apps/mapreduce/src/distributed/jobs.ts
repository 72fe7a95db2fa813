/**
 * The BullMQ jobs of a distributed run and what a worker does with them.
 *
 * A run is one flow: the parent `run` job (reduce queue) with one `map` child
 * per map task (map queue). BullMQ starts the parent only once every child
 * has completed. The parent then adds one `reduce` child per partition to
 * itself and waits again (moveToWaitingChildren), so partitions are reduced in
 * parallel on any workers; when they are done it completes with every task's
 * counters. The client reads the output files from the shared work dir.
 *
 * Every job id is derived from the run id, so a parent retried after its
 * worker died adds the same partition jobs again, which BullMQ ignores.
 */
import { UnrecoverableError, WaitingChildrenError, type Job, type Queue } from 'bullmq';
import path from 'node:path';
import { TaskFailedError } from '../errors.js';
import { runMapTask } from '../map-task.js';
import { runReduceTask } from '../reduce-task.js';
import { assertTaskUnderRoots, PathOutsideRootsError, type TaskRoots } from '../task-roots.js';
import { emptyCounters, type MapTaskSpec, type ReduceTaskSpec, type TaskCounters } from '../tasks.js';
import { KEEP_COMPLETED, KEEP_FAILED } from './options.js';

export interface MapJobData {
  readonly kind: 'map';
  readonly task: MapTaskSpec;
}

export interface ReduceJobData {
  readonly kind: 'reduce';
  readonly task: ReduceTaskSpec;
}

export interface RunJobData {
  readonly kind: 'run';
  readonly runId: string;
  readonly mapTasks: number;
  readonly reduces: readonly ReduceTaskSpec[];
  readonly attempts: number;
  readonly backoffMs: number;
  readonly step: 'reduce' | 'collect';
}

export type TaskResult =
  | { readonly kind: 'map'; readonly index: number; readonly counters: TaskCounters }
  | { readonly kind: 'reduce'; readonly partition: number; readonly counters: TaskCounters };

export interface RunResult {
  readonly map: TaskCounters[];
  readonly reduce: TaskCounters[];
}

export const mapJobId = (runId: string, index: number): string => `${runId}-map-${index}`;
/** Set by a client whose run was interrupted; tasks of the run then fail at once, without retries. */
export const cancelKey = (prefix: string, queueBase: string, runId: string): string => `${prefix}:${queueBase}:cancelled:${runId}`;
/** How long a cancellation is remembered: longer than any run's tasks stay queued. */
export const CANCEL_TTL_SECONDS = 7 * 24 * 3600;

export type CancelCheck = (runId: string) => Promise<boolean>;

async function refuseCancelled(runId: string, isCancelled: CancelCheck): Promise<void> {
  if (await isCancelled(runId)) throw new UnrecoverableError(`run ${runId} was cancelled by its client`);
}
/**
 * A task whose job data names a path outside the worker's roots (task-roots.ts).
 * Unrecoverable: BullMQ fails it at once, as another try would be refused too.
 */
export class TaskPathRefusedError extends UnrecoverableError {
  constructor(readonly refused: PathOutsideRootsError) {
    super(refused.message);
  }
}

async function refuseOutsideRoots(task: MapTaskSpec | ReduceTaskSpec, roots: TaskRoots): Promise<void> {
  try {
    await assertTaskUnderRoots(task, roots);
  } catch (error) {
    throw error instanceof PathOutsideRootsError ? new TaskPathRefusedError(error) : error;
  }
}

export const reduceJobId = (runId: string, partition: number): string => `${runId}-reduce-${partition}`;
export const runJobId = (runId: string): string => `${runId}-run`;

/** Options of every task job: retried with exponential backoff; its failure fails the run. */
export function taskJobOptions(jobId: string, attempts: number, backoffMs: number) {
  return {
    jobId,
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    failParentOnFailure: true,
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
  };
}

/** A run's id is the name of its directory under the work dir. */
function runIdOf(runDir: string): string {
  return path.basename(runDir);
}

/** Progress reports of a map job are throttled: each is a Redis round trip and an event. */
const PROGRESS_INTERVAL_MS = 500;

export async function processMapJob(job: Job<MapJobData>, isCancelled: CancelCheck, roots: TaskRoots): Promise<TaskResult> {
  await refuseOutsideRoots(job.data.task, roots);
  await refuseCancelled(runIdOf(job.data.task.runDir), isCancelled);
  let last = 0;
  const counters = await runMapTask(job.data.task, (progress) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    // Progress is informative only: a lost update must not fail the task.
    job.updateProgress({ ...progress }).catch(() => undefined);
  });
  return { kind: 'map', index: job.data.task.index, counters };
}

export async function processReduceJob(job: Job<ReduceJobData>, isCancelled: CancelCheck, roots: TaskRoots): Promise<TaskResult> {
  await refuseOutsideRoots(job.data.task, roots);
  await refuseCancelled(runIdOf(job.data.task.runDir), isCancelled);
  return { kind: 'reduce', partition: job.data.task.partition, counters: await runReduceTask(job.data.task) };
}

/** The parent of a run: see the module comment. */
export async function processRunJob(job: Job<RunJobData>, token: string | undefined, reduceQueue: Queue, isCancelled: CancelCheck, roots: TaskRoots): Promise<RunResult> {
  await refuseCancelled(job.data.runId, isCancelled);
  if (job.data.step === 'reduce' && job.data.reduces.length > 0) {
    // Each reduce task is checked again when it runs; refusing here keeps a forged run from queueing them at all.
    for (const task of job.data.reduces) await refuseOutsideRoots(task, roots);
    if (token === undefined) throw new TaskFailedError('a run job needs its lock token to wait for its reduce tasks');
    const parent = { id: job.id ?? '', queue: job.queueQualifiedName };
    await reduceQueue.addBulk(
      job.data.reduces.map((task) => ({
        name: 'reduce',
        data: { kind: 'reduce', task } satisfies ReduceJobData,
        opts: { ...taskJobOptions(reduceJobId(job.data.runId, task.partition), job.data.attempts, job.data.backoffMs), parent },
      })),
    );
    await job.updateData({ ...job.data, step: 'collect' });
    if (await job.moveToWaitingChildren(token)) throw new WaitingChildrenError();
  }
  const values = Object.values(await job.getChildrenValues<TaskResult>());
  const map = Array.from({ length: job.data.mapTasks }, () => emptyCounters());
  const reduce = job.data.reduces.map(() => emptyCounters());
  let found = 0;
  for (const value of values) {
    if (value.kind === 'map') map[value.index] = value.counters;
    else reduce[value.partition] = value.counters;
    found += 1;
  }
  const expected = job.data.mapTasks + job.data.reduces.length;
  if (found !== expected) throw new TaskFailedError(`run ${job.data.runId}: ${found} task results, expected ${expected}`);
  return { map, reduce };
}
