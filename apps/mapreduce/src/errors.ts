/**
 * Typed errors of MapReduce runs. A job's own exception is wrapped so that the
 * message says where it happened (input file and line, or reduce key): with
 * thousands of files and several processes, "TypeError: x is undefined" alone
 * would leave the analyst guessing.
 */

/** A job module that cannot be used: not found, not importable, no `map`. */
export class JobModuleError extends Error {
  override readonly name = 'JobModuleError';
}

/** An input filter (or data directory) that cannot be used. */
export class InputFilterError extends Error {
  override readonly name = 'InputFilterError';
}

/** `map` threw (or ctx.write was misused) on one record. */
export class MapError extends Error {
  override readonly name = 'MapError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly docId: string | undefined,
    cause: unknown,
  ) {
    super(`${file}:${line}${docId === undefined ? '' : ` (${docId})`}: map failed: ${describeCause(cause)}`, { cause });
  }
}

/** The map tasks of a run skipped more bad records together than --max-bad-records allows (each task alone stayed within it). */
export class TooManyBadRecordsError extends Error {
  override readonly name = 'TooManyBadRecordsError';
  constructor(
    readonly failures: readonly { readonly message: string }[],
    readonly maxBadRecords: number,
  ) {
    const over = failures[maxBadRecords] ?? failures[failures.length - 1];
    super(`${over?.message ?? 'map failed'} (${failures.length} records failed map, more than --max-bad-records ${maxBadRecords})`);
  }
}

/** An input file could not be read (corrupt compressed data, I/O error). */
export class InputReadError extends Error {
  override readonly name = 'InputReadError';
  constructor(
    readonly file: string,
    readonly line: number,
    cause: unknown,
  ) {
    super(`${file}: cannot read after line ${line}: ${describeCause(cause)}`, { cause });
  }
}

/** `combine` or `reduce` threw for one key. */
export class ReduceError extends Error {
  override readonly name = 'ReduceError';
  constructor(
    readonly phase: 'combine' | 'reduce' | 'setupReduce',
    readonly key: string,
    cause: unknown,
  ) {
    super(`${phase} failed for key ${key.length > 200 ? `${key.slice(0, 200)}…` : key}: ${describeCause(cause)}`, { cause });
  }
}

/** A task of a run failed (a process died, a BullMQ task failed for good). */
export class TaskFailedError extends Error {
  override readonly name = 'TaskFailedError';
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}

/** An error as it crosses a process boundary (IPC message, BullMQ failedReason). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string | undefined;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

/** The error on the parent side: same class name and message, so the report reads the same. */
export function reviveError(serialized: SerializedError, context: string): TaskFailedError {
  const message = serialized.name === 'Error' ? serialized.message : `${serialized.name}: ${serialized.message}`;
  const error = new TaskFailedError(`${context}: ${message}`);
  if (serialized.stack !== undefined) error.stack = `${error.name}: ${error.message}\n--- in the task ---\n${serialized.stack}`;
  return error;
}
