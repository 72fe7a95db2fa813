/**
 * Readers of 2013 packed logs. Both stop at the first byte that does not start
 * a complete, valid record (trailing garbage such as the stray newline at the
 * end of fixtures/pings/telemetry1.packed, or a record cut short) and report
 * how many bytes were left unread instead of throwing: a damaged tail must not
 * stop an import of everything before it.
 */
import { open } from 'node:fs/promises';
import { DEFAULT_LIMITS, parseRecordAt, type PackedRecord, type PackedVariant, type ParseLimits } from './format.js';

export interface PackedParseOptions {
  variant?: PackedVariant | 'auto';
  limits?: ParseLimits;
}

export function parsePackedBuffer(
  buf: Buffer,
  options: PackedParseOptions = {},
): { records: PackedRecord[]; trailingBytes: number } {
  const variant = options.variant ?? 'auto';
  const records: PackedRecord[] = [];
  let offset = 0;
  let preferred: PackedVariant = 'plain';
  while (offset < buf.length) {
    const step = parseRecordAt(buf, offset, variant, { preferred, atEof: true, limits: options.limits });
    if (step.kind !== 'record') break;
    records.push(step.record);
    preferred = step.variant;
    offset = step.end;
  }
  return { records, trailingBytes: buf.length - offset };
}

export interface PackedReadCounters {
  records: number;
  /** Bytes after the last valid record (garbage or a truncated record). */
  trailingBytes: number;
}

const READ_CHUNK = 256 * 1024;

/**
 * Stream the records of a packed file: memory holds one record plus a read
 * chunk. Each yielded body is its own copy (not a view of the read buffer).
 */
export async function* readPackedFile(
  file: string,
  options: PackedParseOptions & { counters?: PackedReadCounters } = {},
): AsyncGenerator<PackedRecord> {
  const variant = options.variant ?? 'auto';
  const limits = options.limits ?? DEFAULT_LIMITS;
  const counters = options.counters;
  const handle = await open(file, 'r');
  try {
    let buf = Buffer.alloc(0);
    let offset = 0;
    let bufStart = 0; // file position of buf[0]
    let eof = false;
    let preferred: PackedVariant = 'plain';
    const fill = async (needed: number): Promise<void> => {
      // Keep only the unread part, then read at least what the record needs.
      const rest = buf.subarray(offset);
      const target = Math.max(needed, rest.length + READ_CHUNK);
      const next = Buffer.allocUnsafe(target);
      rest.copy(next);
      let length = rest.length;
      while (length < target) {
        const { bytesRead } = await handle.read(next, length, target - length, null);
        if (bytesRead === 0) {
          eof = true;
          break;
        }
        length += bytesRead;
      }
      bufStart += offset;
      buf = next.subarray(0, length);
      offset = 0;
    };
    await fill(0);
    while (offset < buf.length) {
      const step = parseRecordAt(buf, offset, variant, { preferred, atEof: eof, limits });
      if (step.kind === 'need-more' && !eof) {
        await fill(step.needed);
        continue;
      }
      if (step.kind !== 'record') break;
      preferred = step.variant;
      offset = step.end;
      if (counters) counters.records += 1;
      yield { ...step.record, body: Buffer.from(step.record.body) };
      if (offset === buf.length && !eof) await fill(0);
    }
    // Stopping early leaves unread file bytes beyond the buffer too.
    if (counters) counters.trailingBytes += (await handle.stat()).size - (bufStart + offset);
  } finally {
    await handle.close();
  }
}
