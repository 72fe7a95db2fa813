import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher, type BatchLimits } from '../src/batching/batcher.js';

/** A batcher whose flushes are recorded as [items, bytes]. */
function recording(limits: BatchLimits): { batcher: Batcher<string>; flushes: [string[], number][] } {
  const flushes: [string[], number][] = [];
  const batcher = new Batcher<string>(limits, (items, bytes) => flushes.push([items, bytes]));
  return { batcher, flushes };
}

const LONG_WAIT = 60_000;

describe('Batcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('flushes when the batch holds maxSize items', () => {
    const { batcher, flushes } = recording({ maxSize: 3, maxBytes: 1_000, maxWaitMs: LONG_WAIT });
    batcher.add('a', 1);
    batcher.add('b', 2);
    expect(flushes).toEqual([]);
    expect(batcher.size).toBe(2);
    expect(batcher.pendingBytes).toBe(3);
    batcher.add('c', 3);
    expect(flushes).toEqual([[['a', 'b', 'c'], 6]]);
    expect(batcher.size).toBe(0);
    expect(batcher.pendingBytes).toBe(0);
    batcher.add('d', 1);
    batcher.add('e', 1);
    batcher.add('f', 1);
    batcher.add('g', 1);
    expect(flushes).toEqual([
      [['a', 'b', 'c'], 6],
      [['d', 'e', 'f'], 3],
    ]);
    expect(batcher.size).toBe(1);
  });

  it('maxSize 1 flushes every item alone', () => {
    const { batcher, flushes } = recording({ maxSize: 1, maxBytes: 1_000, maxWaitMs: LONG_WAIT });
    batcher.add('a', 5);
    batcher.add('b', 6);
    expect(flushes).toEqual([
      [['a'], 5],
      [['b'], 6],
    ]);
  });

  it('flushes when the batch reaches maxBytes exactly', () => {
    const { batcher, flushes } = recording({ maxSize: 100, maxBytes: 100, maxWaitMs: LONG_WAIT });
    batcher.add('a', 60);
    expect(flushes).toEqual([]);
    batcher.add('b', 40);
    expect(flushes).toEqual([[['a', 'b'], 100]]);
  });

  it('an item that would pass maxBytes starts the next batch', () => {
    const { batcher, flushes } = recording({ maxSize: 100, maxBytes: 100, maxWaitMs: LONG_WAIT });
    batcher.add('a', 60);
    batcher.add('b', 41);
    expect(flushes).toEqual([[['a'], 60]]);
    expect(batcher.size).toBe(1);
    expect(batcher.pendingBytes).toBe(41);
    batcher.add('c', 59);
    expect(flushes).toEqual([
      [['a'], 60],
      [['b', 'c'], 100],
    ]);
  });

  it('an item that alone reaches maxBytes goes alone', () => {
    const { batcher, flushes } = recording({ maxSize: 100, maxBytes: 100, maxWaitMs: LONG_WAIT });
    batcher.add('exact', 100);
    expect(flushes).toEqual([[['exact'], 100]]);
    batcher.add('small', 10);
    batcher.add('huge', 1_000);
    expect(flushes).toEqual([
      [['exact'], 100],
      [['small'], 10],
      [['huge'], 1_000],
    ]);
    expect(batcher.size).toBe(0);
  });

  it('zero-byte items count against maxSize only', () => {
    const { batcher, flushes } = recording({ maxSize: 3, maxBytes: 1, maxWaitMs: LONG_WAIT });
    batcher.add('a', 0);
    batcher.add('b', 0);
    expect(flushes).toEqual([]);
    batcher.add('c', 0);
    expect(flushes).toEqual([[['a', 'b', 'c'], 0]]);
  });

  it('flushes maxWaitMs after the first item of the batch', () => {
    const { batcher, flushes } = recording({ maxSize: 100, maxBytes: 1_000, maxWaitMs: 100 });
    batcher.add('a', 1);
    vi.advanceTimersByTime(50);
    batcher.add('b', 1); // does not push the deadline back
    vi.advanceTimersByTime(49);
    expect(flushes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(flushes).toEqual([[['a', 'b'], 2]]);
    // The next batch has its own deadline, from its own first item.
    vi.advanceTimersByTime(500);
    expect(flushes).toHaveLength(1);
    batcher.add('c', 1);
    vi.advanceTimersByTime(99);
    expect(flushes).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(flushes).toEqual([
      [['a', 'b'], 2],
      [['c'], 1],
    ]);
  });

  it('a batch closed by size or bytes leaves no timer behind', () => {
    const { batcher, flushes } = recording({ maxSize: 2, maxBytes: 10, maxWaitMs: 100 });
    batcher.add('a', 1);
    batcher.add('b', 1); // size
    batcher.add('c', 10); // bytes
    expect(flushes).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(flushes).toHaveLength(2);
  });

  it('the batch started by an overflowing item gets a fresh deadline', () => {
    const { batcher, flushes } = recording({ maxSize: 100, maxBytes: 100, maxWaitMs: 100 });
    batcher.add('a', 90);
    vi.advanceTimersByTime(80);
    batcher.add('b', 20); // flushes [a], starts a new batch at t=80
    expect(flushes).toEqual([[['a'], 90]]);
    vi.advanceTimersByTime(99);
    expect(flushes).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(flushes).toEqual([
      [['a'], 90],
      [['b'], 20],
    ]);
  });

  it('flushNow closes the open batch at once, and does nothing when there is none', () => {
    const { batcher, flushes } = recording({ maxSize: 100, maxBytes: 1_000, maxWaitMs: 100 });
    batcher.flushNow();
    expect(flushes).toEqual([]);
    batcher.add('a', 3);
    batcher.add('b', 4);
    batcher.flushNow();
    expect(flushes).toEqual([[['a', 'b'], 7]]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(flushes).toHaveLength(1);
    batcher.flushNow();
    expect(flushes).toHaveLength(1);
  });

  it('discard drops the open batch without flushing it and returns its items', () => {
    const { batcher, flushes } = recording({ maxSize: 100, maxBytes: 1_000, maxWaitMs: 100 });
    expect(batcher.discard()).toEqual([]);
    batcher.add('a', 3);
    batcher.add('b', 4);
    expect(batcher.discard()).toEqual(['a', 'b']);
    expect(batcher.size).toBe(0);
    expect(batcher.pendingBytes).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(flushes).toEqual([]);
    // Usable afterwards, with bytes counted from zero again.
    batcher.add('c', 1_000);
    expect(flushes).toEqual([[['c'], 1_000]]);
  });

  it('maxWaitMs 0 flushes every item synchronously as it is added', () => {
    const { batcher, flushes } = recording({ maxSize: 100, maxBytes: 1_000, maxWaitMs: 0 });
    batcher.add('a', 1);
    expect(flushes).toEqual([[['a'], 1]]);
    batcher.add('b', 2);
    expect(flushes).toEqual([
      [['a'], 1],
      [['b'], 2],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an add from inside the flush callback goes in the next batch', () => {
    const flushes: string[][] = [];
    const batcher: Batcher<string> = new Batcher<string>({ maxSize: 2, maxBytes: 1_000, maxWaitMs: LONG_WAIT }, (items) => {
      flushes.push(items);
      if (items.includes('b')) batcher.add('from-flush', 1);
    });
    batcher.add('a', 1);
    batcher.add('b', 1);
    expect(flushes).toEqual([['a', 'b']]);
    expect(batcher.size).toBe(1);
    batcher.flushNow();
    expect(flushes).toEqual([['a', 'b'], ['from-flush']]);
  });

  it.each([
    ['maxSize 0', { maxSize: 0, maxBytes: 1, maxWaitMs: 0 }],
    ['maxSize NaN', { maxSize: Number.NaN, maxBytes: 1, maxWaitMs: 0 }],
    ['maxBytes 0', { maxSize: 1, maxBytes: 0, maxWaitMs: 0 }],
    ['maxBytes negative', { maxSize: 1, maxBytes: -5, maxWaitMs: 0 }],
    ['maxWaitMs negative', { maxSize: 1, maxBytes: 1, maxWaitMs: -1 }],
    ['maxWaitMs NaN', { maxSize: 1, maxBytes: 1, maxWaitMs: Number.NaN }],
  ])('refuses %s with a RangeError', (_label, limits) => {
    expect(() => new Batcher(limits, () => undefined)).toThrow(RangeError);
  });

  it('accepts the smallest valid limits', () => {
    const { batcher, flushes } = recording({ maxSize: 1, maxBytes: 1, maxWaitMs: 0 });
    batcher.add('a', 0);
    expect(flushes).toEqual([[['a'], 0]]);
  });
});
