import { COLON, COMMA, DIGIT_0, DIGIT_9, JsonCursor, LBRACE, MINUS, QUOTE, RBRACE, asciiBytes } from './json-scan.js';
import { STATISTIC_COUNT, type ScannedHistograms } from './scanned-histograms.js';

/**
 * The fast path's scan of one submitted histogram object (histogram-scan.ts
 * finds them): its `values` entries and statistics go into the
 * ScannedHistograms, everything else is validated and skipped.
 */

/** Field ids of a histogram object: 0..4 the statistics (HISTOGRAM_STATISTICS order), then these. */
const VALUES = 5;
const OTHER_FIELD = 6;
const ESCAPED_FIELD = 7;
/** A field clients send, quoted: matched in place 4 bytes at a time, without a string scan. */
interface KnownField {
  readonly id: number;
  readonly length: number;
  /** Little-endian 32-bit words of the quoted name, then its last length % 4 bytes. */
  readonly words: readonly number[];
  readonly tail: readonly number[];
}
/** Known fields by their first letter. */
const KNOWN_FIELDS: KnownField[][] = [];
for (const [word, id] of [
  ['sum', 0],
  ['log_sum', 1],
  ['log_sum_squares', 2],
  ['sum_squares_lo', 3],
  ['sum_squares_hi', 4],
  ['values', VALUES],
  ['range', OTHER_FIELD],
  ['bucket_count', OTHER_FIELD],
  ['histogram_type', OTHER_FIELD],
] as const) {
  const quoted = asciiBytes(`"${word}"`);
  const view = new DataView(quoted.buffer);
  const words: number[] = [];
  for (let i = 0; i + 4 <= quoted.length; i += 4) words.push(view.getUint32(i, true));
  const tail = Array.from(quoted.subarray(words.length * 4));
  (KNOWN_FIELDS[word.charCodeAt(0)] ??= []).push({ id, length: quoted.length, words, tail });
}

/** Scans a field name of a histogram object; returns its field id. */
function fieldAt(cursor: JsonCursor): number {
  const bytes = cursor.bytes;
  const start = cursor.pos;
  const candidates = KNOWN_FIELDS[bytes[start + 1] as number];
  if (candidates !== undefined) {
    const view = cursor.view;
    candidates: for (let k = 0; k < candidates.length; k++) {
      const field = candidates[k] as KnownField;
      if (start + field.length > bytes.length) continue;
      const words = field.words;
      for (let w = 0; w < words.length; w++) if (view.getUint32(start + 4 * w, true) !== words[w]) continue candidates;
      const tail = field.tail;
      for (let t = 0, p = start + 4 * words.length; t < tail.length; t++, p++) if (bytes[p] !== tail[t]) continue candidates;
      cursor.pos = start + field.length;
      return field.id;
    }
  }
  cursor.string();
  // An escaped field name is the general path's (`"v\u0061lues"` is values).
  return cursor.special ? ESCAPED_FIELD : OTHER_FIELD;
}

/**
 * One histogram object. Returns whether it is well formed: exactly one
 * `values`, an object of canonical-decimal keys and safe-integer counts, and
 * no escaped field name. Statistics go to index `base` on; other fields are
 * validated and ignored.
 */
export function scanHistogram(cursor: JsonCursor, histograms: ScannedHistograms, base: number): boolean {
  const bytes = cursor.bytes;
  let valuesSeen = 0;
  let valuesOk = false;
  cursor.pos++;
  if (cursor.ws() === RBRACE) {
    cursor.pos++;
    return false;
  }
  do {
    const field = fieldAt(cursor);
    cursor.punct(COLON);
    const c = bytes[cursor.pos] as number;
    if (field === VALUES) {
      valuesSeen++;
      if (c === LBRACE) valuesOk = scanValues(cursor, histograms);
      else cursor.skipValue(4);
    } else if (field < STATISTIC_COUNT) {
      scanStatistic(cursor, histograms, base + field, c);
    } else {
      if (field === ESCAPED_FIELD) valuesSeen = 2;
      cursor.skipValue(4);
    }
  } while (cursor.next(RBRACE));
  return valuesSeen === 1 && valuesOk;
}

/** A statistic: its token when String() of its value is that token, else its value; NaN when not a finite number. */
function scanStatistic(cursor: JsonCursor, histograms: ScannedHistograms, index: number, c: number): void {
  let value = NaN;
  let tokenStart = -1;
  let tokenEnd = -1;
  if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
    const start = cursor.pos;
    cursor.number();
    if (cursor.canonical) {
      // Short and plain, so finite: stored as written.
      value = 0;
      tokenStart = start;
      tokenEnd = cursor.pos;
    } else {
      const number = cursor.numberValue();
      // 1e999 parses to Infinity, which the general path refuses.
      if (Number.isFinite(number)) value = number;
    }
  } else if (c === 0x6e || c === 0x74 || c === 0x66) {
    if (cursor.literal()) value = -1;
  } else {
    cursor.skipValue(4);
  }
  histograms.statValue[index] = value;
  histograms.statStart[index] = tokenStart;
  histograms.statEnd[index] = tokenEnd;
}

/** A `values` object: appends its entries; returns false if any key or count is not valid. */
function scanValues(cursor: JsonCursor, histograms: ScannedHistograms): boolean {
  const bytes = cursor.bytes;
  const keys = histograms.keys;
  const counts = histograms.counts;
  let ok = true;
  cursor.pos++;
  if (cursor.ws() === RBRACE) {
    cursor.pos++;
    return true;
  }
  do {
    // The common key, "0" or [1-9][0-9]{0,14}, read in place.
    const keyStart = cursor.pos;
    let p = keyStart + 1;
    let c = bytes[p] as number;
    let key = 0;
    let digits = 0;
    if (c === DIGIT_0) {
      c = bytes[++p] as number;
      digits = 1;
    } else {
      while (c >= DIGIT_0 && c <= DIGIT_9) {
        key = key * 10 + (c - DIGIT_0);
        digits++;
        c = bytes[++p] as number;
      }
    }
    if (c === QUOTE && digits > 0 && digits <= 15 && bytes[keyStart] === QUOTE) {
      cursor.pos = p + 1;
    } else {
      // Any other key ("01", "-1", "1.0", escapes, ...) is not a bucket: the general path refuses it.
      cursor.string();
      ok = false;
    }
    if (bytes[cursor.pos] === COLON) {
      cursor.pos++;
      cursor.ws();
    } else {
      cursor.punct(COLON);
    }
    p = cursor.pos;
    c = bytes[p] as number;
    // The common count, [1-9][0-9]{0,14} then `,` or `}`, read in place.
    let count = 0;
    digits = 0;
    while (c >= DIGIT_0 && c <= DIGIT_9) {
      count = count * 10 + (c - DIGIT_0);
      digits++;
      c = bytes[++p] as number;
    }
    if ((c === COMMA || c === RBRACE) && digits > 0 && digits <= 15 && (digits === 1 || bytes[cursor.pos] !== DIGIT_0)) {
      cursor.pos = p;
      keys.push(key);
      counts.push(count);
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9) || digits > 0) {
      cursor.number();
      count = cursor.numberValue();
      if (Number.isSafeInteger(count)) {
        keys.push(key);
        counts.push(count);
      } else {
        ok = false;
      }
    } else {
      cursor.skipValue(5);
      ok = false;
    }
  } while (cursor.next(RBRACE));
  return ok;
}

