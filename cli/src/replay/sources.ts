/**
 * The records `telemetry replay` sends, read from each input file in the
 * format its content shows:
 * - a 2013 packed log (first byte 0x1e, either variant): path and body exactly
 *   as the 2013 server received them;
 * - otherwise `<docId>\t<json>` lines, plain or compressed: the path is the
 *   docId and the body the JSON text.
 * Everything streams: a file is never held whole in memory.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { readPackedFile, RECORD_SEPARATOR, type PackedReadCounters } from '@telemetry/shared/packed/index';
import { codecForFile, createDecompressor, type Codec } from '@telemetry/shared/storage/codecs';
import { parseRecordLine, readRecordLines } from '@telemetry/shared/storage/reader';

export interface ReplayRecord {
  /** The URL path after `/submit/telemetry/`, as it goes on the wire. */
  readonly path: string;
  readonly body: Buffer;
  /** For messages about the record. */
  readonly docId: string;
  readonly file: string;
}

/** What the readers skipped; reported so that nothing is dropped silently. */
export interface SourceCounters {
  /** Non-empty lines that are not `<docId>\t<json>`: never sent, make the exit code 1. */
  invalidLines: number;
  /** Lines cut short by a crash (no final newline in a storage file, truncated compression). */
  tornLines: number;
  /** Bytes after the last valid record of a packed log (garbage or a truncated record). */
  trailingBytes: number;
}

export function emptyCounters(): SourceCounters {
  return { invalidLines: 0, tornLines: 0, trailingBytes: 0 };
}

/** An input file that could not be read (I/O error, corrupt compressed data). */
export class ReplayInputError extends Error {
  override readonly name = 'ReplayInputError';
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export type FileFormat = 'packed' | 'lines';

/** The first bytes of a file: enough for the packed marker and every compression magic. */
async function head(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(6);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Compression told by magic bytes, for line files whose name does not say it. */
function sniffCodec(bytes: Buffer): Codec {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip';
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (bytes.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

async function detectFormat(file: string): Promise<FileFormat> {
  return (await head(file))[0] === RECORD_SEPARATOR ? 'packed' : 'lines';
}

/** Lines of a file whose extension is not a storage one: compression by magic bytes, last line kept even without '\n'. */
async function* linesByContent(file: string): AsyncGenerator<string> {
  const bytes = await head(file);
  const codec = sniffCodec(bytes);
  const input = createReadStream(file);
  // pipeline destroys both streams on an error, which then surfaces in the loop below.
  const chunks = codec === 'none' ? input : pipeline(input, createDecompressor(codec), () => undefined);
  // The decoder keeps a UTF-8 character split across two chunks whole.
  const decoder = new StringDecoder('utf8');
  let partial = '';
  for await (const chunk of chunks as AsyncIterable<Buffer>) {
    const text = partial + decoder.write(chunk);
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    yield* lines;
  }
  partial += decoder.end();
  if (partial !== '') yield partial;
}

async function* lineRecords(file: string, counters: SourceCounters): AsyncGenerator<ReplayRecord> {
  // Storage files (.log, .log.gz, ...) are read exactly as the project's readers
  // do, torn-line rules included; other names (e.g. a hand-made .tsv) by content.
  const lines = codecForFile(file) === undefined ? linesByContent(file) : readRecordLines(file, counters);
  for await (const rawLine of lines) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') continue;
    const record = parseRecordLine(line);
    if (record === undefined) {
      counters.invalidLines += 1;
      continue;
    }
    // Encoded so that a docId holding '/', '?' or '#' stays one path component:
    // the gateway then refuses it (400) instead of receiving another URL.
    yield { path: encodeURIComponent(record.docId), body: Buffer.from(record.json, 'utf8'), docId: record.docId, file };
  }
}

async function* packedRecords(file: string, counters: SourceCounters): AsyncGenerator<ReplayRecord> {
  const packed: PackedReadCounters = { records: 0, trailingBytes: 0 };
  try {
    for await (const record of readPackedFile(file, { counters: packed })) {
      yield { path: record.path, body: record.body, docId: record.path.split('/')[0] ?? '', file };
    }
  } finally {
    counters.trailingBytes += packed.trailingBytes;
  }
}

/** Every record of every file, in order; a file that cannot be read ends it with a ReplayInputError. */
export async function* readRecords(files: readonly string[], counters: SourceCounters): AsyncGenerator<ReplayRecord> {
  for (const file of files) {
    try {
      const format = await detectFormat(file);
      yield* format === 'packed' ? packedRecords(file, counters) : lineRecords(file, counters);
    } catch (error) {
      throw new ReplayInputError(file, error);
    }
  }
}

/**
 * Counts the records first (a fast local pass) so that the progress bar has a
 * total. An unreadable file ends the count there: sending stops at the same place.
 */
export async function countRecords(files: readonly string[]): Promise<number> {
  let count = 0;
  try {
    for await (const _record of readRecords(files, emptyCounters())) count += 1;
  } catch (error) {
    if (!(error instanceof ReplayInputError)) throw error;
  }
  return count;
}
