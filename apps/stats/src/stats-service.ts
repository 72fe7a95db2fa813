/**
 * The answers of the stats API, computed from the bucketed counters
 * (shared/src/stats/buckets.ts). Windows end with the current (partial)
 * minute and start at the minute `window` ago; counts by value are kept per
 * minute and per 10 minutes only for the detail retention, so a window
 * starting before it starts at its hour instead (the answer's `from` says
 * where). Time series points are aligned to their step, every step present,
 * zeros included.
 */
import type { Clock } from '@telemetry/shared/clock';
import { ALL_RESOLUTIONS, coverMinutes, hourStartMinute, HOURS_ONLY, MINUTE_MS, minuteIndex, type Bucket } from '@telemetry/shared/stats/buckets';
import type { ClosedBucketCache } from '@telemetry/shared/stats/bucket-cache';
import { ScanBudgetExceeded, type RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import type { StatsDimension } from '@telemetry/shared/stats/dimensions';
import { BadRequest, OverBudget } from './errors.js';

export interface Summary {
  window: string;
  received: number;
  persisted: number;
  errors: Record<string, number>;
  receivedPerSecond: number;
  persistedPerSecond: number;
}

export interface DimensionValue {
  value: string;
  received: number;
  persisted: number;
  errors: number;
}

export interface DimensionAnswer {
  /** Where the counts start (ms): the window's first minute, or its hour when the minutes are no longer kept. */
  from: number;
  values: DimensionValue[];
}

export interface Point {
  t: number;
  received: number;
  persisted: number;
  errors: number;
}

export interface StatsServiceOptions {
  /** How long counts by value are kept per minute and 10 minutes (the writers' STATS_DETAIL_RETENTION). */
  readonly detailRetentionMs: number;
  /** Counters one dimension query may read (STATS_QUERY_MAX_COUNTERS); past it the query is a 400. */
  readonly maxScanCounters: number;
  /** Parsed counts of closed buckets (none: every query reads every bucket). */
  readonly cache?: ClosedBucketCache;
}

export class StatsService {
  constructor(
    private readonly store: RedisCounterStore,
    private readonly clock: Clock,
    private readonly options: StatsServiceOptions,
  ) {}

  async summary(window: { text: string; ms: number }): Promise<Summary> {
    const nowMs = this.clock.nowMs();
    const first = minuteIndex(nowMs - window.ms);
    // Totals are kept at every resolution for the whole retention: any window is exact.
    const totals = await this.store.totals(coverMinutes(first, minuteIndex(nowMs), { openEnd: true }));
    // Rates over the span the counted minutes really cover.
    const coveredSeconds = (nowMs - first * MINUTE_MS) / 1000;
    return {
      window: window.text,
      received: totals.received,
      persisted: totals.persisted,
      errors: totals.errors,
      receivedPerSecond: totals.received / coveredSeconds,
      persistedPerSecond: totals.persisted / coveredSeconds,
    };
  }

  /** Values sorted by received (descending); the tail past `top` is folded into OTHER. */
  async dimensionValues(dimension: StatsDimension, window: { text: string; ms: number }, top: number): Promise<DimensionAnswer> {
    const nowMs = this.clock.nowMs();
    let first = minuteIndex(nowMs - window.ms);
    let resolutions = ALL_RESOLUTIONS;
    if (!this.hasDetail(first, nowMs)) {
      first = hourStartMinute(first);
      resolutions = HOURS_ONLY;
    }
    const buckets = coverMinutes(first, minuteIndex(nowMs), { openEnd: true, resolutions });
    const counts = await this.store.countsByValue(dimension, buckets, this.options.maxScanCounters, this.options.cache).catch((error: unknown) => {
      if (error instanceof ScanBudgetExceeded) {
        throw new OverBudget(`window ${window.text} of ${dimension} ${error.message} (STATS_QUERY_MAX_COUNTERS): ask for a shorter window`);
      }
      throw error;
    });
    return { from: first * MINUTE_MS, values: topValues(counts, top) };
  }

  async timeseries(dimension: StatsDimension, value: string, window: { text: string; ms: number }, step: { text: string; ms: number }): Promise<Point[]> {
    const nowMs = this.clock.nowMs();
    const pointCount = Math.max(1, Math.floor(window.ms / step.ms));
    const lastStart = Math.floor(nowMs / step.ms) * step.ms;
    const firstStart = lastStart - (pointCount - 1) * step.ms;
    const stepMinutes = step.ms / MINUTE_MS;
    let resolutions = ALL_RESOLUTIONS;
    if (!this.hasDetail(minuteIndex(firstStart), nowMs)) {
      if (stepMinutes % 60 !== 0) {
        throw new BadRequest(
          `counts by value are kept per minute for ${this.options.detailRetentionMs / 3_600_000}h (STATS_DETAIL_RETENTION): ` +
            `a ${window.text} window needs a step of whole hours, got ${step.text}`,
        );
      }
      resolutions = HOURS_ONLY;
    }
    const points: Bucket[][] = Array.from({ length: pointCount }, (_, p) => {
      const start = minuteIndex(firstStart) + p * stepMinutes;
      return coverMinutes(start, start + stepMinutes - 1, { resolutions });
    });
    const series = await this.store.seriesOf(dimension, value, points);
    return series.map((counts, p) => ({ t: firstStart + p * step.ms, ...counts }));
  }

  /** Whether minute `first`'s bucket is still kept (a minute bucket lives until its end plus the detail retention). */
  private hasDetail(first: number, nowMs: number): boolean {
    return (first + 1) * MINUTE_MS + this.options.detailRetentionMs > nowMs;
  }
}

/** Values sorted by received (descending); past `top`, the tail (and any OTHER) folded into one OTHER. */
function topValues(counts: Map<string, Omit<DimensionValue, 'value'>>, top: number): DimensionValue[] {
  const values = [...counts].map(([value, c]) => ({ value, ...c }));
  values.sort((a, b) => b.received - a.received || b.persisted - a.persisted || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  if (values.length <= top) return values;
  const kept = values.filter((v) => v.value !== 'OTHER').slice(0, top - 1);
  const keptSet = new Set(kept);
  const other: DimensionValue = { value: 'OTHER', received: 0, persisted: 0, errors: 0 };
  for (const v of values) {
    if (keptSet.has(v)) continue;
    other.received += v.received;
    other.persisted += v.persisted;
    other.errors += v.errors;
  }
  return [...kept, other].sort((a, b) => b.received - a.received);
}
