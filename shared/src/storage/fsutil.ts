/** Small durable-filesystem helpers shared by the writer, compression and recovery. */
import { mkdir, open, lstat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** fsync a directory so a file created or renamed in it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a file by path (used on a compressed temp file before its rename). */
export async function fsyncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * mkdir -p that also fsyncs the parent of every directory it created, so the
 * new directory entries are as durable as the file about to be written there.
 */
export async function mkdirDurable(dirAbs: string): Promise<void> {
  const firstCreated = await mkdir(dirAbs, { recursive: true });
  if (firstCreated === undefined) return;
  const created: string[] = [];
  for (let d = dirAbs; ; d = path.dirname(d)) {
    created.push(d);
    if (d === firstCreated || path.dirname(d) === d) break;
  }
  for (const d of created) await fsyncDir(path.dirname(d));
}

/**
 * Write all of `data` at `position`. A single write(2) may be short (a
 * filesystem nearly full, a file size limit), so loop until done or an error.
 */
export async function writeFully(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, position + offset);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    offset += bytesWritten;
  }
}

export async function pathExists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
