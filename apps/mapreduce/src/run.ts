/**
 * A whole MapReduce run: select the input files (the filter never opens a
 * file), plan the tasks, run them as local processes or as a BullMQ flow,
 * concatenate the outputs in task order, remove the intermediate data.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { InputFilterError } from './errors.js';
import { loadInputFilter, selectInputFiles, type InputFilter, type WalkCounters } from './input-filter.js';
import { loadJob, resolveJobPath, type JobParams } from './job-api.js';
import { killTaskProcesses, runInProcesses, startTaskProcess, wantsSingleThreadedGc } from './local/processes.js';
import { splitBySize } from './plan.js';
import { concatenateFiles, mapOutputFile, newRunId, reduceOutputFile, removeRunDir } from './run-dir.js';
import { addCounters, emptyCounters, type MapTaskSpec, type ReduceTaskSpec, type TaskCounters } from './tasks.js';
import type { DistributedOptions } from './distributed/options.js';

export const DEFAULT_COMBINE_THRESHOLD = 100;

export interface MapReduceOptions {
  /** Path of the job module. */
  readonly job: string;
  /** Path of a filter file, its parsed JSON, or a compiled filter. */
  readonly inputFilter: string | InputFilter | Record<string, unknown>;
  readonly dataDir: string;
  readonly workDir: string;
  readonly output: string;
  readonly mappers?: number;
  readonly reducers?: number;
  /** combine runs when one key has collected more than this many values in a mapper. */
  readonly combineThreshold?: number;
  readonly params?: JobParams;
  /** Run as a BullMQ flow on mapreduce-worker processes instead of local processes. */
  readonly distributed?: DistributedOptions;
  readonly onPlan?: (plan: PlanSummary) => void;
  readonly onProgress?: (progress: RunProgress) => void;
  readonly signal?: AbortSignal;
}

export interface PlanSummary {
  readonly runId: string;
  readonly files: number;
  readonly bytes: number;
  readonly mapTasks: number;
  readonly reduceTasks: number;
}

export interface RunProgress {
  readonly phase: 'map' | 'reduce';
  /** Map counters summed over the tasks so far. */
  readonly map: Readonly<TaskCounters>;
  readonly reducesDone: number;
}

export interface MapReduceResult extends PlanSummary {
  readonly map: TaskCounters;
  readonly reduce: TaskCounters;
  readonly walk: WalkCounters;
  readonly elapsedMs: number;
}

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

function isCompiledFilter(value: unknown): value is InputFilter {
  return typeof value === 'object' && value !== null && 'fieldNames' in value && 'allowed' in value;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InputFilterError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export async function runMapReduce(options: MapReduceOptions): Promise<MapReduceResult> {
  const startedAt = Date.now();
  const jobModule = await resolveJobPath(options.job);
  const job = await loadJob(jobModule);
  const filter = isCompiledFilter(options.inputFilter) ? options.inputFilter : await loadInputFilter(options.inputFilter);
  const mappers = positive('the number of mappers', options.mappers ?? 1);
  const reducers = job.reduce === undefined ? 0 : positive('the number of reducers', options.reducers ?? 1);
  const dataDir = path.resolve(options.dataDir);
  const walk: WalkCounters = { pruned: 0, ignored: 0 };
  const files = await selectInputFiles(dataDir, filter, walk);
  const groups = splitBySize(files, mappers);

  const runId = newRunId();
  const runDir = path.join(path.resolve(options.workDir), runId);
  const params = options.params ?? {};
  const base = { runDir, jobModule, params };
  const plan: RunPlan = {
    runId,
    runDir,
    maps: groups.map((taskFiles, index) => ({
      ...base,
      index,
      dataDir,
      fieldNames: filter.fieldNames,
      files: taskFiles,
      reducers,
      combineThreshold: options.combineThreshold ?? DEFAULT_COMBINE_THRESHOLD,
    })),
    reduces: groups.length === 0 ? [] : Array.from({ length: reducers }, (_, partition) => ({ ...base, partition, mapTasks: groups.length })),
  };
  const summary: PlanSummary = {
    runId,
    files: files.length,
    bytes: files.reduce((sum, file) => sum + file.size, 0),
    mapTasks: plan.maps.length,
    reduceTasks: plan.reduces.length,
  };
  options.onPlan?.(summary);

  const mapLatest = plan.maps.map(() => emptyCounters());
  let reducesDone = 0;
  const sink: ProgressSink = (phase, index, counters) => {
    if (phase === 'map') mapLatest[index] = counters;
    else reducesDone += 1;
    options.onProgress?.({ phase, map: mapLatest.reduce((sum, c) => addCounters(sum, c), emptyCounters()), reducesDone });
  };

  await mkdir(runDir, { recursive: true });
  try {
    // Nothing selected: an empty output, without waiting for workers that may not exist.
    // (BullMQ is imported on demand: a local run has no reason to load it.)
    const results: PhaseResults =
      plan.maps.length === 0
        ? { map: [], reduce: [] }
        : options.distributed
          ? await (await import('./distributed/client.js')).runDistributed(plan, options.distributed, sink, options.signal)
          : await runLocal(plan, sink, options.signal);
    const parts = reducers > 0 ? plan.reduces.map((r) => reduceOutputFile(runDir, r.partition)) : plan.maps.map((m) => mapOutputFile(runDir, m.index));
    await concatenateFiles(parts, options.output);
    return {
      ...summary,
      map: results.map.reduce((sum, c) => addCounters(sum, c), emptyCounters()),
      reduce: results.reduce.reduce((sum, c) => addCounters(sum, c), emptyCounters()),
      walk,
      elapsedMs: Date.now() - startedAt,
    };
  } finally {
    await removeRunDir(runDir);
  }
}

async function runLocal(plan: RunPlan, sink: ProgressSink, signal?: AbortSignal): Promise<PhaseResults> {
  const reducers = plan.reduces.map(() => startTaskProcess({ singleThreadedGc: wantsSingleThreadedGc(plan.reduces.length) }));
  let map: TaskCounters[];
  try {
    map = await runInProcesses(
      plan.maps.map((task) => ({ label: `map task ${task.index}`, request: { kind: 'map', task } })),
      (index, counters) => sink('map', index, counters),
      signal,
    );
  } catch (error) {
    killTaskProcesses(reducers);
    throw error;
  }
  const reduce = await runInProcesses(
    plan.reduces.map((task, index) => ({ label: `reduce task ${task.partition}`, request: { kind: 'reduce', task }, process: reducers[index] })),
    (index, counters) => sink('reduce', index, counters),
    signal,
  );
  return { map, reduce };
}
