import { Buffer } from 'node:buffer';
import type { CompiledHistogram, HistogramDefinitions } from '../histograms/types.js';
import { HISTOGRAM_STATISTICS, resolveHistogram } from './histograms.js';

/**
 * The `histograms` object of a ping as the fast path scanned it from the
 * UTF-8 bytes of its JSON text (histogram-scan.ts), before the revision's
 * definitions are known: per histogram its name, whether it has the
 * submitted shape, its `values` entries (bucket lower bound, count) and its
 * statistics. convert() then writes the SPEC 4.2 form directly as JSON,
 * byte for byte what JSON.stringify gives for convertHistograms() of the
 * parsed object.
 *
 * Every case the general path would refuse (or that this form does not
 * capture) makes convert() throw CONVERSION_FALLBACK: the caller converts
 * the ping again by the general path, which gives the answer (or the error
 * message) of record.
 */

/** Thrown (one shared instance) when the general path must decide. */
export class ConversionFallback extends Error {
  override readonly name = 'ConversionFallback';
}
export const CONVERSION_FALLBACK = new ConversionFallback('histograms need the general conversion path');

/** Already-serialised JSON standing in for a converted value until the ping is serialised. */
export class RawJson {
  constructor(readonly json: string) {}
}

/** Statistics per histogram, in HISTOGRAM_STATISTICS order. */
export const STATISTIC_COUNT = HISTOGRAM_STATISTICS.length;

/** Longest number written: `-9007199254740991`, or String() of a double (`-1.2345678901234567e-308`). */
const MAX_NUMBER_BYTES = 25;
const COMMA = 0x2c;
const DIGIT_0 = 0x30;

const INITIAL_BYTES = 1 << 16;
const MAX_KEPT_BYTES = 1 << 22;
/** The JSON being written; conversion is synchronous, so one buffer serves every ping. */
let out = Buffer.allocUnsafe(INITIAL_BYTES);
/** Bucket counts of the histogram being written, when its keys are not in order. */
let buckets = new Float64Array(1024);
/** Bucket index of each entry of the histogram being written. */
let indexes = new Int32Array(1024);

function reserve(used: number, more: number): void {
  if (used + more <= out.length) return;
  const larger = Buffer.allocUnsafe(Math.max(2 * out.length, used + more));
  out.copy(larger, 0, 0, used);
  out = larger;
}

/** Writes an integer (a safe integer, -0 as 0) as String() does; returns the new offset. */
function writeInteger(o: number, value: number): number {
  const target = out;
  // -0 too: JSON.stringify(-0) is "0".
  if (value === 0) {
    target[o] = DIGIT_0;
    return o + 1;
  }
  let rest = value;
  if (rest < 0) {
    target[o++] = 0x2d;
    rest = -rest;
  }
  if (rest < 10) {
    target[o] = DIGIT_0 + rest;
    return o + 1;
  }
  let end = o + 2;
  for (let scale = 100; scale <= rest; scale *= 10) end++;
  if (rest < 0x80000000) {
    for (let i = end - 1; i >= o; i--) {
      const quotient = (rest / 10) | 0;
      target[i] = DIGIT_0 + (rest - quotient * 10);
      rest = quotient;
    }
  } else {
    // Exact up to 2^53: rest / 10 is below 2^50, where a double's step is at most 1/8.
    for (let i = end - 1; i >= o; i--) {
      const quotient = Math.floor(rest / 10);
      target[i] = DIGIT_0 + (rest - quotient * 10);
      rest = quotient;
    }
  }
  return end;
}

/** Writes an ASCII string (String() of a number); returns the new offset. */
function writeAscii(o: number, text: string): number {
  const target = out;
  for (let i = 0; i < text.length; i++) target[o++] = text.charCodeAt(i);
  return o;
}

export class ScannedHistograms {
  /** Submitted names, in text order (no duplicates, no array-index names: the scanner bails on those). */
  readonly names: string[] = [];
  /** Byte range of each name's quoted text, written as is (-1: use specialNames). */
  readonly nameStart: number[] = [];
  readonly nameEnd: number[] = [];
  /** JSON.stringify of the names with escapes, by histogram index. */
  private readonly specialNames = new Map<number, string>();
  /** Some name is not ASCII: the output is decoded as UTF-8 rather than Latin-1. */
  private nonAscii = false;
  /** False when the histogram is not an object with one `values` object of valid entries. */
  readonly wellFormed: boolean[] = [];
  /** Entries of histogram h: keys/counts [entryStart[h], entryStart[h + 1]). */
  readonly entryStart: number[] = [0];
  /** Bucket lower bound of each entry (a canonical decimal `values` key). */
  readonly keys: number[] = [];
  /** Count of each entry (a safe integer). */
  readonly counts: number[] = [];
  /**
   * STATISTIC_COUNT per histogram: the byte range of the token when it is
   * written as String() writes its value (statStart >= 0), else the value:
   * -1 when absent or null, NaN when not a finite number.
   */
  readonly statValue: number[] = [];
  readonly statStart: number[] = [];
  readonly statEnd: number[] = [];

  /** `bytes`: the UTF-8 text the byte ranges point into. */
  constructor(private readonly bytes: Uint8Array) {}

  addName(name: string, start: number, end: number, specialJson: string | undefined, nonAscii: boolean): void {
    if (specialJson !== undefined) this.specialNames.set(this.names.length, specialJson);
    this.names.push(name);
    this.nameStart.push(specialJson === undefined ? start : -1);
    this.nameEnd.push(end);
    if (nonAscii) this.nonAscii = true;
  }

