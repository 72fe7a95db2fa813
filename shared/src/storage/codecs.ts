/**
 * The codecs of stored files, chosen by extension for reading and by the
 * writer's `compression` setting for writing. All are streams: no file is ever
 * held whole in memory.
 */
import zlib from 'node:zlib';
import type { Duplex, TransformCallback } from 'node:stream';
import { DecompressStream } from 'zstd-napi';
import { TruncatedInputError, xzStream } from './xz.js';
import type { Compression } from './names.js';

export type Codec = 'none' | 'gzip' | 'zstd' | 'xz';

/** zstd's own streaming buffer size (ZSTD_CStreamOutSize); node:zlib's default is 16 KiB. */
const ZSTD_STREAM_CHUNK = 128 * 1024;

/** Codec of a stored file by its extension; undefined when it is not a storage file. */
export function codecForFile(file: string): Codec | undefined {
  if (file.endsWith('.log')) return 'none';
  if (file.endsWith('.gz')) return 'gzip';
  if (file.endsWith('.zst')) return 'zstd';
  if (file.endsWith('.xz') || file.endsWith('.lzma')) return 'xz';
  return undefined;
}

export function createCompressor(compression: Exclude<Compression, 'none'>): Duplex {
  switch (compression) {
    case 'gzip':
      return zlib.createGzip({ level: 6 });
    case 'zstd':
      // node:zlib's zstd (Node 24): the same library and format as zstd-napi's
      // CompressStream at these settings, 1.4x faster streaming (bench/zstd.ts,
      // bench/RESULTS.md).
      // The checksum lets a reader tell corrupted data from good data.
      return zlib.createZstdCompress({
        chunkSize: ZSTD_STREAM_CHUNK,
        params: { [zlib.constants.ZSTD_c_compressionLevel]: 6, [zlib.constants.ZSTD_c_checksumFlag]: 1 },
      });
    case 'xz':
      // -T1: one thread, so compressing never competes with the workers for cores.
      return xzStream(['-c', '-T1', '-6']);
  }
}

/**
 * Reading stays with zstd-napi (about as fast as node:zlib on stored files):
 * it reads a file of concatenated frames whole, as the zstd format and CLI do
 * (`cat a.zst b.zst`, pzstd), where node:zlib's decoder (Node 24.21) silently
 * drops everything after a frame that ends inside an input chunk
 * (nodejs/node#64741).
 *
 * zstd-napi reports a cut-short frame as a plain Error from `_flush`; this
 * subclass turns exactly that case into a TruncatedInputError so readers need
 * no message matching.
 */
class ZstdDecompressStream extends DecompressStream {
  override _flush(done: TransformCallback): void {
    super._flush((error) => {
      if (error && /ended in middle of compressed data frame/.test(error.message)) {
        done(new TruncatedInputError(`zstd: ${error.message}`));
      } else {
        done(error);
      }
    });
  }
}

export function createDecompressor(codec: Exclude<Codec, 'none'>): Duplex {
  switch (codec) {
    case 'gzip':
      return zlib.createGunzip();
    case 'zstd':
      return new ZstdDecompressStream();
    case 'xz':
      // --format=auto reads both .xz and the legacy .lzma "alone" format.
      return xzStream(['-dc', '--format=auto']);
  }
}

/** A decompressor error that means "input ended early" rather than "input is corrupt". */
export function isTruncationError(error: unknown): boolean {
  if (error instanceof TruncatedInputError) return true;
  // zlib signals a gzip stream cut short as Z_BUF_ERROR ("unexpected end of file").
  return (error as NodeJS.ErrnoException | undefined)?.code === 'Z_BUF_ERROR';
}
