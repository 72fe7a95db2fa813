/**
 * Where the tasks of a distributed run may load their job module from, read
 * their input from and write their intermediate files to
 * (MAPREDUCE_JOB_ROOTS, MAPREDUCE_DATA_ROOTS, MAPREDUCE_WORK_ROOTS).
 *
 * A task's paths come from its BullMQ job's data, and whoever can add a job
 * (anyone who reaches Redis, or the queue board) chooses them: without these
 * roots a forged job would make a mapreduce-worker import any file as code,
 * read any directory and write wherever the worker may. The worker checks
 * every task against its roots before touching a file; the client checks the
 * same roots before submitting, so a refused run fails at once.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MapTaskSpec, ReduceTaskSpec } from './tasks.js';

/** The shipped jobs (histograms, dashboard): the default, and only, job root. */
export const SHIPPED_JOBS_DIR = fileURLToPath(new URL('./jobs', import.meta.url));

export interface TaskRoots {
  /** Directories job modules may be in. */
  readonly jobs: readonly string[];
  /** Directories the data directory of a map task may be (or be under). */
  readonly data: readonly string[];
  /** Directories a run directory may be under (never one of them itself). */
  readonly work: readonly string[];
}

export type RootKind = keyof TaskRoots;

const WHAT: Record<RootKind, string> = { jobs: 'job module', data: 'data directory', work: 'run directory' };
const VARIABLE: Record<RootKind, string> = { jobs: 'MAPREDUCE_JOB_ROOTS', data: 'MAPREDUCE_DATA_ROOTS', work: 'MAPREDUCE_WORK_ROOTS' };

/** A task path outside its configured roots: the task is refused, never retried. */
export class PathOutsideRootsError extends Error {
  override readonly name = 'PathOutsideRootsError';
  constructor(
    readonly kind: RootKind,
    /** The path as the task named it. */
    readonly refused: string,
    readonly roots: readonly string[],
  ) {
    super(`refused ${WHAT[kind]} ${refused}: not under ${VARIABLE[kind]} (${roots.join(', ') || 'none'})`);
  }
}

/** Comma-separated directories, resolved against the working directory; empty entries dropped. */
export function parseRoots(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => path.resolve(entry));
}

/**
 * The real path of `target`, symlinks and `..` resolved. A tail that does not
 * exist (yet) is appended to the real path of its nearest existing ancestor,
 * so a run directory not created yet is judged by where it would be.
 */
async function realPathOf(target: string): Promise<string> {
  let existing = path.resolve(target);
  const missing: string[] = [];
  for (;;) {
    try {
      return path.join(await realpath(existing), ...missing);
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return path.join(existing, ...missing);
      missing.unshift(path.basename(existing));
      existing = parent;
    }
  }
}

function isUnder(candidate: string, root: string, allowRootItself: boolean): boolean {
  if (candidate === root) return allowRootItself;
  return candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * Throws PathOutsideRootsError unless `target` (absolute) really is under one
 * of the roots of its kind; a data directory may be a data root itself, a run
 * directory never is its work root.
 */
export async function assertUnderRoots(kind: RootKind, target: string, roots: TaskRoots, allowRootItself = kind === 'data'): Promise<void> {
  const allowed = roots[kind];
  // Relative paths would depend on the worker's working directory: the client always sends absolute ones.
  if (path.isAbsolute(target)) {
    const real = await realPathOf(target);
    for (const root of allowed) {
      if (isUnder(real, await realPathOf(root), allowRootItself)) return;
    }
  }
  throw new PathOutsideRootsError(kind, target, allowed);
}

/** The client's check of a run before it is planned: the job module, the data directory and the work directory its run directory goes in. */
export async function assertRunUnderRoots(run: { readonly jobModule: string; readonly dataDir: string; readonly workDir: string }, roots: TaskRoots): Promise<void> {
  await assertUnderRoots('jobs', path.resolve(run.jobModule), roots);
  await assertUnderRoots('data', path.resolve(run.dataDir), roots);
  await assertUnderRoots('work', path.resolve(run.workDir), roots, true);
}

/**
 * Checks every path a task would use: its job module, its run directory, and
 * for a map task its data directory and each input file in it (the file
 * paths are joined to the data directory as map-task.ts joins them, so a
 * `..` in one cannot leave it).
 */
export async function assertTaskUnderRoots(task: MapTaskSpec | ReduceTaskSpec, roots: TaskRoots): Promise<void> {
  await assertUnderRoots('jobs', task.jobModule, roots);
  await assertUnderRoots('work', task.runDir, roots);
  if (!('dataDir' in task)) return;
  await assertUnderRoots('data', task.dataDir, roots);
  const dataDir = path.resolve(task.dataDir);
  for (const file of task.files) {
    const absolute = path.join(dataDir, ...file.path.split('/'));
    if (!isUnder(absolute, dataDir, false)) throw new PathOutsideRootsError('data', absolute, roots.data);
  }
}
