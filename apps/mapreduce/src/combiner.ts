/**
 * A mapper's buffer for jobs with `combine` (SPEC 7): values are collected per
 * key and, when one key has more than `threshold` of them, `combine` replaces
 * them with what it writes. Everything is written on to the partitions at
 * the end, or earlier when the buffer holds `maxBuffered` values in all, so
 * that many distinct keys cannot grow a mapper's memory without bound; as in
 * Hadoop, combine also runs then on every key holding more than one value, so
 * a key whose count stays under the threshold is not shipped value by value.
 */
import { encodeKey } from './encoding.js';
import { ReduceError } from './errors.js';
import { isPromiseLike, type JobParams, type MapReduceJob, type WriteContext } from './job-api.js';

interface Group {
  readonly key: unknown;
  values: unknown[];
  /** Combine again when the group grows past this (raised when combine does not shrink it). */
  limit: number;
}

export type PairSink = (encodedKey: string, value: unknown) => Promise<void> | void;

export class Combiner {
  private groups = new Map<string, Group>();
  private buffered = 0;
  private flushing = false;
  /** How many times combine ran, for the task's counters. */
  combines = 0;

  constructor(
    private readonly combine: NonNullable<MapReduceJob['combine']>,
    private readonly params: JobParams,
    private readonly threshold: number,
    private readonly maxBuffered: number,
    private readonly sink: PairSink,
  ) {}

  async add(encodedKey: string, key: unknown, value: unknown): Promise<void> {
    let group = this.groups.get(encodedKey);
    if (group === undefined) {
      group = { key, values: [], limit: this.threshold };
      this.groups.set(encodedKey, group);
    }
    group.values.push(value);
    this.buffered += 1;
    if (group.values.length > group.limit) await this.combineGroup(encodedKey, group);
    if (this.buffered > this.maxBuffered && !this.flushing) await this.flush();
  }

  /** Combines, then writes every buffered value to the sink, in the order keys first appeared. */
  async flush(): Promise<void> {
    // A combine that re-keys adds to other groups here; they are visited too, and must not flush again.
    this.flushing = true;
    try {
      for (const [encodedKey, group] of this.groups) {
        if (group.values.length > 1) await this.combineGroup(encodedKey, group);
      }
    } finally {
      this.flushing = false;
    }
    const groups = this.groups;
    this.groups = new Map();
    this.buffered = 0;
    for (const [encodedKey, group] of groups) {
      for (const value of group.values) await this.sink(encodedKey, value);
    }
  }

  private async combineGroup(encodedKey: string, group: Group): Promise<void> {
    const emitted: unknown[] = [];
    const ctx: WriteContext = {
      params: this.params,
      write: (k: unknown, v: unknown) => {
        emitted.push(k, v);
      },
    };
    const values = group.values;
    this.buffered -= values.length;
    group.values = [];
    this.combines += 1;
    try {
      const result = this.combine(group.key, values, ctx);
      if (isPromiseLike(result)) await result;
      for (let i = 0; i < emitted.length; i += 2) {
        const outKey = encodeKey(emitted[i]);
        if (outKey === encodedKey) {
          group.values.push(emitted[i + 1]);
          this.buffered += 1;
        } else {
          // A combine that re-keys is unusual but allowed: its pairs go where any pair would.
          await this.add(outKey, emitted[i], emitted[i + 1]);
        }
      }
    } catch (error) {
      if (error instanceof ReduceError) throw error;
      throw new ReduceError('combine', encodedKey, error);
    }
    // A combine that does not shrink the group would otherwise run on every add.
    group.limit = Math.max(this.threshold, group.values.length * 2);
  }
}
