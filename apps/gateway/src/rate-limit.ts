/**
 * Optional per-client-IP rate limit (RATE_LIMIT_PER_SECOND, off by default):
 * a token bucket per address, refilled continuously, `burst` deep. Buckets
 * live in an LRU bounded by bytes (RATE_LIMIT_MAX_MEMORY), not by count, so a
 * flood of addresses, however long their keys, cannot grow memory past it.
 * Limits are per gateway process (each core counts on its own).
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from '@telemetry/shared/clock';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Seconds until a token is available (for Retry-After). */
  readonly retryAfterSeconds: number;
}

export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
    maxBytes: number,
  ) {
    this.buckets = new LRUCache({ maxSize: maxBytes, sizeCalculation: bucketBytes });
  }

  /** Bytes the buckets are counted as (for tests and metrics). */
  get calculatedBytes(): number {
    return this.buckets.calculatedSize;
  }

  take(client: string): RateLimitDecision {
    const now = this.clock.nowMs();
    const bucket = this.buckets.get(client) ?? { tokens: this.burst, updatedMs: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * this.perSecond);
    bucket.updatedMs = now;
    this.buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond)) };
  }
}

/**
 * What one bucket costs on the heap, measured (shared/test … rate-limit
 * memory test): the key string (2 bytes a character, a header), the bucket
 * object and the LRU's map entry and index slots, rounded up.
 */
function bucketBytes(_bucket: Bucket, key: string): number {
  return BUCKET_OVERHEAD_BYTES + 2 * key.length;
}

const BUCKET_OVERHEAD_BYTES = 200;
