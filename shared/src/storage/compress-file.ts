/**
 * Compress one finished file next to itself, atomically: readers either see the
 * finished `.log` or a complete `.log.gz` (never a half-written one), and a
 * crash at any step leaves something recovery knows how to finish.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createCompressor } from './codecs.js';
import { fsyncDir, fsyncFile } from './fsutil.js';
import { COMPRESSED_EXTENSIONS, TEMP_SUFFIX, type Compression } from './names.js';

/**
 * `<src>` → `<src><ext>.tmp` (streamed, fsynced) → rename to `<src><ext>` →
 * fsync dir → remove `<src>` → fsync dir. Returns the compressed file's path.
 * If the process dies after the rename but before the removal, both exist and
 * recovery removes the `.log` (the compressed copy is complete by then).
 */
export async function compressFileAtomically(src: string, compression: Exclude<Compression, 'none'>): Promise<string> {
  const dst = src + COMPRESSED_EXTENSIONS[compression];
  const tmp = dst + TEMP_SUFFIX;
  try {
    await pipeline(createReadStream(src), createCompressor(compression), createWriteStream(tmp, { mode: 0o644 }));
    await fsyncFile(tmp);
    await rename(tmp, dst);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  await fsyncDir(path.dirname(dst));
  await rm(src);
  await fsyncDir(path.dirname(src));
  return dst;
}
