/**
 * Realtime counters by time bucket and dimension value in Redis (SPEC 6).
 * Writers (the stats consumer, the workers) record pre-aggregated batches,
 * each count going to its minute, 10-minute, hour and 6-hour buckets
 * (record-script.ts has the key layout); the stats API reads sums over the
 * few buckets that cover a window (buckets.ts).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ClosedBucketCache } from './bucket-cache.js';
import { bucketEndMs, bucketsOfMinute, HOURS_ONLY, minuteIndex, type Bucket } from './buckets.js';
import { STATS_DIMENSIONS, type StatsDimension, type StatsValues } from './dimensions.js';
import { RECORD_SCRIPT } from './record-script.js';

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
  /** How long totals, and counts by value per hour, are kept. */
  readonly retentionMs: number;
  /** How long counts by value per minute and per 10 minutes are kept (at most retentionMs). */
  readonly detailRetentionMs: number;
  /** Distinct values per dimension and hour before the rest count as OTHER. */
  readonly maxValuesPerHour: number;
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

/** A read that would go over its budget: nothing was read past the sizes. */
export class ScanBudgetExceeded extends Error {
  override readonly name = 'ScanBudgetExceeded';
  constructor(
    readonly values: number,
    readonly budget: number,
  ) {
    super(`would scan ${values} counters, over the budget of ${budget}`);
  }
}

/** Longest value (UTF-8 bytes) a counter key holds: longer ones are cut and tagged with a hash (a 128-byte value costs ~800 B a bucket, a 40-byte one ~350 B). */
export const MAX_COUNTER_VALUE_BYTES = 40;
const KEPT_PREFIX_BYTES = MAX_COUNTER_VALUE_BYTES - 9;

/**
 * The text a value is counted under: itself up to MAX_COUNTER_VALUE_BYTES
 * bytes; past it, its first characters (up to 31 bytes), `~` and 8 hex digits
 * of its SHA-1, so distinct long values stay distinct and a dashboard still
 * shows what they start with.
 */
export function counterValue(value: string): string {
  if (value.length <= MAX_COUNTER_VALUE_BYTES / 3 || Buffer.byteLength(value) <= MAX_COUNTER_VALUE_BYTES) return value;
  let prefix = '';
  let bytes = 0;
  for (const char of value) {
    bytes += Buffer.byteLength(char);
    if (bytes > KEPT_PREFIX_BYTES) break;
    prefix += char;
  }
  return `${prefix}~${createHash('sha1').update(value).digest('hex').slice(0, 8)}`;
}

const emptyCounts = (): ValueCounts => ({ received: 0, persisted: 0, errors: 0 });

export class RedisCounterStore {
  constructor(
    private readonly redis: Redis,
    readonly options: CounterStoreOptions,
  ) {}

  /** Records entries (aggregated here first: one script call per minute touched). */
  async record(entries: readonly CountEntry[]): Promise<void> {
    const byMinute = aggregateByMinute(entries);
    const { prefix, maxValuesPerHour, retentionMs, detailRetentionMs } = this.options;
    await Promise.all(
      [...byMinute].map(([minute, sums]) => {
        const buckets = bucketsOfMinute(minute);
        const args: (string | number)[] = [prefix, maxValuesPerHour, buckets.length];
        for (const bucket of buckets) {
          const end = bucketEndMs(bucket);
          const countsRetention = HOURS_ONLY.includes(bucket.resolution) ? retentionMs : detailRetentionMs;
          args.push(bucket.resolution.name, bucket.index, end + retentionMs, end + countsRetention);
        }
        args.push(sums.totals.size);
        for (const { parts, count, bytes } of sums.totals.values()) args.push(...parts, count, bytes);
        for (const { parts, count, bytes } of sums.values.values()) args.push(...parts, count, bytes);
        return this.redis.eval(RECORD_SCRIPT, 0, ...args);
      }),
    );
  }

  /** Totals summed over `buckets`. */
  async totals(buckets: readonly Bucket[]): Promise<Totals> {
    const sum: Totals = { received: 0, bytes: 0, persisted: 0, errors: {} };
    await Promise.all(
      buckets.map(async (bucket) => {
        const raw = await this.redis.hgetall(this.key(bucket, 't'));
        for (const [field, value] of Object.entries(raw)) {
          const n = Number(value);
          if (field === 'received' || field === 'bytes' || field === 'persisted') sum[field] += n;
          else if (field.startsWith('error:')) sum.errors[field.slice(6)] = (sum.errors[field.slice(6)] ?? 0) + n;
        }
      }),
    );
    return sum;
  }

