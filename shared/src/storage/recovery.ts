/**
 * Find what a previous run of one writerId left behind in a storage tree.
 * Only regular files are considered (a symlink is never followed or renamed),
 * and only names of this writer: another writer's files are never touched.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from './fsutil.js';
import { ALL_COMPRESSED_EXTENSIONS, classifyOwnedFile, type OwnedFile } from './names.js';

export interface Leftovers {
  /** Active `.log` files of a crashed run: to be finished, never appended to. */
  active: string[];
  /** Finished `.<seq>.log` files whose compression did not complete. */
  finished: string[];
  /** Finished files whose compressed copy already exists (crash between rename and remove). */
  alreadyCompressed: string[];
  /** Partial compression outputs. */
  temp: string[];
}

export async function findLeftovers(rootAbs: string, writerId: string): Promise<Leftovers> {
  const result: Leftovers = { active: [], finished: [], alreadyCompressed: [], temp: [] };
  await walk(rootAbs, writerId, result);
  return result;
}

async function walk(dir: string, writerId: string, out: Leftovers): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    // A root not created yet (first start) or a directory removed meanwhile.
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  const owned = new Map<string, OwnedFile>();
  for (const entry of entries) {
    if (entry.isDirectory()) {
      await walk(path.join(dir, entry.name), writerId, out);
    } else if (entry.isFile()) {
      const kind = classifyOwnedFile(entry.name, writerId);
      if (kind) owned.set(entry.name, kind);
    }
  }
  for (const [name, kind] of owned) {
    const full = path.join(dir, name);
    switch (kind.kind) {
      case 'active':
        out.active.push(full);
        break;
      case 'temp':
        out.temp.push(full);
        break;
      case 'finished': {
        const done = ALL_COMPRESSED_EXTENSIONS.some((ext) => owned.get(name + ext)?.kind === 'compressed');
        (done ? out.alreadyCompressed : out.finished).push(full);
        break;
      }
      case 'compressed':
        break;
    }
  }
}
