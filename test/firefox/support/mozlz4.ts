/**
 * Firefox's `mozlz4` files (`.jsonlz4`: the archived telemetry pings of a
 * profile, session store, …): the magic `mozLz40\0`, the decompressed size
 * as a little-endian uint32, then one LZ4 block (no frame). The block format
 * is small enough to decode here rather than add a dependency:
 * https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md
 */

const MAGIC = Buffer.from('mozLz40\0', 'latin1');
const HEADER_BYTES = MAGIC.length + 4;
/** Archived pings are a few hundred KiB; refuse a header that claims more than this. */
const MAX_DECODED_BYTES = 256 * 1024 * 1024;

/** Decodes one LZ4 block into exactly `size` bytes; throws on any malformed or truncated input. */
export function decodeLz4Block(input: Uint8Array, size: number): Buffer {
  const out = Buffer.alloc(size);
  let i = 0;
  let o = 0;
  const byteAt = (index: number): number => {
    const value = input[index];
    if (value === undefined) throw new Error(`lz4: input ends at byte ${index}`);
    return value;
  };
  /** A length of 15 in the token is continued by bytes until one is not 255. */
  const extendedLength = (base: number): number => {
    let length = base;
    if (base !== 15) return length;
    for (;;) {
      const next = byteAt(i);
      i += 1;
      length += next;
      if (next !== 255) return length;
    }
  };
  while (i < input.length) {
    const token = byteAt(i);
    i += 1;
    const literals = extendedLength(token >> 4);
    if (i + literals > input.length) throw new Error(`lz4: ${literals} literals at byte ${i} run past the input`);
    if (o + literals > size) throw new Error(`lz4: literals run past the declared size ${size}`);
    out.set(input.subarray(i, i + literals), o);
    i += literals;
    o += literals;
    // The last sequence has literals only.
    if (i === input.length) break;
    const offset = byteAt(i) | (byteAt(i + 1) << 8);
    i += 2;
    if (offset === 0 || offset > o) throw new Error(`lz4: match offset ${offset} at output byte ${o}`);
    const matchLength = extendedLength(token & 0x0f) + 4;
    if (o + matchLength > size) throw new Error(`lz4: match runs past the declared size ${size}`);
    // Byte by byte: a match may overlap the bytes it produces (offset < length).
    for (let k = 0; k < matchLength; k += 1) {
      out[o] = out[o - offset] ?? 0;
      o += 1;
    }
  }
  if (o !== size) throw new Error(`lz4: decoded ${o} bytes, the header says ${size}`);
  return out;
}

/** The contents of a mozlz4 file. */
export function decodeMozLz4(file: Uint8Array): Buffer {
  if (file.length < HEADER_BYTES || !MAGIC.equals(file.subarray(0, MAGIC.length))) throw new Error('not a mozlz4 file (no mozLz40 magic)');
  const size = Buffer.from(file.buffer, file.byteOffset, file.byteLength).readUInt32LE(MAGIC.length);
  if (size > MAX_DECODED_BYTES) throw new Error(`mozlz4: declared size ${size} is implausible`);
  return decodeLz4Block(file.subarray(HEADER_BYTES), size);
}
