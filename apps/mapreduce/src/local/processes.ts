/**
 * Runs tasks in child processes, one process per task, all at once: the
 * engine never makes more tasks than the --num-mappers / --num-reducers the
 * user asked for. Children run TypeScript through tsx like the CLI, so a job
 * module may be .ts. When one task fails the others are killed (their work
 * would be thrown away) and the first failure is reported.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { reviveError, TaskFailedError } from '../errors.js';
import { RunAbortedError } from '../runner.js';
import type { TaskCounters } from '../tasks.js';
import type { ChildReply, ChildRequest } from './protocol.js';

const CHILD_ENTRY = fileURLToPath(new URL('./child.ts', import.meta.url));
// Resolved from this package, so children start the same way whatever the caller's cwd.
// `require.resolve('…')` spelled out so that the dependency check (knip) sees the package.
const require = createRequire(import.meta.url);
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;

export interface ProcessTask {
  readonly label: string;
  readonly request: ChildRequest;
  /** A process started earlier with startTaskProcess (else one is started now). */
  readonly process?: ChildProcess;
}

/**
 * Starts a task process that waits for its task: reducers are started while
 * the mappers work, so their start-up (tsx, module loading: about half a
 * second) is not added to the run's time.
 */
export function startTaskProcess(options: TaskProcessOptions = {}): ChildProcess {
  return fork(CHILD_ENTRY, [], {
    execArgv: ['--import', TSX_LOADER, ...(options.singleThreadedGc ? ['--single-threaded-gc'] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

export interface TaskProcessOptions {
  /**
   * V8 collects garbage with helper threads on the other cores. When every
   * core already runs a task process they only contend: measured on 2 cores,
   * 2 mappers of the histogram job did 604 records/s with it and 516 without;
   * a lone mapper is 8% slower with it. So: on when there are as many task
   * processes as cores (see wantsSingleThreadedGc).
   */
  readonly singleThreadedGc?: boolean;
}

/** Whether `processes` task processes at once leave no core for V8's helper threads. */
export function wantsSingleThreadedGc(processes: number): boolean {
  return processes >= os.availableParallelism();
}

/** Stops processes that will not get a task after all. */
export function killTaskProcesses(processes: readonly ChildProcess[]): void {
  for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export async function runInProcesses(
  tasks: readonly ProcessTask[],
  onProgress: (index: number, counters: TaskCounters) => void,
  signal?: AbortSignal,
): Promise<TaskCounters[]> {
  const children = new Set<ChildProcess>();
  const killAll = (): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onAbort = (): void => killAll();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const runs = tasks.map((task, index) => runOne(task, index, tasks.length, children, onProgress));
    // The first failure kills the rest, then waits for all so no process outlives the run.
    const settled = await Promise.allSettled(
      runs.map((run) =>
        run.catch((error: unknown) => {
          killAll();
          throw error;
        }),
      ),
    );
    if (signal?.aborted) throw new RunAbortedError('the run was interrupted');
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    // Prefer a task's own error over the "killed" of the processes stopped because of it.
    const own = failures.find((f) => !(f.reason instanceof KilledError));
    if (own) throw own.reason;
    if (failures[0]) throw failures[0].reason;
    return settled.map((s) => (s as PromiseFulfilledResult<TaskCounters>).value);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    killAll();
  }
}

class KilledError extends TaskFailedError {}

function runOne(
  task: ProcessTask,
  index: number,
  total: number,
  children: Set<ChildProcess>,
  onProgress: (index: number, counters: TaskCounters) => void,
): Promise<TaskCounters> {
  return new Promise((resolve, reject) => {
    const child = task.process ?? startTaskProcess({ singleThreadedGc: wantsSingleThreadedGc(total) });
    children.add(child);
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child);
      reject(new TaskFailedError(`${task.label}: its process exited before it got its task`));
      return;
    }
    let outcome: { ok: true; counters: TaskCounters } | { ok: false; error: Error } | undefined;
    child.on('message', (reply: ChildReply) => {
      switch (reply.type) {
        case 'progress':
          onProgress(index, reply.counters);
          break;
        case 'done':
          outcome = { ok: true, counters: reply.counters };
          onProgress(index, reply.counters);
          break;
        case 'failed':
          outcome = { ok: false, error: reviveError(reply.error, task.label) };
          break;
      }
    });
    child.once('error', (error) => {
      outcome ??= { ok: false, error: new TaskFailedError(`${task.label}: cannot start a process (${error.message})`) };
    });
    child.once('exit', (code, exitSignal) => {
      children.delete(child);
      if (outcome?.ok === true && code === 0) resolve(outcome.counters);
      else if (outcome?.ok === false) reject(outcome.error);
      else if (exitSignal === 'SIGKILL') reject(new KilledError(`${task.label}: process killed`));
      else reject(new TaskFailedError(`${task.label}: process exited (${exitSignal ?? `code ${code}`}) without a result`));
    });
    child.send(task.request);
  });
}