  /**
   * The converted `histograms` object as JSON, the unknown names (dropped,
   * in submitted order) and how many were converted. Throws
   * CONVERSION_FALLBACK for anything the general path must judge.
   */
  convert(definitions: HistogramDefinitions): { raw: RawJson; dropped: string[]; converted: number } {
    const dropped: string[] = [];
    let converted = 0;
    let nonAscii = this.nonAscii;
    reserve(0, 1);
    out[0] = 0x7b; // {
    let o = 1;
    for (let h = 0; h < this.names.length; h++) {
      const name = this.names[h] as string;
      const definition = resolveHistogram(name, definitions);
      if (definition === undefined) {
        dropped.push(name);
        continue;
      }
      if (!this.wellFormed[h]) throw CONVERSION_FALLBACK;
      const start = this.nameStart[h] as number;
      const special = start < 0 ? (this.specialNames.get(h) as string) : '';
      const nameBytes = start < 0 ? Buffer.byteLength(special) : (this.nameEnd[h] as number) - start;
      reserve(o, nameBytes + 4 + (definition.boundsArray.length + STATISTIC_COUNT) * (MAX_NUMBER_BYTES + 1));
      if (converted > 0) out[o++] = COMMA;
      if (start >= 0) {
        const bytes = this.bytes;
        const target = out;
        for (let i = 0; i < nameBytes; i++) target[o + i] = bytes[start + i] as number;
      } else {
        out.write(special, o, 'utf8');
        nonAscii = true;
      }
      o += nameBytes;
      out[o++] = 0x3a; // :
      // Every bucket is written after a comma: the first one's becomes the `[`.
      const open = o;
      o = this.writeBuckets(h, definition, o);
      out[open] = 0x5b;
      o = this.writeStatistics(h, o);
      out[o++] = 0x5d; // ]
      converted++;
    }
    reserve(o, 1);
    out[o++] = 0x7d; // }
    const json = out.toString(nonAscii ? 'utf8' : 'latin1', 0, o);
    // A ping of many large histograms grew the buffer: do not keep megabytes for the next ones.
    if (out.length > MAX_KEPT_BYTES) out = Buffer.allocUnsafe(INITIAL_BYTES);
    return { raw: new RawJson(json), dropped, converted };
  }

  /** Places histogram h's entries in its buckets and writes them, zeros included. */
  private writeBuckets(h: number, definition: CompiledHistogram, o: number): number {
    const bounds = definition.boundsArray;
    const bucketCount = bounds.length;
    // Compiled definitions have 3 buckets or more; the `[` overwrites the first bucket's comma.
    if (bucketCount === 0) throw CONVERSION_FALLBACK;
    const first = this.entryStart[h] as number;
    const end = this.entryStart[h + 1] as number;
    if (indexes.length < end - first) indexes = new Int32Array(2 * (end - first));
    const keys = this.keys;
    // Clients send keys in ascending order: look a few buckets past the last
    // one, then binary search the rest (never a long linear walk, which
    // hostile key orders could make quadratic).
    let next = 0;
    let ascending = true;
    for (let e = first; e < end; e++) {
      const key = keys[e] as number;
      let index = next;
      const near = Math.min(next + 4, bucketCount);
      while (index < near && (bounds[index] as number) < key) index++;
      if (index === near || bounds[index] !== key) {
        let low = index < bucketCount && (bounds[index] as number) < key ? index : 0;
        let high = bucketCount - 1;
        index = -1;
        while (low <= high) {
          const middle = (low + high) >>> 1;
          const bound = bounds[middle] as number;
          if (bound < key) low = middle + 1;
          else if (bound > key) high = middle - 1;
          else {
            index = middle;
            break;
          }
        }
        if (index < 0) throw CONVERSION_FALLBACK;
        if (index < next) ascending = false;
      }
      indexes[e - first] = index;
      next = index + 1;
    }
    const target = out;
    const counts = this.counts;
    if (ascending) {
      // Each bucket once, in order: written straight from the entries.
      let bucket = 0;
      for (let e = first; e < end; e++) {
        const index = indexes[e - first] as number;
        for (; bucket < index; bucket++, o += 2) {
          target[o] = COMMA;
          target[o + 1] = DIGIT_0;
        }
        target[o] = COMMA;
        o = writeInteger(o + 1, counts[e] as number);
        bucket = index + 1;
      }
      for (; bucket < bucketCount; bucket++, o += 2) {
        target[o] = COMMA;
        target[o + 1] = DIGIT_0;
      }
      return o;
    }
    // Out of order or repeated keys (the last count of a key wins, as in JSON.parse).
    if (buckets.length < bucketCount) buckets = new Float64Array(bucketCount);
    const placed = buckets;
    placed.fill(0, 0, bucketCount);
    for (let e = first; e < end; e++) placed[indexes[e - first] as number] = counts[e] as number;
    for (let i = 0; i < bucketCount; i++) {
      target[o] = COMMA;
      o = writeInteger(o + 1, placed[i] as number);
    }
    return o;
  }

  private writeStatistics(h: number, o: number): number {
    const target = out;
    const bytes = this.bytes;
    for (let s = h * STATISTIC_COUNT, last = s + STATISTIC_COUNT; s < last; s++) {
      target[o++] = COMMA;
      const start = this.statStart[s] as number;
      if (start >= 0) {
        const end = this.statEnd[s] as number;
        for (let i = start; i < end; i++) target[o++] = bytes[i] as number;
        continue;
      }
      const value = this.statValue[s] as number;
      if (value !== value) throw CONVERSION_FALLBACK;
      o = value === -1 ? writeAscii(o, '-1') : writeAscii(o, String(value));
    }
    return o;
  }
}
