/**
 * Dimension values become directory and file names, and they come from
 * clients. Only [A-Za-z0-9_.] survive (as in 2013, minus the `/` the 2013 code
 * kept, which let `..` escape the storage root).
 */

const UNSAFE = /[^A-Za-z0-9_.]/g;
/** What `.`, `..` and the empty string become: names that are not a place. */
const EMPTY_OR_DOT_REPLACEMENT = '_';
/**
 * Longest value kept. A file name is at most 255 bytes and the file name also
 * holds the date, format, writer id and sequence; without a cap a long client
 * value would make every write fail with ENAMETOOLONG, and be retried forever.
 */
export const MAX_DIMENSION_VALUE_LENGTH = 128;

/**
 * Safe single path component: every other character (per UTF-16 code unit, so
 * an astral character becomes `__`) is replaced by `_`; the result is cut to
 * MAX_DIMENSION_VALUE_LENGTH characters; `.`, `..` and `` become `_`.
 * Idempotent, so already-sanitised values (filters, file names) pass unchanged.
 */
export function sanitizeDimensionValue(value: string): string {
  const safe = value.slice(0, MAX_DIMENSION_VALUE_LENGTH).replace(UNSAFE, '_');
  if (safe === '' || safe === '.' || safe === '..') return EMPTY_OR_DOT_REPLACEMENT;
  return safe;
}

/** Whether a value is already what sanitizeDimensionValue would make of it. */
export function isSanitized(value: string): boolean {
  return sanitizeDimensionValue(value) === value;
}
