/**
 * The answers of the stats API, computed from the per-minute counters. Windows
 * end with the current (partial) minute; time series points are aligned to
 * their step, every step present, zeros included.
 */
import type { Clock } from '@telemetry/shared/clock';
import { MINUTE_MS, minuteIndex, type RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import type { StatsDimension } from '@telemetry/shared/stats/dimensions';

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

export interface Point {
  t: number;
  received: number;
  persisted: number;
  errors: number;
}

/**
 * The minutes a window touches: every minute overlapping [now - window, now].
 * Counters are per minute, so a window is widened to whole minutes at its
 * start (a "1m" window at 12:30:05 covers 12:29:00-12:30:05) rather than
 * dropping what arrived just before the current minute began.
 */
function windowMinutes(nowMs: number, windowMs: number): number[] {
  const first = minuteIndex(nowMs - windowMs);
  const last = minuteIndex(nowMs);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

export class StatsService {
  constructor(
    private readonly store: RedisCounterStore,
    private readonly clock: Clock,
  ) {}

  async summary(window: { text: string; ms: number }): Promise<Summary> {
    const nowMs = this.clock.nowMs();
    const minutes = windowMinutes(nowMs, window.ms);
    const perMinute = await this.store.totalsPerMinute(minutes);
    const summary: Summary = { window: window.text, received: 0, persisted: 0, errors: {}, receivedPerSecond: 0, persistedPerSecond: 0 };
    for (const totals of perMinute) {
      summary.received += totals.received;
      summary.persisted += totals.persisted;
      for (const [type, n] of Object.entries(totals.errors)) summary.errors[type] = (summary.errors[type] ?? 0) + n;
    }
    // Rates over the span the counted minutes really cover.
    const coveredSeconds = (nowMs - (minutes[0] ?? 0) * MINUTE_MS) / 1000;
    summary.receivedPerSecond = summary.received / coveredSeconds;
    summary.persistedPerSecond = summary.persisted / coveredSeconds;
    return summary;
  }

  /** Values sorted by received (descending); the tail past `top` is folded into OTHER. */
  async dimensionValues(dimension: StatsDimension, windowMs: number, top: number): Promise<DimensionValue[]> {
    const counts = await this.store.countsByValue(dimension, windowMinutes(this.clock.nowMs(), windowMs));
    const values = [...counts].map(([value, c]) => ({ value, ...c }));
    values.sort((a, b) => b.received - a.received || b.persisted - a.persisted || a.value.localeCompare(b.value));
    if (values.length <= top) return values;
    const kept = values.filter((v) => v.value !== 'OTHER').slice(0, top - 1);
    const keptNames = new Set(kept.map((v) => v.value));
    const other: DimensionValue = { value: 'OTHER', received: 0, persisted: 0, errors: 0 };
    for (const v of values) {
      if (keptNames.has(v.value)) continue;
      other.received += v.received;
      other.persisted += v.persisted;
      other.errors += v.errors;
    }
    return [...kept, other].sort((a, b) => b.received - a.received);
  }

  async timeseries(dimension: StatsDimension, value: string, windowMs: number, stepMs: number): Promise<Point[]> {
    const pointCount = Math.max(1, Math.floor(windowMs / stepMs));
    const lastStart = Math.floor(this.clock.nowMs() / stepMs) * stepMs;
    const firstStart = lastStart - (pointCount - 1) * stepMs;
    const minutesPerStep = stepMs / MINUTE_MS;
    const minutes = Array.from({ length: pointCount * minutesPerStep }, (_, i) => minuteIndex(firstStart) + i);
    const series = await this.store.seriesOf(dimension, value, minutes);
    return Array.from({ length: pointCount }, (_, p) => {
      const point: Point = { t: firstStart + p * stepMs, received: 0, persisted: 0, errors: 0 };
      for (let m = p * minutesPerStep; m < (p + 1) * minutesPerStep; m += 1) {
        const counts = series[m];
        if (!counts) continue;
        point.received += counts.received;
        point.persisted += counts.persisted;
        point.errors += counts.errors;
      }
      return point;
    });
  }
}
