/** The 2013 packed log format: records of (path, body, receive time[, client IP]). */
export { writePackedRecord, RECORD_SEPARATOR } from './format.js';
export type { PackedRecord, PackedVariant } from './format.js';
export { parsePackedBuffer, readPackedFile } from './packed-reader.js';
export type { PackedReadCounters } from './packed-reader.js';
