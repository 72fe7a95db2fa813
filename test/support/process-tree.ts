/** The process tree of a command a test started (from /proc), for checks and clean-up. */
import { readdirSync } from 'node:fs';
import { readProcStat } from '../../scripts/supervisor/supervisor.js';

/** Every live descendant of `root` (by parent pid; zombies left out). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (!stat || stat.state === 'Z') continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() ?? 0) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}
