import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBody, parsePingJson } from '../src/conversion/decode-body.js';
import { PingError, type PingErrorType } from '../src/errors.js';
import { fixturePath } from '../../test/support/fixtures.js';

const MiB = 1024 * 1024;
const CAP = 10 * MiB;
const TEXT = '{"ver":2,"info":{"appName":"Firefox","title":"Wikipédia ✓ 🦊"}}';
const bytes = (text: string) => new TextEncoder().encode(text);

function refused(run: () => unknown, type: PingErrorType): PingError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PingError);
    expect((error as PingError).type).toBe(type);
    return error as PingError;
  }
  throw new Error(`expected ${type}, nothing was thrown`);
}

describe('decodeBody', () => {
  it('returns plain UTF-8 text as is', () => {
    expect(decodeBody(bytes(TEXT), { maxUncompressedBytes: CAP })).toBe(TEXT);
  });

  it('gunzips when the body starts with the gzip magic bytes, without a header', () => {
    expect(decodeBody(gzipSync(bytes(TEXT)), { maxUncompressedBytes: CAP })).toBe(TEXT);
  });

  it('gunzips when Content-Encoding says gzip (any case)', () => {
    for (const contentEncoding of ['gzip', 'GZIP', ' x-gzip ']) {
      expect(decodeBody(gzipSync(bytes(TEXT)), { contentEncoding, maxUncompressedBytes: CAP })).toBe(TEXT);
    }
  });

  it('trusts the header: a plain body labelled gzip is corrupted_data', () => {
    refused(() => decodeBody(bytes(TEXT), { contentEncoding: 'gzip', maxUncompressedBytes: CAP }), 'corrupted_data');
  });

  it('treats an identity (or unknown) encoding as plain text', () => {
    expect(decodeBody(bytes(TEXT), { contentEncoding: 'identity', maxUncompressedBytes: CAP })).toBe(TEXT);
  });

  it('an empty body is empty_data, and so is a gzip of nothing', () => {
    refused(() => decodeBody(new Uint8Array(0), { maxUncompressedBytes: CAP }), 'empty_data');
    refused(() => decodeBody(gzipSync(new Uint8Array(0)), { maxUncompressedBytes: CAP }), 'empty_data');
  });

  it('stops inflating a gzip bomb at the cap (too_large)', () => {
    const bomb = gzipSync(new Uint8Array(50 * MiB));
    expect(bomb.length).toBeLessThan(100 * 1024); // 50 MiB of zeros packs to ~50 KiB
    const started = performance.now();
    const error = refused(() => decodeBody(bomb, { maxUncompressedBytes: MiB }), 'too_large');
    expect(error.message).toContain(String(MiB));
    // Inflating only the first MiB is far quicker than inflating all 50; generous bound.
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('accepts a gzip body that inflates to exactly the cap, not one byte more', () => {
    const text = `"${'x'.repeat(998)}"`;
    expect(decodeBody(gzipSync(bytes(text)), { maxUncompressedBytes: 1000 })).toBe(text);
    refused(() => decodeBody(gzipSync(bytes(text)), { maxUncompressedBytes: 999 }), 'too_large');
  });

  it('refuses an uncompressed body over the cap (too_large), accepts one at it', () => {
    const body = bytes('1'.repeat(1000));
    expect(decodeBody(body, { maxUncompressedBytes: 1000 })).toHaveLength(1000);
    refused(() => decodeBody(body, { maxUncompressedBytes: 999 }), 'too_large');
  });

  it('a truncated gzip body is corrupted_data', () => {
    const gzipped = gzipSync(bytes(TEXT));
    refused(() => decodeBody(gzipped.subarray(0, gzipped.length - 6), { maxUncompressedBytes: CAP }), 'corrupted_data');
    refused(() => decodeBody(gzipped.subarray(0, 12), { maxUncompressedBytes: CAP }), 'corrupted_data');
  });

  it('gzip magic followed by garbage is corrupted_data', () => {
    refused(() => decodeBody(Uint8Array.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), { maxUncompressedBytes: CAP }), 'corrupted_data');
  });

  it.each([
    ['a stray 0xff byte', [0x7b, 0xff, 0x7d]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a truncated sequence', [0x22, 0xc3]],
  ])('invalid UTF-8 (%s) is corrupted_data, plain or gzipped', (_what, raw) => {
    const body = Uint8Array.from(raw);
    refused(() => decodeBody(body, { maxUncompressedBytes: CAP }), 'corrupted_data');
    refused(() => decodeBody(gzipSync(body), { maxUncompressedBytes: CAP }), 'corrupted_data');
  });

  it('drops a leading UTF-8 byte order mark so the JSON parses', () => {
    const body = Uint8Array.from([0xef, 0xbb, 0xbf, ...bytes(TEXT)]);
    const text = decodeBody(body, { maxUncompressedBytes: CAP });
    expect(text).toBe(TEXT);
    expect(parsePingJson(text)).toEqual(JSON.parse(TEXT));
  });

  it('decodes both copies of the real unicode ping (gzipped and raw) to the same ping', () => {
    const packed = readFileSync(fixturePath('pings', 'unicode.packed'));
    const bodies: Uint8Array[] = [];
    for (let offset = 0; offset < packed.length && packed[offset] === 0x1e; ) {
      const pathLength = packed.readUInt16LE(offset + 1);
      const bodyLength = packed.readUInt32LE(offset + 3);
      const bodyStart = offset + 15 + pathLength;
      bodies.push(packed.subarray(bodyStart, bodyStart + bodyLength));
      offset = bodyStart + bodyLength;
    }
    expect(bodies).toHaveLength(2);
    const [gzipped, raw] = bodies.map((body) => decodeBody(body, { maxUncompressedBytes: CAP }));
    // The gzipped copy carries a trailing newline; the JSON is the same.
    expect(parsePingJson(gzipped as string)).toEqual(parsePingJson(raw as string));
    expect(gzipped).toContain('Wikipédia');
  });
});

describe('parsePingJson', () => {
  it('parses JSON', () => {
    expect(parsePingJson(TEXT)).toEqual({ ver: 2, info: { appName: 'Firefox', title: 'Wikipédia ✓ 🦊' } });
  });

  it.each(['', ' ', '{"ver":1', '{ver:1}', "{'ver':1}", 'NaN', '{"a":1}}', 'undefined'])('%j is bad_json', (text) => {
    refused(() => parsePingJson(text), 'bad_json');
  });
});
