/**
 * The aggregates of the dashboard job, as pure merge functions: map builds
 * one per record and measure, combine and reduce merge them, the publisher
 * merges the result into the published files (telemetry-aggregator's rules).
 *
 * Values of one measure under one filter path and date are one array:
 * the bucket counts, the five statistics (`sum`, `log_sum`,
 * `log_sum_squares`, `sum_squares_lo`, `sum_squares_hi`; -1 = absent), then
 * the submissions. Its length is the measure's "length" in revisions.json.
 *
 * - counts and submissions add;
 * - a statistic adds unless both sides are -1 (absent), which stays -1: the
 *   rule of the issue and of telemetry-aggregator's Aggregate::mergeJSON, kept
 *   as it is. A -1 added to a real value counts as -1, so a mix of absent and
 *   present values of one statistic would depend on how records are grouped;
 *   real pings never mix them within one measure (which statistics a
 *   histogram has follows from its kind), so results do not;
 * - NaN is written null (and stays null), ±Infinity ±Number.MAX_VALUE;
 * - arrays of different lengths are never added: a partial keeps one layout
 *   per length, with the newest build (and its revision) that had it, and the
 *   measure's result is the layout of its newest build.
 */

/** counts…, 5 statistics, submissions; null where a sum was NaN. */
export type Values = (number | null)[];

const STATISTICS = 5;
const ABSENT = -1;

/** A filter path with its date: the key of a Values array until the publisher gives it a filter id. */
export type PathKey = string;

/** One bucket layout (array length) of one measure. */
export interface LayoutPartial {
  /** Newest appBuildID seen with this layout, and the revision it came with. */
  b: string;
  r: string;
  /** By build date, and by submission date: path key -> values. */
  d: Record<PathKey, Values>;
  s: Record<PathKey, Values>;
}

/** Array length -> layout: what map writes per record and measure, and combine merges. */
export type MeasurePartial = Record<string, LayoutPartial>;

/** What reduce writes per measure: the layout of the newest build. */
export interface MeasureResult {
  length: number;
  buildId: string;
  revision: string;
  byBuildDate: Record<PathKey, Values>;
  bySubmissionDate: Record<PathKey, Values>;
  /** Submissions (by build date) of the other layouts, left out. */
  excluded: number;
}

/** The key of a filter path and date; the publisher splits it back (splitPathKey). */
export function pathKey(date: string, filter: readonly string[]): PathKey {
  return JSON.stringify([date, ...filter]);
}

export function splitPathKey(key: PathKey): { date: string; filter: string[] } {
  const [date = '', ...filter] = JSON.parse(key) as string[];
  return { date, filter };
}

function finite(value: number): number | null {
  if (Number.isNaN(value)) return null;
  if (value === Infinity) return Number.MAX_VALUE;
  if (value === -Infinity) return -Number.MAX_VALUE;
  return value;
}

const num = (value: number | null | undefined): number => (value === null || value === undefined ? Number.NaN : value);

function addStatistic(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === ABSENT && b === ABSENT) return ABSENT;
  return finite(num(a) + num(b));
}

/** Adds `from` into the first `from.length` entries of `into` (same layout; `into` may carry a filter id after them). */
export function addValues(into: Values, from: Readonly<Values>): void {
  const statsStart = from.length - 1 - STATISTICS;
  for (let i = 0; i < from.length; i += 1) {
    into[i] = i >= statsStart && i < from.length - 1 ? addStatistic(into[i], from[i]) : finite(num(into[i]) + num(from[i]));
  }
}

/** The submissions of a values array (its last entry, or the one before a filter id). */
export const submissionsOf = (values: Readonly<Values>, offset = 1): number => values[values.length - offset] ?? 0;

/** Newer build first; on a tie the greater revision, so that every run picks the same. */
function isNewer(buildId: string, revision: string, than: { b: string; r: string }): boolean {
  return buildId > than.b || (buildId === than.b && revision > than.r);
}

function addByPath(into: Record<PathKey, Values>, from: Readonly<Record<PathKey, Values>>): void {
  for (const key of Object.keys(from)) {
    const values = from[key];
    if (values === undefined) continue;
    const existing = into[key];
    if (existing === undefined) into[key] = values.slice();
    else addValues(existing, values);
  }
}

/** Merges measure partials in the order given (float sums depend on the order). */
export function mergeMeasures(partials: readonly MeasurePartial[]): MeasurePartial {
  const merged: MeasurePartial = {};
  for (const partial of partials) {
    for (const length of Object.keys(partial)) {
      const from = partial[length];
      if (from === undefined) continue;
      const into = merged[length];
      if (into === undefined) {
        merged[length] = { b: from.b, r: from.r, d: {}, s: {} };
        addByPath(merged[length].d, from.d);
        addByPath(merged[length].s, from.s);
        continue;
      }
      if (isNewer(from.b, from.r, into)) {
        into.b = from.b;
        into.r = from.r;
      }
      addByPath(into.d, from.d);
      addByPath(into.s, from.s);
    }
  }
  return merged;
}

function sortedByKey(values: Record<PathKey, Values>): Record<PathKey, Values> {
  const sorted: Record<PathKey, Values> = {};
  for (const key of Object.keys(values).sort()) sorted[key] = values[key] ?? [];
  return sorted;
}

/** The layout of the measure's newest build, and what the others held. */
export function finishMeasure(partial: MeasurePartial): MeasureResult | undefined {
  let chosen: [string, LayoutPartial] | undefined;
  for (const entry of Object.entries(partial)) {
    if (chosen === undefined || isNewer(entry[1].b, entry[1].r, chosen[1]) || (entry[1].b === chosen[1].b && entry[1].r === chosen[1].r && Number(entry[0]) > Number(chosen[0]))) {
      chosen = entry;
    }
  }
  if (chosen === undefined) return undefined;
  const [length, layout] = chosen;
  let excluded = 0;
  for (const [other, otherLayout] of Object.entries(partial)) {
    if (other === length) continue;
    for (const values of Object.values(otherLayout.d)) excluded += submissionsOf(values);
  }
  return {
    length: Number(length),
    buildId: layout.b,
    revision: layout.r,
    byBuildDate: sortedByKey(layout.d),
    bySubmissionDate: sortedByKey(layout.s),
    excluded,
  };
}
