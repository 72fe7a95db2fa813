/**
 * The 2013 packed log format (fixtures/README.md). Each record:
 *
 *   plain:   0x1e | u16 pathLen | u32 bodyLen | u64 receivedAtMs | path | body
 *   with-ip: 0x1e | u8 ipLen | u16 pathLen | u32 bodyLen | u64 receivedAtMs | ip | path | body
 *
 * all little-endian. 'auto' decides per record by plausibility: a header read
 * with the wrong layout is shifted by one byte, which puts the timestamp
 * hundreds of years off (or before 1970's first weeks), so a sane timestamp
 * plus a printable path and IP tell the variants apart reliably.
 */

export type PackedVariant = 'plain' | 'with-ip';

export interface PackedRecord {
  /** The URL part after `/submit/telemetry/`. */
  path: string;
  /** The body as received (often gzip). */
  body: Buffer;
  receivedAtMs: number;
  clientIp?: string;
}

export interface ParseLimits {
  /** Records claiming a bigger body are treated as garbage (default 64 MiB). */
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: ParseLimits = { maxBodyBytes: 64 * 1024 * 1024 };

export const RECORD_SEPARATOR = 0x1e;
const HEADER_BYTES: Record<PackedVariant, number> = { plain: 15, 'with-ip': 16 };
// Plausible receive times: 2000-01-01 to 2100-01-01 UTC.
const MIN_PLAUSIBLE_MS = 946_684_800_000;
const MAX_PLAUSIBLE_MS = 4_102_444_800_000;
const MAX_PLAUSIBLE_IP = 64;

export type ParseStep =
  | { kind: 'record'; record: PackedRecord; end: number; variant: PackedVariant }
  /** The buffer ends inside what looks like a record: `needed` bytes from the offset would settle it. */
  | { kind: 'need-more'; needed: number }
  | { kind: 'invalid' };

function printableBytes(bytes: Buffer, allowEmpty: boolean): boolean {
  if (bytes.length === 0) return allowEmpty;
  for (const b of bytes) if (b < 0x20 || b === 0x7f) return false;
  return true;
}

function ipBytes(bytes: Buffer): boolean {
  // Digits, hex letters, ':' '.' and an IPv6 zone ('%eth0'): no spaces or controls.
  for (const b of bytes) if (!(b > 0x20 && b < 0x7f)) return false;
  return true;
}

/** Try one layout at `offset`; `plausible` adds the checks 'auto' relies on. */
function tryVariant(buf: Buffer, offset: number, variant: PackedVariant, plausible: boolean, limits: ParseLimits): ParseStep {
  const header = HEADER_BYTES[variant];
  if (buf.length - offset < 1) return { kind: 'need-more', needed: header };
  if (buf[offset] !== RECORD_SEPARATOR) return { kind: 'invalid' };
  if (buf.length - offset < header) return { kind: 'need-more', needed: header };
  let p = offset + 1;
  const ipLen = variant === 'with-ip' ? buf.readUInt8(p++) : 0;
  const pathLen = buf.readUInt16LE(p);
  const bodyLen = buf.readUInt32LE(p + 2);
  const receivedAt = buf.readBigUInt64LE(p + 6);
  if (receivedAt > BigInt(Number.MAX_SAFE_INTEGER) || bodyLen > limits.maxBodyBytes) return { kind: 'invalid' };
  const receivedAtMs = Number(receivedAt);
  if (plausible) {
    if (receivedAtMs < MIN_PLAUSIBLE_MS || receivedAtMs > MAX_PLAUSIBLE_MS) return { kind: 'invalid' };
    if (pathLen === 0 || ipLen > MAX_PLAUSIBLE_IP) return { kind: 'invalid' };
  }
  const textEnd = offset + header + ipLen + pathLen;
  if (buf.length < textEnd) return { kind: 'need-more', needed: textEnd - offset };
  const ip = buf.subarray(offset + header, offset + header + ipLen);
  const pathBytes = buf.subarray(offset + header + ipLen, textEnd);
  if (plausible && (!ipBytes(ip) || !printableBytes(pathBytes, false))) return { kind: 'invalid' };
  const end = textEnd + bodyLen;
  if (buf.length < end) return { kind: 'need-more', needed: end - offset };
  const record: PackedRecord = { path: pathBytes.toString('utf8'), body: buf.subarray(textEnd, end), receivedAtMs };
  if (ipLen > 0) record.clientIp = ip.toString('latin1');
  return { kind: 'record', record, end, variant };
}

/**
 * Parse the record at `offset`. With 'auto', both layouts are tried; if both
 * are plausible, `preferred` (the previous record's layout) wins, since a file
 * is written in one layout throughout. `atEof`: no more bytes will come, so a
 * layout that needs more is ruled out rather than waited for.
 */
export function parseRecordAt(
  buf: Buffer,
  offset: number,
  variant: PackedVariant | 'auto',
  options: { preferred?: PackedVariant; atEof?: boolean; limits?: ParseLimits } = {},
): ParseStep {
  const limits = options.limits ?? DEFAULT_LIMITS;
  if (variant !== 'auto') return tryVariant(buf, offset, variant, false, limits);
  const preferred = options.preferred ?? 'plain';
  const other: PackedVariant = preferred === 'plain' ? 'with-ip' : 'plain';
  const first = tryVariant(buf, offset, preferred, true, limits);
  if (first.kind === 'record') return first;
  const second = tryVariant(buf, offset, other, true, limits);
  const firstOpen = first.kind === 'need-more' && options.atEof !== true;
  if (second.kind === 'record' && !firstOpen) return second;
  const needs = [first, second].flatMap((s) => (s.kind === 'need-more' ? [s.needed] : []));
  // Some layout is still possible but incomplete: ask for what both need.
  return needs.length > 0 ? { kind: 'need-more', needed: Math.max(...needs) } : { kind: 'invalid' };
}

/** Encode one record (for tests and tools). `with-ip` without a clientIp writes an empty IP. */
export function writePackedRecord(rec: PackedRecord, variant: PackedVariant = 'plain'): Buffer {
  const path = Buffer.from(rec.path, 'utf8');
  const ip = Buffer.from(variant === 'with-ip' ? (rec.clientIp ?? '') : '', 'latin1');
  if (path.length > 0xffff) throw new RangeError('packed record path longer than 65535 bytes');
  if (ip.length > 0xff) throw new RangeError('packed record IP longer than 255 bytes');
  if (rec.body.length > 0xffffffff) throw new RangeError('packed record body larger than 4 GiB');
  if (!Number.isSafeInteger(rec.receivedAtMs) || rec.receivedAtMs < 0) {
    throw new RangeError('packed record receivedAtMs must be a non-negative integer');
  }
  const header = Buffer.alloc(HEADER_BYTES[variant]);
  let p = 0;
  header.writeUInt8(RECORD_SEPARATOR, p++);
  if (variant === 'with-ip') header.writeUInt8(ip.length, p++);
  header.writeUInt16LE(path.length, p);
  header.writeUInt32LE(rec.body.length, p + 2);
  header.writeBigUInt64LE(BigInt(rec.receivedAtMs), p + 6);
  return Buffer.concat([header, ip, path, rec.body]);
}
