import { describe, expect, it } from 'vitest';
import type { InputFile } from '../src/input-filter.js';
import { fnv1a, partitionOf, splitBySize } from '../src/plan.js';

const file = (name: string, size: number): InputFile => ({ path: name, size, dims: [] });

describe('planning', () => {
  it('splits files by size, largest first into the emptiest task', () => {
    const files = [file('a', 10), file('b', 70), file('c', 30), file('d', 30), file('e', 25), file('f', 5)];
    const tasks = splitBySize(files, 2);
    expect(tasks.map((task) => task.map((f) => f.path))).toEqual([
      ['b', 'a', 'f'],
      ['c', 'd', 'e'],
    ]);
    expect(tasks.map((task) => task.reduce((sum, f) => sum + f.size, 0))).toEqual([85, 85]);
  });

  it('never makes an empty task, and is independent of the input order', () => {
    expect(splitBySize([file('x', 1)], 8)).toHaveLength(1);
    expect(splitBySize([], 3)).toEqual([]);
    const files = [file('a', 5), file('b', 5), file('c', 9), file('d', 1)];
    expect(splitBySize([...files].reverse(), 3)).toEqual(splitBySize(files, 3));
    expect(() => splitBySize(files, 0)).toThrow(RangeError);
  });

  it('hashes keys with FNV-1a (the published test vectors) and partitions by it', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    expect(partitionOf('"anything"', 1)).toBe(0);
    const counts = new Map<number, number>();
    for (let i = 0; i < 4_000; i += 1) {
      const partition = partitionOf(JSON.stringify(['key', i]), 4);
      counts.set(partition, (counts.get(partition) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect(Math.min(...counts.values())).toBeGreaterThan(800);
  });
});