  /**
   * Counts by value of one dimension summed over `buckets`. The hashes' sizes
   * are read first: past `maxCounters` (fields, three per value at most) it
   * throws ScanBudgetExceeded before reading any of them. Each hash is merged
   * as its reply arrives, so memory holds the sums, not every reply. With a
   * `cache`, closed buckets are read from it, or parsed once into it.
   */
  async countsByValue(dimension: StatsDimension, buckets: readonly Bucket[], maxCounters: number, cache?: ClosedBucketCache): Promise<Map<string, ValueCounts>> {
    const keys = buckets.map((bucket) => this.key(bucket, `c:${dimension}`));
    const cached = keys.map((key) => cache?.get(key));
    const sizes = await Promise.all(keys.map(async (key, k) => cached[k]?.fields ?? this.redis.hlen(key)));
    const scanned = sizes.reduce((a, b) => a + b, 0);
    if (scanned > maxCounters) throw new ScanBudgetExceeded(scanned, maxCounters);
    const out = new Map<string, ValueCounts>();
    await Promise.all(
      keys.map(async (key, k) => {
        let counts = cached[k]?.counts;
        if (!counts) {
          const closed = cache?.isClosed(buckets[k] as Bucket) === true;
          // An open bucket is added straight into the sums; a closed one (an empty one too) is parsed once, for the cache.
          if (sizes[k] === 0 && !closed) return;
          const raw = sizes[k] === 0 ? {} : await this.redis.hgetall(key);
          if (!closed) {
            for (const field in raw) addField(out, field, Number(raw[field]));
            return;
          }
          const parsed = new Map<string, ValueCounts>();
          for (const field in raw) addField(parsed, field, Number(raw[field]));
          cache?.set(key, { counts: parsed, fields: sizes[k] ?? 0 });
          counts = parsed;
        }
        mergeCounts(out, counts);
      }),
    );
    return out;
  }

  /** Counts of one dimension value for each group of buckets (a time series point each), in order. */
  async seriesOf(dimension: StatsDimension, value: string, points: readonly (readonly Bucket[])[]): Promise<ValueCounts[]> {
    const counted = counterValue(value);
    const fields = [`r:${counted}`, `p:${counted}`, `e:${counted}`];
    return Promise.all(
      points.map(async (buckets) => {
        const sum = emptyCounts();
        const replies = await Promise.all(buckets.map((bucket) => this.redis.hmget(this.key(bucket, `c:${dimension}`), ...fields)));
        for (const [received, persisted, errors] of replies) {
          sum.received += Number(received ?? 0);
          sum.persisted += Number(persisted ?? 0);
          sum.errors += Number(errors ?? 0);
        }
        return sum;
      }),
    );
  }

  private key(bucket: Bucket, suffix: string): string {
    return `${this.options.prefix}:${bucket.resolution.name}:${bucket.index}:${suffix}`;
  }
}

/** Adds counts (a cached bucket's: never shared with `out`) to `out`. */
function mergeCounts(out: Map<string, ValueCounts>, counts: ReadonlyMap<string, Readonly<ValueCounts>>): void {
  for (const [value, c] of counts) {
    const sum = out.get(value);
    if (sum) {
      sum.received += c.received;
      sum.persisted += c.persisted;
      sum.errors += c.errors;
    } else {
      out.set(value, { received: c.received, persisted: c.persisted, errors: c.errors });
    }
  }
}

/** Adds one `<kind>:<value>` field of a counts hash to `out`. */
function addField(out: Map<string, ValueCounts>, field: string, n: number): void {
  const value = field.slice(2);
  let counts = out.get(value);
  if (!counts) out.set(value, (counts = emptyCounts()));
  switch (field.charCodeAt(0)) {
    case 114: // r
      counts.received += n;
      break;
    case 112: // p
      counts.persisted += n;
      break;
    default: // e
      counts.errors += n;
  }
}

interface Sums {
  /** The script's arguments before the sums: kind and error type, or kind, dimension index and value. */
  readonly parts: readonly (string | number)[];
  count: number;
  bytes: number;
}
interface MinuteSums {
  totals: Map<string, Sums>;
  values: Map<string, Sums>;
}

/** Entries summed per minute: totals by (kind, error type), counts by (kind, dimension index, value). */
function aggregateByMinute(entries: readonly CountEntry[]): Map<number, MinuteSums> {
  const add = (map: Map<string, Sums>, parts: readonly (string | number)[], count: number, bytes: number) => {
    // Only the last part may hold any character (NUL included): the key groups unambiguously; the parts go to Redis.
    const key = parts.join('\u0000');
    const sums = map.get(key);
    if (sums) {
      sums.count += count;
      sums.bytes += bytes;
    } else {
      map.set(key, { parts, count, bytes });
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
    add(sums.totals, [kind, entry.errorType ?? ''], entry.count, bytes);
    for (let d = 0; d < STATS_DIMENSIONS.length; d += 1) {
      const value = entry.values[STATS_DIMENSIONS[d] as StatsDimension];
      // A dimension the entry does not have (a Glean ping has no appName) is not counted.
      if (value !== undefined) add(sums.values, [kind, d + 1, counterValue(value)], entry.count, bytes);
    }
  }
  return byMinute;
}
