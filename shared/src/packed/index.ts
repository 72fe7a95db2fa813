/** The 2013 packed log format: records of (path, body, receive time[, client IP]). */
export { parseRecordAt, writePackedRecord, DEFAULT_LIMITS, RECORD_SEPARATOR } from './format.js';
export type { PackedRecord, PackedVariant, ParseLimits, ParseStep } from './format.js';
export { parsePackedBuffer, readPackedFile } from './packed-reader.js';
export type { PackedParseOptions, PackedReadCounters } from './packed-reader.js';
