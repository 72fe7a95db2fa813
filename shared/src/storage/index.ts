/** Storage layer: partitioned writer, error store and record-file reader (SPEC 5, 7). */
export { PartitionedWriter } from './writer.js';
export type { StorageRecord } from './types.js';
export { ErrorStoreWriter, formatErrorLine, parseErrorLine, sanitizeDocIdForLine, utcDateStem } from './error-store.js';
export type { ErrorEntry } from './error-store.js';
export { openDecompressedStream, parseRecordLine, readRecordLines } from './reader.js';
export type { ReadCounters } from './reader.js';
export { XzUnavailableError } from './xz.js';
export { UnsafeStoragePathError } from './names.js';
export type { Compression } from './names.js';
