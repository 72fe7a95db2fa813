/**
 * Parsed counts of buckets that no longer change, for the stats reader. A
 * long window is mostly closed hours and six-hours: re-reading and re-parsing
 * thousands of fields of each per query is most of a query's cost, while only
 * the bucket being filled changes. A bucket counts as closed once it ended
 * `graceMs` ago (counts arriving late, a stats backlog, still land in it and
 * show within `ttlMs`). Bounded by the values held (LRU).
 */
import { LRUCache } from 'lru-cache';
import { bucketEndMs, type Bucket } from './buckets.js';

/** A value's counts in one bucket (the counter store's ValueCounts). */
interface BucketValueCounts {
  readonly received: number;
  readonly persisted: number;
  readonly errors: number;
}

export interface CachedBucket {
  readonly counts: ReadonlyMap<string, BucketValueCounts>;
  /** Hash fields it was parsed from (what the scan budget counts). */
  readonly fields: number;
}

export interface ClosedBucketCacheOptions {
  /** Values held at most over all cached buckets. */
  readonly maxValues: number;
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly nowMs: () => number;
}

export class ClosedBucketCache {
  private readonly entries: LRUCache<string, CachedBucket>;

  constructor(private readonly options: ClosedBucketCacheOptions) {
    this.entries = new LRUCache<string, CachedBucket>({
      maxSize: options.maxValues,
      // An empty bucket still takes an entry: count it as one value.
      sizeCalculation: (entry) => Math.max(1, entry.counts.size),
      ttl: options.ttlMs,
    });
  }

  /** Whether `bucket` can no longer change (it ended at least graceMs ago). */
  isClosed(bucket: Bucket): boolean {
    return bucketEndMs(bucket) + this.options.graceMs <= this.options.nowMs();
  }

  get(key: string): CachedBucket | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: CachedBucket): void {
    // A bucket larger than the whole cache is not kept (lru-cache would refuse it anyway).
    if (entry.counts.size <= this.options.maxValues) this.entries.set(key, entry);
  }
}
