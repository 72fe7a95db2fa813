/**
 * Reading stored record files (`.log`, `.log.gz`, `.log.zst`, `.log.xz`,
 * `.log.lzma`), streaming: never a whole file in memory.
 *
 * Torn data: a line without its final newline (the writer crashed mid-write) is
 * skipped and counted in `tornLines`. A compressed file cut short is read up to
 * where it decodes and counted as exactly one torn line (the lost remainder
 * starts at a line the reader cannot complete, whether or not a partial line
 * was decoded); it does not throw. Corrupt compressed data (bad checksum, not
 * the format its extension says) does throw: that is damage, not a crash tail.
 */
import { Readable } from 'node:stream';
import { codecOrThrow, decodedChunks, type DecodeHooks } from './decode.js';

export interface ReadCounters {
  tornLines: number;
  /** Bytes read from disk (compressed size), for progress against file sizes. */
  bytesRead?: number;
}

/**
 * The decompressed content of a stored file, codec chosen by extension. A
 * truncated compressed file ends the stream cleanly (see `hooks.onTruncated`).
 * Throws at once for an unsupported extension.
 */
export function openDecompressedStream(file: string, hooks: DecodeHooks = {}): Readable {
  codecOrThrow(file);
  return Readable.from(decodedChunks(file, hooks), { objectMode: false });
}

const NEWLINE = 0x0a;

/** The complete lines of a stored file, without their '\n'. */
export async function* readRecordLines(file: string, counters?: ReadCounters): AsyncGenerator<string> {
  let truncated = false;
  const hooks: DecodeHooks = {
    onTruncated: () => (truncated = true),
    onBytesRead: (bytes) => {
      if (counters) counters.bytesRead = (counters.bytesRead ?? 0) + bytes;
    },
  };
  // Pieces of the line being assembled across chunks.
  let partial: Buffer[] = [];
  for await (const chunk of decodedChunks(file, hooks)) {
    let start = 0;
    let newline: number;
    while ((newline = chunk.indexOf(NEWLINE, start)) !== -1) {
      const piece = chunk.subarray(start, newline);
      const line = partial.length === 0 ? piece : Buffer.concat([...partial, piece]);
      partial = [];
      start = newline + 1;
      yield line.toString('utf8');
    }
    // Copy: the chunk's buffer may be reused by the decoder after we yield.
    if (start < chunk.length) partial.push(Buffer.from(chunk.subarray(start)));
  }
  if (counters && (truncated || partial.length > 0)) counters.tornLines += 1;
}

/** Split `<docId>\t<json>`; undefined for a line that is not a record. */
export function parseRecordLine(line: string): { docId: string; json: string } | undefined {
  const tab = line.indexOf('\t');
  if (tab <= 0 || tab === line.length - 1) return undefined;
  return { docId: line.slice(0, tab), json: line.slice(tab + 1) };
}
