/** Storage layer: partitioned writer, error store and record-file reader (SPEC 5, 7). */
export { PartitionedWriter } from './writer.js';
export type { PartitionedWriterOptions, RecoveryReport, StorageRecord, WriterCounters } from './types.js';
export { ErrorStoreWriter, formatErrorLine, parseErrorLine, sanitizeDocIdForLine, utcDateStem } from './error-store.js';
export type { ErrorEntry, ErrorRecordJson } from './error-store.js';
export { openDecompressedStream, parseRecordLine, readRecordLines } from './reader.js';
export type { ReadCounters } from './reader.js';
export type { DecodeHooks } from './decode.js';
export { codecForFile } from './codecs.js';
export type { Codec } from './codecs.js';
export { TruncatedInputError, XzUnavailableError } from './xz.js';
export { UnsafeStoragePathError, classifyOwnedFile, resolveTarget } from './names.js';
export type { Compression, OwnedFile, StorageTarget } from './names.js';
