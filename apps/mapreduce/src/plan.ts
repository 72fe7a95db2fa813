/**
 * How a run is cut into tasks. Both modes (local processes and BullMQ) use
 * these same functions, so they read the same files in the same order and
 * combine and reduce see the same values in the same order: that is what makes
 * a distributed result byte-identical to the local one (floating-point sums
 * depend on the order of additions).
 */
import type { InputFile } from './input-filter.js';

/**
 * Splits files among at most `mappers` tasks by size: largest first, each into
 * the task with the fewest bytes so far (the lowest index on a tie). No task is
 * empty, so fewer files than mappers give fewer tasks.
 */
export function splitBySize(files: readonly InputFile[], mappers: number): InputFile[][] {
  if (!Number.isInteger(mappers) || mappers < 1) throw new RangeError(`mappers must be a positive integer, got ${mappers}`);
  const ordered = [...files].sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const tasks = Array.from({ length: Math.min(mappers, ordered.length) }, () => ({ bytes: 0, files: [] as InputFile[] }));
  for (const file of ordered) {
    let emptiest = tasks[0];
    for (const task of tasks) if (emptiest === undefined || task.bytes < emptiest.bytes) emptiest = task;
    if (emptiest === undefined) break;
    emptiest.files.push(file);
    emptiest.bytes += file.size;
  }
  return tasks.map((task) => task.files);
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * 32-bit FNV-1a over the UTF-16 code units of the encoded key: stable across
 * processes, hosts and Node versions (unlike any object identity or Map order).
 */
export function fnv1a(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** The reducer (0..reducers-1) of an encoded key. */
export function partitionOf(encodedKey: string, reducers: number): number {
  return reducers === 1 ? 0 : fnv1a(encodedKey) % reducers;
}
