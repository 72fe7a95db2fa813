/** Options, records, counters and errors of the partitioned writer. */
import type { Clock } from '../clock.js';
import { StorageWriteError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Compression } from './names.js';

export interface PartitionedWriterOptions {
  rootDir: string;
  /** Unique per process and host; [A-Za-z0-9_-], not all digits. */
  writerId: string;
  maxFileBytes: number;
  maxFileAgeMs: number;
  compression: Compression;
  clock?: Clock;
  logger?: Logger;
  /** Files compressed at once in the background (default 2). */
  compressionConcurrency?: number;
  /** How a finished file is compressed (default: in this process, compressFileAtomically). */
  compressFile?: (src: string, compression: Exclude<Compression, 'none'>) => Promise<string>;
}

export interface StorageRecord {
  /** Relative directory of sanitised components joined by '/'. */
  dir: string;
  fileStem: string;
  /** One record, without the newline. */
  line: string;
}

export interface WriterCounters {
  bytesWritten: number;
  linesWritten: number;
  batchesFailed: number;
  filesFinished: number;
  filesCompressed: number;
  compressionFailures: number;
  finishFailures: number;
  leftoversRecovered: number;
}

export interface RecoveryReport {
  /** Active files of a crashed run that were finished (renamed) now. */
  activeFinished: number;
  /** Finished files queued for compression. */
  compressionsQueued: number;
  /** Uncompressed files removed because their compressed copy was complete. */
  duplicatesRemoved: number;
  tempRemoved: number;
}

/** Wrap an I/O failure as the transient error callers retry on. */
export function asStorageError(error: unknown, what: string): StorageWriteError {
  if (error instanceof StorageWriteError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StorageWriteError(`${what}: ${message}`, { cause: error });
}
