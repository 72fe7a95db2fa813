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
  /** Records whose map throws that this task skips (and reports) before it fails. */
  readonly maxBadRecords: number;
  /** A file that cannot be opened (or read before its first record) is skipped and reported instead of failing the task. */
  readonly skipUnreadableFiles: boolean;
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
  /** Records whose map threw, skipped (--max-bad-records). */
  badRecords: number;
  /** Files skipped because they could not be read (skipUnreadableFiles). */
  unreadableFiles: number;
}

export function emptyCounters(): TaskCounters {
  return { files: 0, bytes: 0, records: 0, tornLines: 0, invalidLines: 0, pairs: 0, combines: 0, badRecords: 0, unreadableFiles: 0 };
}

export function addCounters(total: TaskCounters, part: Readonly<TaskCounters>): TaskCounters {
  for (const name of Object.keys(total) as (keyof TaskCounters)[]) total[name] += part[name];
  return total;
}

/** A record whose map threw, skipped under --max-bad-records. */
export interface BadRecord {
  /** The input file, relative to the data directory. */
  readonly file: string;
  readonly line: number;
  readonly docId: string;
  /** As the run's failure would have said it: `<absolute file>:<line> (<docId>): map failed: <error>`. */
  readonly message: string;
}

/** What a map task skipped, written beside its output for the run to read (run-dir.ts reportFile). */
export interface MapTaskReport {
  readonly badRecords: readonly BadRecord[];
  /** Input files (relative) that could not be read, skipped whole. */
  readonly unreadableFiles: readonly string[];
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
