/**
 * The file-level steps of the writer: append a chunk durably at a known offset,
 * undo it, and finish (rename) a file. Kept apart from the writer's bookkeeping
 * so each step's crash behaviour can be read on its own.
 */
import { constants } from 'node:fs';
import { lstat, open, rename, rm, stat, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errorCode, fsyncDir, mkdirDurable, pathExists, writeFully } from './fsutil.js';
import { ALL_COMPRESSED_EXTENSIONS, finishedName, type StorageTarget } from './names.js';

/** One file this writer is appending to. `size` is the last size known to end on a full line. */
export interface ActiveFile {
  target: StorageTarget;
  size: number;
  openedAtMs: number;
}

export interface WriteOutcome {
  file: ActiveFile;
  /** Offset the chunk was written at: where to truncate back to on rollback. */
  start: number;
  end: number;
  /** The file was created by this write: its directory needs an fsync. */
  created: boolean;
}

/** Another file already has the name this writer wanted to create. */
export class ActivePathTakenError extends Error {
  override readonly name = 'ActivePathTakenError';
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

async function openForWrite(file: ActiveFile, known: boolean): Promise<{ handle: FileHandle; created: boolean }> {
  const { activePath, dirAbs } = file.target;
  if (known) {
    try {
      // No O_APPEND: writes go at an explicit offset, which is what lets a
      // failed write's partial tail be overwritten and cut off.
      return { handle: await open(activePath, constants.O_WRONLY), created: false };
    } catch (error) {
      // Removed behind our back: start it again rather than fail forever.
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }
  await mkdirDurable(dirAbs);
  try {
    // O_EXCL: a file this writer did not create is never appended to.
    return { handle: await open(activePath, CREATE_FLAGS, 0o644), created: true };
  } catch (error) {
    if (errorCode(error) === 'EEXIST') throw new ActivePathTakenError(`${activePath} already exists`);
    throw error;
  }
}

/**
 * Write `data` durably at the file's last good size. Anything past that size
 * (the partial line of an earlier failed write) is cut first, so every write
 * starts on a fresh line; on failure the file is cut back again (best effort).
 */
export async function writeChunk(file: ActiveFile, data: Buffer, known: boolean): Promise<WriteOutcome> {
  const { handle, created } = await openForWrite(file, known);
  try {
    const actual = (await handle.stat()).size;
    if (actual > file.size) await handle.truncate(file.size);
    // Smaller only if someone cut the file: continue at its real end, no hole.
    const start = Math.min(actual, file.size);
    try {
      await writeFully(handle, data, start);
      await handle.sync();
    } catch (error) {
      await handle.truncate(start).catch(() => undefined);
      throw error;
    }
    return { file, start, end: start + data.length, created };
  } finally {
    await handle.close();
  }
}

/** Undo a write that succeeded in a batch that failed elsewhere. */
export async function rollbackChunk(outcome: WriteOutcome): Promise<void> {
  const handle = await open(outcome.file.target.activePath, constants.O_WRONLY);
  try {
    await handle.truncate(outcome.start);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function nameTaken(dirAbs: string, name: string): Promise<boolean> {
  for (const candidate of [name, ...ALL_COMPRESSED_EXTENSIONS.map((ext) => name + ext)]) {
    if (await pathExists(path.join(dirAbs, candidate))) return true;
  }
  return false;
}

/**
 * Finish an active file: rename it to `<base>.<seq>.log` with the first free
 * seq from `seqFrom`, and fsync the directory. With `knownSize`, a failed
 * write's tail is cut first so the finished file ends on a full line. An empty
 * file is removed instead (nothing to keep). Returns the finished path.
 */
export async function finishFile(target: StorageTarget, seqFrom: number, knownSize?: number): Promise<string | undefined> {
  const { activePath, dirAbs, base } = target;
  const size = (await stat(activePath)).size;
  if (knownSize !== undefined && size > knownSize) await truncate(activePath, knownSize);
  if ((knownSize === undefined ? size : Math.min(size, knownSize)) === 0) {
    await rm(activePath, { force: true });
    await fsyncDir(dirAbs);
    return undefined;
  }
  let seq = seqFrom;
  while (await nameTaken(dirAbs, finishedName(base, seq))) seq += 1;
  const finished = path.join(dirAbs, finishedName(base, seq));
  await rename(activePath, finished);
  await fsyncDir(dirAbs);
  return finished;
}

/**
 * A regular file found at an active name that this run did not create (a
 * crashed run's file): its target and a seq hint (its last modification time).
 * Undefined for anything but a regular file, which is never renamed.
 */
export async function describeLeftover(activePath: string): Promise<{ target: StorageTarget; seqFrom: number } | undefined> {
  const info = await lstat(activePath);
  if (!info.isFile()) return undefined;
  const base = path.basename(activePath).replace(/\.log$/, '');
  return { target: { dirAbs: path.dirname(activePath), base, activePath }, seqFrom: Math.floor(info.mtimeMs) };
}
