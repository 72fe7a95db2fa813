/**
 * Histogram aggregates of the shipped histogram job, as pure merge functions
 * (map builds one per record, combine and reduce merge them).
 *
 * A partial aggregate of one histogram is kept per bucket layout ("sig"): the
 * JSON text of the bucket lower bounds when the record's revision is known,
 * else `?<bucket count>`. Each layout holds one array: the bucket counts, then
 * the five statistics (each summed over the records that had it, -1 while
 * none had), then the record count. Counts are only ever added within one
 * layout, so a definition that changed between builds is never mixed up.
 */
import { HISTOGRAM_STATISTICS } from '@telemetry/shared/conversion/histograms';

export const STATISTICS = HISTOGRAM_STATISTICS;
const STATS = STATISTICS.length;
/** The converted form's marker of an absent statistic (SPEC 4.2). */
const ABSENT = -1;

/** sig -> [counts..., 5 statistics, records]. */
export type HistogramPartial = Record<string, number[]>;

/** What map emits per record and combine/reduce merge: one group's histograms. */
export interface GroupPartial {
  /** Records of the group. */
  r: number;
  /** Histogram name -> partial. */
  h: Record<string, HistogramPartial>;
}

export const unknownLayout = (buckets: number): string => `?${buckets}`;
const isUnknownLayout = (sig: string): boolean => sig.startsWith('?');

/** The layout entry of one record's converted histogram (counts + statistics + records = 1); takes over `converted`. */
export function recordEntry(converted: number[]): number[] {
  converted.push(1);
  return converted;
}

function addStatistic(a: number, b: number): number {
  if (a === ABSENT) return b;
  if (b === ABSENT) return a;
  return a + b;
}

/** Adds `from` into `into` (same layout, so same length). */
function addEntry(into: number[], from: readonly number[]): void {
  const buckets = into.length - STATS - 1;
  for (let i = 0; i < buckets; i += 1) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
  for (let i = buckets; i < buckets + STATS; i += 1) into[i] = addStatistic(into[i] ?? ABSENT, from[i] ?? ABSENT);
  into[into.length - 1] = (into[into.length - 1] ?? 0) + (from[from.length - 1] ?? 0);
}

function mergeHistogram(into: HistogramPartial, from: HistogramPartial): void {
  for (const sig of Object.keys(from)) {
    const entry = from[sig];
    if (entry === undefined) continue;
    const existing = into[sig];
    if (existing === undefined) into[sig] = entry.slice();
    else addEntry(existing, entry);
  }
}

/** Merges group partials in the order given (float sums depend on order). */
export function mergeGroups(values: readonly GroupPartial[]): GroupPartial {
  const merged: GroupPartial = { r: 0, h: {} };
  for (const value of values) {
    merged.r += value.r;
    for (const name of Object.keys(value.h)) {
      const partial = value.h[name];
      if (partial === undefined) continue;
      const existing = merged.h[name];
      if (existing === undefined) merged.h[name] = {};
      mergeHistogram(merged.h[name] ?? {}, partial);
    }
  }
  return merged;
}

/** One histogram in the dashboard's files. */
export interface HistogramAggregate {
  /** Bucket lower bounds; null when no record's revision could be resolved. */
  bounds: number[] | null;
  counts: number[];
  sum: number;
  log_sum: number;
  log_sum_squares: number;
  sum_squares_lo: number;
  sum_squares_hi: number;
  records: number;
}

const recordsOf = (entry: readonly number[]): number => entry[entry.length - 1] ?? 0;
const bucketsOf = (entry: readonly number[]): number => entry.length - STATS - 1;

/**
 * The final aggregate: the layout with the most records (ties: the smallest
 * sig, so every run picks the same) among those with known bounds, plus the
 * records of unknown bounds with the same bucket count (their revision is
 * missing, their layout almost surely the same). Records of any other layout
 * are left out and counted in `excluded`.
 */
export function finishHistogram(partial: HistogramPartial): { aggregate: HistogramAggregate; excluded: number } | undefined {
  const byPreference = (a: [string, number[]], b: [string, number[]]): number =>
    recordsOf(b[1]) - recordsOf(a[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const entries = Object.entries(partial);
  const known = entries.filter(([sig]) => !isUnknownLayout(sig)).sort(byPreference);
  const chosen = known[0] ?? entries.sort(byPreference)[0];
  if (chosen === undefined) return undefined;
  const [sig, first] = chosen;
  const total = first.slice();
  const bounds = isUnknownLayout(sig) ? null : (JSON.parse(sig) as number[]);
  if (bounds !== null) {
    const sameCount = partial[unknownLayout(bucketsOf(first))];
    if (sameCount !== undefined) addEntry(total, sameCount);
  }
  const used = recordsOf(total);
  const all = entries.reduce((sum, [, entry]) => sum + recordsOf(entry), 0);
  const buckets = bucketsOf(total);
  const statistic = (index: number): number => total[buckets + index] ?? ABSENT;
  return {
    aggregate: {
      bounds,
      counts: total.slice(0, buckets),
      sum: statistic(0),
      log_sum: statistic(1),
      log_sum_squares: statistic(2),
      sum_squares_lo: statistic(3),
      sum_squares_hi: statistic(4),
      records: used,
    },
    excluded: all - used,
  };
}
