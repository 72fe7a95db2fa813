import { describe, expect, it } from 'vitest';
import { Overloaded } from '../src/errors.js';
import { QueryGate } from '../src/query-gate.js';

/** A query that finishes when told to, counting its runs. */
function controlled() {
  let runs = 0;
  const finishers: (() => void)[] = [];
  const query = () => {
    runs += 1;
    return new Promise<number>((resolve) => finishers.push(() => resolve(runs)));
  };
  return { query, runs: () => runs, finishNext: () => finishers.shift()?.() };
}

describe('QueryGate', () => {
  it('runs at most maxConcurrent at once, queues up to maxQueued, refuses the rest with Overloaded', async () => {
    const gate = new QueryGate({ maxConcurrent: 2, maxQueued: 1 });
    const q = controlled();
    const a = gate.run('a', q.query);
    const b = gate.run('b', q.query);
    const c = gate.run('c', q.query);
    await expect(gate.run('d', q.query)).rejects.toBeInstanceOf(Overloaded);
    await Promise.resolve();
    expect(q.runs()).toBe(2); // c waits
    q.finishNext();
    await a;
    await new Promise((resolve) => setImmediate(resolve));
    expect(q.runs()).toBe(3); // c took a's slot
    q.finishNext();
    q.finishNext();
    await Promise.all([b, c]);
    // All slots free again: four more run (2 at once, 1 waiting, the 4th refused).
    const more = ['e', 'f', 'g'].map((key) => gate.run(key, q.query));
    await expect(gate.run('h', q.query)).rejects.toThrow(/STATS_QUERY_CONCURRENCY/);
    for (let i = 0; i < 3; i += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      q.finishNext();
    }
    await Promise.all(more);
  });

  it('shares one run among identical queries in flight, and runs again once it is done', async () => {
    const gate = new QueryGate({ maxConcurrent: 1, maxQueued: 0 });
    const q = controlled();
    const first = gate.run('same', q.query);
    const second = gate.run('same', q.query); // joins: not refused although the gate is full
    await Promise.resolve();
    q.finishNext();
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    expect(q.runs()).toBe(1);
    const third = gate.run('same', q.query);
    await Promise.resolve();
    q.finishNext();
    expect(await third).toBe(2);
  });

  it('frees the slot when a query fails', async () => {
    const gate = new QueryGate({ maxConcurrent: 1, maxQueued: 0 });
    await expect(gate.run('x', () => Promise.reject(new Error('redis away')))).rejects.toThrow('redis away');
    expect(await gate.run('y', () => Promise.resolve(7))).toBe(7);
  });
});
