/**
 * The contract between a run (run.ts) and the runners that execute its tasks
 * (local processes, or a BullMQ flow in distributed/client.ts): the plan they
 * are given, the progress they report, what they return and how they stop
 * when the run is interrupted. Its own module, so that neither side imports
 * the other.
 */
import type { MapTaskSpec, ReduceTaskSpec, TaskCounters } from './tasks.js';

/** Everything a runner (local or distributed) needs; all paths absolute. */
export interface RunPlan {
  readonly runId: string;
  readonly runDir: string;
  readonly maps: readonly MapTaskSpec[];
  readonly reduces: readonly ReduceTaskSpec[];
}

export interface PhaseResults {
  readonly map: TaskCounters[];
  readonly reduce: TaskCounters[];
}

export type ProgressSink = (phase: 'map' | 'reduce', index: number, counters: TaskCounters) => void;

/** A runner's answer to the run's AbortSignal: the run was interrupted (Ctrl-C), not failed. */
export class RunAbortedError extends Error {
  override readonly name = 'RunAbortedError';
}
