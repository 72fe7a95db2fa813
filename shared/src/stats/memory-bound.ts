/**
 * What the realtime counters can take in Redis at most, from the store's
 * options: every bucket kept holding the cap of values, each as long as a
 * counter key allows (MAX_COUNTER_VALUE_BYTES). The byte costs were measured
 * on Redis 7.0 with MEMORY USAGE (docs/OPERATIONS.md, "Realtime stats
 * memory"), and the memory test checks a store filled at the cap against this
 * bound.
 */
import type { DimensionSchema } from '../dimensions/schema.js';
import { MINUTE_MS } from './buckets.js';
import type { CounterStoreOptions } from './counter-store.js';
import { STATS_DIMENSIONS } from './dimensions.js';

/** One 40-byte value's counters in one bucket: r, p, e in the counts hash (273 B measured) and its bytes (88 B). */
const BYTES_PER_VALUE_AND_BUCKET = 380;
/** One admitted value in an hour's set: 80 B measured. */
const BYTES_PER_ADMITTED_VALUE = 96;
/** One totals hash (every resolution): 136 B measured with one error type; a few more types fit in 300 B. */
const BYTES_PER_TOTALS_BUCKET = 300;

/** Buckets of each resolution alive at once: the retention's, plus the one being filled. */
function bucketsKept(options: Pick<CounterStoreOptions, 'retentionMs' | 'detailRetentionMs'>): { detail: number; hours: number; sixHours: number; totals: number } {
  const count = (retentionMs: number, minutes: number) => Math.ceil(retentionMs / (minutes * MINUTE_MS)) + 1;
  const hours = count(options.retentionMs, 60);
  const sixHours = count(options.retentionMs, 360);
  return {
    detail: count(options.detailRetentionMs, 1) + count(options.detailRetentionMs, 10),
    hours,
    sixHours,
    totals: count(options.retentionMs, 1) + count(options.retentionMs, 10) + hours + sixHours,
  };
}

/** The most bytes the counters can hold with `freeDimensions` dimensions whose values clients choose. */
export function worstCaseBytes(options: CounterStoreOptions, freeDimensions: number): number {
  const kept = bucketsKept(options);
  // A bucket within an hour holds at most the hour's cap of admitted values plus OTHER; a 6-hour one, six hours' worth.
  const cap = options.maxValuesPerHour;
  const values = (kept.detail + kept.hours) * (cap + 1) + kept.sixHours * (6 * cap + 1);
  const perDimension = values * BYTES_PER_VALUE_AND_BUCKET + kept.hours * cap * BYTES_PER_ADMITTED_VALUE;
  return freeDimensions * perDimension + kept.totals * BYTES_PER_TOTALS_BUCKET;
}

/**
 * The stats dimensions whose values clients choose: those the schema does not
 * restrict to a list, and the generic form's namespace, docType and channel.
 */
export function freeDimensionCount(schema: DimensionSchema): number {
  const listed = (name: string) => Array.isArray(schema.dimensions.find((d) => d.field_name === name)?.allowed_values);
  return STATS_DIMENSIONS.filter((name) => !listed(name)).length;
}
