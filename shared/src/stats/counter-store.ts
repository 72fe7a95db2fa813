/**
 * Realtime counters per minute and dimension value in Redis (SPEC 6).
 * Writers (the stats consumer, the workers) record pre-aggregated batches;
 * the stats API reads sums over windows of minutes.
 */
import type { Redis } from 'ioredis';
import { STATS_DIMENSIONS, type StatsDimension, type StatsValues } from './dimensions.js';
import { RECORD_SCRIPT } from './record-script.js';

export const MINUTE_MS = 60_000;

export type CounterKind = 'received' | 'persisted' | 'error';
const KIND_CODE: Record<CounterKind, string> = { received: 'r', persisted: 'p', error: 'e' };

export interface CountEntry {
  readonly atMs: number;
  readonly kind: CounterKind;
  readonly values: StatsValues;
  readonly count: number;
  /** Body bytes (received only). */
  readonly bytes?: number;
  /** Error type (kind 'error' only). */
  readonly errorType?: string;
}

export interface CounterStoreOptions {
  readonly prefix: string;
  readonly retentionMs: number;
  /** Distinct values per dimension and minute before the rest count as OTHER. */
  readonly maxValuesPerMinute: number;
}

export interface Totals {
  received: number;
  bytes: number;
  persisted: number;
  errors: Record<string, number>;
}

export interface ValueCounts {
  received: number;
  persisted: number;
  errors: number;
}

export function minuteIndex(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

export class RedisCounterStore {
  constructor(
    private readonly redis: Redis,
    readonly options: CounterStoreOptions,
  ) {}

  /** Records entries (aggregated here first: one script call per minute touched). */
  async record(entries: readonly CountEntry[]): Promise<void> {
    interface Sums {
      count: number;
      bytes: number;
    }
    interface MinuteSums {
      totals: Map<string, Sums>;
      values: Map<string, Sums>;
    }
    const add = (map: Map<string, Sums>, key: string, count: number, bytes: number) => {
      const sums = map.get(key);
      if (sums) {
        sums.count += count;
        sums.bytes += bytes;
      } else {
        map.set(key, { count, bytes });
      }
    };
    const byMinute = new Map<number, MinuteSums>();
    for (const entry of entries) {
      const minute = minuteIndex(entry.atMs);
      let sums = byMinute.get(minute);
      if (!sums) {
        sums = { totals: new Map(), values: new Map() };
        byMinute.set(minute, sums);
      }
      const kind = KIND_CODE[entry.kind];
      const bytes = entry.bytes ?? 0;
      add(sums.totals, `${kind}\u0000${entry.errorType ?? ''}`, entry.count, bytes);
      for (let d = 0; d < STATS_DIMENSIONS.length; d += 1) {
        const value = entry.values[STATS_DIMENSIONS[d] as StatsDimension];
        // A dimension the entry does not have (a Glean ping has no appName) is not counted.
        if (value !== undefined) add(sums.values, `${kind}\u0000${d + 1}\u0000${value}`, entry.count, bytes);
      }
    }
    const { prefix, retentionMs, maxValuesPerMinute } = this.options;
    await Promise.all(
      [...byMinute].map(([minute, sums]) => {
        const args: (string | number)[] = [prefix, retentionMs, maxValuesPerMinute, minute, sums.totals.size];
        for (const [key, { count, bytes }] of sums.totals) args.push(...key.split('\u0000'), count, bytes);
        for (const [key, { count, bytes }] of sums.values) args.push(...key.split('\u0000'), count, bytes);
        return this.redis.eval(RECORD_SCRIPT, 0, ...args);
      }),
    );
  }

  /** Totals of each minute index in `minutes`, in order. */
  async totalsPerMinute(minutes: readonly number[]): Promise<Totals[]> {
    const pipeline = this.redis.pipeline();
    for (const minute of minutes) pipeline.hgetall(this.key(minute, 't'));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, raw]) => {
      if (error) throw error;
      const totals: Totals = { received: 0, bytes: 0, persisted: 0, errors: {} };
      for (const [field, value] of Object.entries((raw ?? {}) as Record<string, string>)) {
        const n = Number(value);
        if (field === 'received' || field === 'bytes' || field === 'persisted') totals[field] = n;
        else if (field.startsWith('error:')) totals.errors[field.slice(6)] = n;
      }
      return totals;
    });
  }

  /** Summed counts by value of one dimension over `minutes`. */
  async countsByValue(dimension: StatsDimension, minutes: readonly number[]): Promise<Map<string, ValueCounts>> {
    const pipeline = this.redis.pipeline();
    const kinds = ['r', 'p', 'e'] as const;
    for (const minute of minutes) for (const kind of kinds) pipeline.hgetall(this.key(minute, `${kind}:${dimension}`));
    const results = (await pipeline.exec()) ?? [];
    const out = new Map<string, ValueCounts>();
    results.forEach(([error, raw], index) => {
      if (error) throw error;
      const kind = kinds[index % 3];
      for (const [value, count] of Object.entries((raw ?? {}) as Record<string, string>)) {
        let counts = out.get(value);
        if (!counts) out.set(value, (counts = { received: 0, persisted: 0, errors: 0 }));
        if (kind === 'r') counts.received += Number(count);
        else if (kind === 'p') counts.persisted += Number(count);
        else counts.errors += Number(count);
      }
    });
    return out;
  }

  /** Counts of one dimension value for each minute index in `minutes`, in order. */
  async seriesOf(dimension: StatsDimension, value: string, minutes: readonly number[]): Promise<ValueCounts[]> {
    const pipeline = this.redis.pipeline();
    for (const minute of minutes) {
      for (const kind of ['r', 'p', 'e']) pipeline.hget(this.key(minute, `${kind}:${dimension}`), value);
    }
    const results = (await pipeline.exec()) ?? [];
    const numbers = results.map(([error, raw]) => {
      if (error) throw error;
      return Number(raw ?? 0);
    });
    return minutes.map((_, i) => ({ received: numbers[i * 3] ?? 0, persisted: numbers[i * 3 + 1] ?? 0, errors: numbers[i * 3 + 2] ?? 0 }));
  }

  private key(minute: number, suffix: string): string {
    return `${this.options.prefix}:${minute}:${suffix}`;
  }
}
