/**
 * The units of work of a run, as plain JSON so the same task can be sent to a
 * local child process (IPC) or stored in a BullMQ job.
 */
import type { OutputFormat } from './encoding.js';
import { DEFAULT_OUTPUT_FORMAT } from './encoding.js';
import { ReduceError } from './errors.js';
import type { InputFile } from './input-filter.js';
import { isPromiseLike, type JobParams, type MapReduceJob, type SetupReduceContext } from './job-api.js';

export interface TaskBase {
  /** Absolute path of this run's directory under the work dir. */
  readonly runDir: string;
  /** Absolute path of the job module. */
  readonly jobModule: string;
  readonly params: JobParams;
}

export interface MapTaskSpec extends TaskBase {
  readonly index: number;
  /** Absolute path of the data directory; `files` are relative to it. */
  readonly dataDir: string;
  readonly fieldNames: readonly string[];
  readonly files: readonly InputFile[];
  /** Partitions to write; 0 for a map-only job (output lines instead). */
  readonly reducers: number;
  readonly combineThreshold: number;
}

export interface ReduceTaskSpec extends TaskBase {
  readonly partition: number;
  readonly mapTasks: number;
}

/** Running totals a task reports as progress and as its result. */
export interface TaskCounters {
  files: number;
  /** Bytes read from disk (compressed size). */
  bytes: number;
  records: number;
  tornLines: number;
  /** Lines that are not "<docId>\t<json>" (skipped). */
  invalidLines: number;
  /** Pairs written by map (after combine) or by reduce. */
  pairs: number;
  combines: number;
}

export function emptyCounters(): TaskCounters {
  return { files: 0, bytes: 0, records: 0, tornLines: 0, invalidLines: 0, pairs: 0, combines: 0 };
}

export function addCounters(total: TaskCounters, part: Readonly<TaskCounters>): TaskCounters {
  for (const name of Object.keys(total) as (keyof TaskCounters)[]) total[name] += part[name];
  return total;
}

export type ProgressListener = (counters: Readonly<TaskCounters>) => void;

/** Runs the job's setupReduce (when it has one) and returns the output separators it chose. */
export async function outputFormatOf(job: MapReduceJob, params: JobParams): Promise<OutputFormat> {
  const ctx: SetupReduceContext = { params, ...DEFAULT_OUTPUT_FORMAT };
  if (job.setupReduce !== undefined) {
    try {
      const result = job.setupReduce(ctx);
      if (isPromiseLike(result)) await result;
    } catch (error) {
      throw new ReduceError('setupReduce', '(none)', error);
    }
  }
  if (typeof ctx.fieldSeparator !== 'string' || typeof ctx.recordSeparator !== 'string') {
    throw new ReduceError('setupReduce', '(none)', new TypeError('fieldSeparator and recordSeparator must be strings'));
  }
  return { fieldSeparator: ctx.fieldSeparator, recordSeparator: ctx.recordSeparator };
}

/** Calls `report` at most every `intervalMs` (and always when forced). */
export function throttle(report: () => void, intervalMs = 250): (force?: boolean) => void {
  let last = 0;
  return (force = false) => {
    const now = Date.now();
    if (force || now - last >= intervalMs) {
      last = now;
      report();
    }
  };
}

/**
 * The dims object a job's map gets, by field name. (Here rather than in
 * input-filter.ts: mapper processes then never load zod, 80 ms of start-up.)
 */
export function dimsObject(fieldNames: readonly string[], dims: readonly string[]): Readonly<Record<string, string>> {
  const object: Record<string, string> = {};
  fieldNames.forEach((name, index) => {
    object[name] = dims[index] ?? '';
  });
  return Object.freeze(object);
}
