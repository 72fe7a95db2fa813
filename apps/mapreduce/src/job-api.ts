/**
 * The job module API (SPEC 7): an ES module exporting `map` and optionally
 * `reduce`, `combine` and `setupReduce`. Any of them may return a promise
 * (e.g. a map that looks up a revision); it is awaited only when it is one,
 * so synchronous jobs pay nothing for that.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Dims } from './dims.js';
import { JobModuleError } from './errors.js';

export type JobParams = Readonly<Record<string, string>>;

/** What every job function gets. */
export interface WriteContext {
  /** Emit a pair. A key must be JSON-serialisable (not undefined); an undefined value is written as null. */
  write(key: unknown, value: unknown): void;
  /** `--param name=value` options of the run. */
  readonly params: JobParams;
}

export interface MapContext extends WriteContext {
  /** The input file being read, relative to the data directory. */
  readonly file: string;
}

/** What `reduce` gets: `write`, and lines of its own as the 2013 reduce context had them. */
export interface ReduceContext extends WriteContext {
  /** One output line of these fields: RFC 4180 quoting, the field and record separators of setupReduce. */
  writecsv(values: readonly unknown[]): void;
  /** One output line of this text as it is, then the record separator. */
  writeline(text: string): void;
}

/** `setupReduce` may change how output lines are written. */
export interface SetupReduceContext {
  readonly params: JobParams;
  /** Between key and value (default "\t"). */
  fieldSeparator: string;
  /** After each pair (default "\n"). */
  recordSeparator: string;
}

type MaybePromise<T> = T | Promise<T>;

export interface MapReduceJob {
  /** `key` is the docId, `dims` the record's dimension values in filter order and by field name, `value` the record's JSON text. */
  map(key: string, dims: Dims, value: string, ctx: MapContext): MaybePromise<void>;
  reduce?(key: unknown, values: unknown[], ctx: ReduceContext): MaybePromise<void>;
  /** Runs in a mapper on the values one key has collected; must be safe to apply any number of times. */
  combine?(key: unknown, values: unknown[], ctx: WriteContext): MaybePromise<void>;
  setupReduce?(ctx: SetupReduceContext): MaybePromise<void>;
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

const JOB_EXTENSIONS = ['.js', '.mjs', '.ts', '.mts'];
const OPTIONAL_FUNCTIONS = ['reduce', 'combine', 'setupReduce'] as const;

/** Absolute path of a job module, checked to exist and to have a supported extension. */
export async function resolveJobPath(job: string): Promise<string> {
  const absolute = path.resolve(job);
  if (!JOB_EXTENSIONS.includes(path.extname(absolute))) {
    throw new JobModuleError(`${job}: a job is an ES module ending in ${JOB_EXTENSIONS.join(', ')}`);
  }
  const info = await stat(absolute).catch((error: unknown) => {
    throw new JobModuleError(`${job}: cannot read the job module (${(error as Error).message})`);
  });
  if (!info.isFile()) throw new JobModuleError(`${job}: not a file`);
  return absolute;
}

/**
 * Imports and checks a job module. Modules are cached by path and
 * modification time, so a long-lived worker picks up an edited job file
 * without restarting (each version stays loaded: edits are rare).
 */
export async function loadJob(jobPath: string): Promise<MapReduceJob> {
  const absolute = await resolveJobPath(jobPath);
  const { mtimeMs } = await stat(absolute);
  const url = `${pathToFileURL(absolute).href}?mtime=${Math.trunc(mtimeMs)}`;
  let exported: Record<string, unknown>;
  try {
    exported = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new JobModuleError(`${jobPath}: cannot import the job module (${(error as Error).message})`, { cause: error });
  }
  // A module compiled to CommonJS exposes its exports under `default`.
  const source = typeof exported.map !== 'function' && isRecord(exported.default) ? exported.default : exported;
  if (typeof source.map !== 'function') throw new JobModuleError(`${jobPath}: the job module must export a function "map"`);
  for (const name of OPTIONAL_FUNCTIONS) {
    if (source[name] !== undefined && typeof source[name] !== 'function') {
      throw new JobModuleError(`${jobPath}: "${name}" is exported but is not a function`);
    }
  }
  return source as unknown as MapReduceJob;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Parses `name=value` options; a name is [A-Za-z0-9_.-]+. */
export function parseParams(pairs: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([A-Za-z0-9_.-]+)=(.*)$/s.exec(pair);
    if (!match?.[1]) throw new JobModuleError(`--param must be name=value, got "${pair}"`);
    params[match[1]] = match[2] ?? '';
  }
  return params;
}
