/**
 * Bounds the stats queries running at once. Identical queries in flight share
 * one run (ten dashboards asking for the same top versions cost one read);
 * past `maxConcurrent` running, queries wait in line, and past `maxQueued`
 * waiting they are refused with Overloaded (503) instead of piling up in
 * memory and timing out one after another.
 */
import { Overloaded } from './errors.js';

export interface QueryGateLimits {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
}

export class QueryGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly limits: QueryGateLimits) {}

  /** Runs `query` (or joins the identical one in flight, same `key`) within the limits. */
  run<T>(key: string, query: () => Promise<T>): Promise<T> {
    const joined = this.inFlight.get(key);
    if (joined) return joined as Promise<T>;
    if (this.running >= this.limits.maxConcurrent && this.waiting.length >= this.limits.maxQueued) {
      return Promise.reject(
        new Overloaded(`too many stats queries at once (${this.running} running, ${this.waiting.length} waiting: STATS_QUERY_CONCURRENCY, STATS_QUERY_QUEUE)`, 1, 'queries'),
      );
    }
    const run = this.slot().then(async () => {
      try {
        return await query();
      } finally {
        this.release();
      }
    });
    const shared = run.finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, shared);
    return shared;
  }

  private slot(): Promise<void> {
    if (this.running < this.limits.maxConcurrent) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next query in line: `running` stays.
    if (next) next();
    else this.running -= 1;
  }
}
