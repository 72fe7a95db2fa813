/**
 * Stream the decompressed bytes of a stored file, pulling input only as fast
 * as the consumer takes output (bounded memory), and tolerating a compressed
 * file that was cut short.
 *
 * Why not `pipeline(file, decoder)` and iterate it: on a truncated input the
 * decoder errors after pushing its last output, and a stream destroyed with an
 * error drops whatever output was still buffered. Here the decoder is never
 * paused (its output goes straight to a small queue) and backpressure is
 * applied on the input side instead, so every decodable byte is delivered
 * before the truncation is reported.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { codecForFile, createDecompressor, isTruncationError, type Codec } from './codecs.js';

export interface DecodeHooks {
  /** Called with the number of bytes read from the file on disk (compressed size). */
  onBytesRead?: (bytes: number) => void;
  /** Called once when a compressed input ends before its end marker. */
  onTruncated?: () => void;
}

const READ_CHUNK = 64 * 1024;

export function codecOrThrow(file: string): Codec {
  const codec = codecForFile(file);
  if (codec === undefined) {
    throw new Error(`unsupported storage file extension: ${file} (expected .log, .gz, .zst, .xz or .lzma)`);
  }
  return codec;
}

/** Decompressed content of `file` as Buffer chunks. */
export async function* decodedChunks(file: string, hooks: DecodeHooks = {}): AsyncGenerator<Buffer> {
  const codec = codecOrThrow(file);
  const handle = await open(file, 'r');
  const decoder = codec === 'none' ? undefined : createDecompressor(codec);
  try {
    if (decoder === undefined) {
      for (;;) {
        const buffer = Buffer.allocUnsafe(READ_CHUNK);
        const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null);
        if (bytesRead === 0) return;
        hooks.onBytesRead?.(bytesRead);
        yield buffer.subarray(0, bytesRead);
      }
    }
    yield* pump(handle, decoder, hooks);
  } finally {
    decoder?.destroy();
    await handle.close();
  }
}

async function* pump(
  handle: FileHandle,
  decoder: Duplex,
  hooks: DecodeHooks,
): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let failure: unknown;
  let failed = false;
  let ended = false;
  let writing = false;
  let inputDone = false;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  decoder.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    signal();
  });
  decoder.on('error', (error: unknown) => {
    failed = true;
    failure = error;
    signal();
  });
  decoder.on('end', () => {
    ended = true;
    signal();
  });

  for (;;) {
    let chunk: Buffer | undefined;
    while ((chunk = queue.shift()) !== undefined) yield chunk;
    if (failed) {
      if (!isTruncationError(failure)) throw failure;
      hooks.onTruncated?.();
      return;
    }
    if (ended) return;
    if (!inputDone && !writing) {
      const buffer = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null);
      if (bytesRead === 0) {
        inputDone = true;
        decoder.end();
      } else {
        hooks.onBytesRead?.(bytesRead);
        writing = true;
        // Next input only once this chunk is consumed: memory stays bounded.
        decoder.write(buffer.subarray(0, bytesRead), () => {
          writing = false;
          signal();
        });
      }
      continue;
    }
    await new Promise<void>((resolve) => (wake = resolve));
  }
}
