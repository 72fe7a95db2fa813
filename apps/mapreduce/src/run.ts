/**
 * A whole MapReduce run: select the input files (the filter never opens a
 * file), plan the tasks, run them as local processes or as a BullMQ flow,
 * concatenate the outputs in task order, remove the intermediate data.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputFilterError, TooManyBadRecordsError } from './errors.js';
import { loadInputFilter, selectInputFiles, type InputFile, type InputFilter, type WalkCounters } from './input-filter.js';
import { loadJob, resolveJobPath, type JobParams } from './job-api.js';
import { killTaskProcesses, runInProcesses, startTaskProcess, wantsSingleThreadedGc } from './local/processes.js';
import { splitBySize } from './plan.js';
import { concatenateFiles, mapOutputFile, newRunId, reduceOutputFile, removeRunDir, reportFile } from './run-dir.js';
import type { PhaseResults, ProgressSink, RunPlan } from './runner.js';
import { addCounters, emptyCounters, type BadRecord, type MapTaskReport, type TaskCounters } from './tasks.js';
import type { DistributedOptions } from './distributed/options.js';
import { assertRunUnderRoots } from './task-roots.js';

const DEFAULT_COMBINE_THRESHOLD = 100;

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
  /** Records whose map throws are skipped and reported, up to this many in the run (default 0: the first fails it). */
  readonly maxBadRecords?: number;
  /** Skip (and report) an input file that cannot be opened or read before its first record, instead of failing. */
  readonly skipUnreadableFiles?: boolean;
  /** Selected files to leave out (e.g. those an incremental job has processed already); counted in `excludedFiles`. */
  readonly exclude?: (file: InputFile) => boolean;
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
  /** The input files given to the map tasks (relative to the data directory), in path order. */
  readonly inputFiles: readonly string[];
  /** Selected files that `exclude` left out. */
  readonly excludedFiles: number;
  /** Records skipped because their map threw (at most maxBadRecords), in task order. */
  readonly badRecords: readonly BadRecord[];
  /** Files skipped because they could not be read (skipUnreadableFiles). */
  readonly unreadableFiles: readonly string[];
}

function isCompiledFilter(value: unknown): value is InputFilter {
  return typeof value === 'object' && value !== null && 'fieldNames' in value && 'allowed' in value;
}

function positive(name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) throw new InputFilterError(`${name} must be an integer of at least ${min}, got ${value}`);
  return value;
}

async function readReports(plan: RunPlan): Promise<MapTaskReport[]> {
  return Promise.all(plan.maps.map(async (task) => JSON.parse(await readFile(reportFile(plan.runDir, task.index), 'utf8')) as MapTaskReport));
}

export async function runMapReduce(options: MapReduceOptions): Promise<MapReduceResult> {
  const startedAt = Date.now();
  const jobModule = await resolveJobPath(options.job);
  // The workers would refuse every task of a run outside their roots: say so before loading or walking anything.
  if (options.distributed?.roots) await assertRunUnderRoots({ jobModule, dataDir: options.dataDir, workDir: options.workDir }, options.distributed.roots);
  const job = await loadJob(jobModule);
  const filter = isCompiledFilter(options.inputFilter) ? options.inputFilter : await loadInputFilter(options.inputFilter);
  const mappers = positive('the number of mappers', options.mappers ?? 1);
  const reducers = job.reduce === undefined ? 0 : positive('the number of reducers', options.reducers ?? 1);
  const dataDir = path.resolve(options.dataDir);
  const maxBadRecords = positive('--max-bad-records', options.maxBadRecords ?? 0, 0);
  const walk: WalkCounters = { pruned: 0, ignored: 0 };
  const selected = await selectInputFiles(dataDir, filter, walk);
  const exclude = options.exclude;
  const files = exclude === undefined ? selected : selected.filter((file) => !exclude(file));
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
      maxBadRecords,
      skipUnreadableFiles: options.skipUnreadableFiles ?? false,
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
    // Each task kept within the limit; together they may not have.
    const reports = await readReports(plan);
    const badRecords = reports.flatMap((report) => report.badRecords);
    if (badRecords.length > maxBadRecords) throw new TooManyBadRecordsError(badRecords, maxBadRecords);
    const parts = reducers > 0 ? plan.reduces.map((r) => reduceOutputFile(runDir, r.partition)) : plan.maps.map((m) => mapOutputFile(runDir, m.index));
    await concatenateFiles(parts, options.output);
    return {
      ...summary,
      map: results.map.reduce((sum, c) => addCounters(sum, c), emptyCounters()),
      reduce: results.reduce.reduce((sum, c) => addCounters(sum, c), emptyCounters()),
      walk,
      elapsedMs: Date.now() - startedAt,
      inputFiles: files.map((file) => file.path),
      excludedFiles: selected.length - files.length,
      badRecords,
      unreadableFiles: reports.flatMap((report) => report.unreadableFiles),
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
