/**
 * The mozlz4 decoder of the real-Firefox suite (test/firefox/support/mozlz4.ts),
 * on hand-made LZ4 blocks: literals, overlapping matches, extended lengths and
 * malformed input. (The suite itself, `npm run test:firefox`, decodes the
 * archived pings of a real profile with it.)
 */
import { describe, expect, it } from 'vitest';
import { decodeLz4Block, decodeMozLz4 } from './support/mozlz4.js';

const bytes = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));

function mozLz4(size: number, block: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.write('mozLz40\0', 0, 'latin1');
  header.writeUInt32LE(size, 8);
  return Buffer.concat([header, block]);
}

describe('mozlz4 (Firefox .jsonlz4 files)', () => {
  it('decodes a block of literals only', () => {
    expect(decodeLz4Block(bytes([0x50], 'hello'), 5).toString()).toBe('hello');
  });

  it('decodes an overlapping match and a final literal run', () => {
    // "abc", then a match of 9 bytes at offset 3 (it reads what it writes), then "x".
    const block = bytes([0x35], 'abc', [3, 0], [0x10], 'x');
    expect(decodeLz4Block(block, 13).toString()).toBe('abcabcabcabcx');
  });

  it('decodes extended literal and match lengths', () => {
    const literals = 'ABCDEFGHIJKLMNOPQRST'; // 20 = 15 + 5
    // match length 4 + 15 + 255 + 1 = 275 at offset 1: 275 copies of "T".
    const block = bytes([0xff, 5], literals, [1, 0], [255, 1], [0x20], 'yz');
    const decoded = decodeLz4Block(block, 20 + 275 + 2).toString();
    expect(decoded).toBe(`${literals}${'T'.repeat(275)}yz`);
  });

  it('reads the mozLz40 header', () => {
    const json = JSON.stringify({ id: 'a', type: 'main' });
    expect(JSON.parse(decodeMozLz4(mozLz4(json.length, bytes([0xf0, json.length - 15], json))).toString())).toEqual({ id: 'a', type: 'main' });
  });

  it('refuses malformed input', () => {
    expect(() => decodeMozLz4(bytes('notmozlz4\0\0\0\0'))).toThrow(/magic/);
    expect(() => decodeLz4Block(bytes([0x35], 'abc', [0, 0], [0x10], 'x'), 13)).toThrow(/offset 0/);
    expect(() => decodeLz4Block(bytes([0x35], 'abc', [9, 0], [0x10], 'x'), 13)).toThrow(/offset 9/);
    expect(() => decodeLz4Block(bytes([0x50], 'hel'), 5)).toThrow(/past the input/);
    expect(() => decodeLz4Block(bytes([0x50], 'hello'), 6)).toThrow(/header says 6/);
    expect(() => decodeLz4Block(bytes([0x50], 'hello'), 4)).toThrow(/declared size/);
  });
});
