import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { PingErrorType } from '../src/errors.js';
import {
  ErrorStoreWriter,
  formatErrorLine,
  parseErrorLine,
  readRecordLines,
  sanitizeDocIdForLine,
  utcDateStem,
  type ErrorEntry,
} from '../src/storage/index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'error-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

// 2013-09-10T23:59:59.999Z and one millisecond later, the next UTC day.
const LAST_MS_OF_DAY = Date.UTC(2013, 8, 10, 23, 59, 59, 999);

function entry(over: Partial<ErrorEntry>): ErrorEntry {
  return {
    docId: 'doc-1',
    type: 'bad_json',
    message: 'Unexpected token } in JSON',
    path: '/submit/telemetry/doc-1/saved-session/Firefox/23.0.1/release/20130814063812',
    receivedAtMs: LAST_MS_OF_DAY,
    body: Buffer.from('{"ver": 2,}'),
    ...over,
  };
}

describe('error store lines', () => {
  it('keeps a valid UTF-8 body as text, with an ISO receive time and no bodyEncoding', () => {
    const line = formatErrorLine(entry({ body: Buffer.from('{"t":"Wikipédia\n✓"}') }));
    expect(line.split('\n')).toHaveLength(1);
    const [docId, json] = line.split('\t');
    expect(docId).toBe('doc-1');
    expect(JSON.parse(json ?? '')).toEqual({
      type: 'bad_json',
      message: 'Unexpected token } in JSON',
      path: '/submit/telemetry/doc-1/saved-session/Firefox/23.0.1/release/20130814063812',
      receivedAt: '2013-09-10T23:59:59.999Z',
      body: '{"t":"Wikipédia\n✓"}',
    });
  });

  it('stores a body that is not strict UTF-8 as base64, byte for byte', () => {
    const bodies = [
      gzipSync('{"ver":2}'), // binary
      Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), // invalid 2-byte sequence
      Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate: invalid in UTF-8
      Buffer.from('{"a":1}').subarray(0, 0x1), // valid, for contrast
    ];
    const parsed = bodies.map((body) => parseErrorLine(formatErrorLine(entry({ type: 'corrupted_data', body }))));
    expect(parsed.map((p) => p?.record.bodyEncoding)).toEqual(['base64', 'base64', 'base64', undefined]);
    parsed.forEach((p, i) => expect(p?.body.equals(bodies[i] as Buffer)).toBe(true));
    expect(parsed[0]?.record.body).toBe(bodies[0]?.toString('base64'));
  });

  it('keeps a byte-order mark and an empty body as text', () => {
    const bom = parseErrorLine(formatErrorLine(entry({ body: Buffer.from('\ufeff{}') })));
    expect(bom?.record.bodyEncoding).toBeUndefined();
    expect(bom?.body.equals(Buffer.from('\ufeff{}'))).toBe(true);
    expect(parseErrorLine(formatErrorLine(entry({ type: 'empty_data', body: new Uint8Array(0) })))?.record.body).toBe('');
  });

  it('makes a docId safe for the line format', () => {
    expect(sanitizeDocIdForLine('a\tb\nc\rd\u0000e\u007f')).toBe('a_b_c_d_e_');
    expect(sanitizeDocIdForLine('')).toBe('_');
    const line = formatErrorLine(entry({ docId: 'evil\t{"type":"x"}\nnext' }));
    expect(line.split('\n')).toHaveLength(1);
    expect(line.split('\t')[0]).toBe('evil_{"type":"x"}_next');
  });

  it('files under the UTC date of the receive time', () => {
    expect(utcDateStem(LAST_MS_OF_DAY)).toBe('20130910');
    expect(utcDateStem(LAST_MS_OF_DAY + 1)).toBe('20130911');
    expect(() => utcDateStem(Number.NaN)).toThrow(RangeError);
  });
});

describe('ErrorStoreWriter', () => {
  it('writes ERRORS_DIR/<type>/<YYYYMMDD>.<writerId>.log and compresses on close', async () => {
    const store = new ErrorStoreWriter({
      rootDir: root,
      writerId: 'w7',
      maxFileBytes: 1 << 20,
      maxFileAgeMs: 60_000,
      compression: 'gzip',
      clock: new ManualClock(0),
    });
    const types: PingErrorType[] = ['bad_json', 'corrupted_data', 'bad_json'];
    await store.appendBatch([
      entry({ docId: 'd1', type: types[0] }),
      entry({ docId: 'd2', type: types[1], body: gzipSync('x') }),
      entry({ docId: 'd3', type: types[2], receivedAtMs: LAST_MS_OF_DAY + 1 }),
    ]);
    expect(await readFile(path.join(root, 'bad_json/20130910.w7.log'), 'utf8')).toMatch(/^d1\t\{.*\}\n$/);
    expect(await readFile(path.join(root, 'bad_json/20130911.w7.log'), 'utf8')).toMatch(/^d3\t/);
    await expect(store.appendBatch([entry({ type: 'nope' as PingErrorType })])).rejects.toThrow(/unknown error type/);
    await store.close();
    const names = (await readdir(root, { recursive: true })).filter((n) => n.endsWith('.gz')).sort();
    expect(names).toEqual([
      'bad_json/20130910.w7.0000000000000.log.gz',
      'bad_json/20130911.w7.0000000000000.log.gz',
      'corrupted_data/20130910.w7.0000000000000.log.gz',
    ]);
    const lines: string[] = [];
    for await (const line of readRecordLines(path.join(root, 'corrupted_data/20130910.w7.0000000000000.log.gz'))) lines.push(line);
    expect(lines.map((l) => parseErrorLine(l)?.record.bodyEncoding)).toEqual(['base64']);
    expect(store.counters.linesWritten).toBe(3);
  });
});
