import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { Compressor, compress as zstdCompress } from 'zstd-napi';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  XzUnavailableError,
  openDecompressedStream,
  parseRecordLine,
  readRecordLines,
  type ReadCounters,
} from '../src/storage/index.js';
import { fixturePath } from '../../test/support/fixtures.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'storage-reader-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(file: string, counters?: ReadCounters): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readRecordLines(file, counters)) lines.push(line);
  return lines;
}

const STORAGE = 'storage/saved_session/Firefox/nightly';

describe('the real 2013 archives (.lzma)', () => {
  it.each([
    ['28.0a1/20131029030201.20131029.v2.log.lzma', 4],
    ['22.0a1/20130226031002.20131011.v2.log.lzma', 1],
  ])('reads %s: %i records of version 2 pings', async (name, count) => {
    const file = fixturePath(STORAGE, name);
    const counters: ReadCounters = { tornLines: 0, bytesRead: 0 };
    const records = (await collect(file, counters)).map(parseRecordLine);
    expect(records).toHaveLength(count);
    for (const record of records) {
      expect(record?.docId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const ping = JSON.parse(record?.json ?? '') as { ver: number; info: { appName: string } };
      expect(ping.ver).toBe(2);
      expect(ping.info.appName).toBe('Firefox');
    }
    expect(counters.tornLines).toBe(0);
    expect(counters.bytesRead).toBe((await stat(file)).size);
  });
});

// Random hex compresses poorly, so half of a compressed file is well inside the
// data; ~560 KB spans several zstd blocks (a block decodes only when complete).
const LINES = Array.from({ length: 4000 }, (_, i) => `doc-${i}\t{"v":"${randomBytes(60).toString('hex')}"}`);
const TEXT = Buffer.from(LINES.join('\n') + '\n');

function zstdWithChecksum(data: Buffer): Buffer {
  // As the writer does: without the checksum zstd cannot notice corrupted literals.
  const compressor = new Compressor();
  compressor.setParameters({ checksumFlag: true });
  return compressor.compress(data);
}

const ENCODERS: Record<string, (data: Buffer) => Buffer> = {
  '.log.gz': (data) => gzipSync(data),
  '.log.zst': (data) => zstdWithChecksum(data),
  '.log.xz': (data) => execFileSync('xz', ['-c', '-T1', '-6'], { input: data }),
  '.log.lzma': (data) => execFileSync('xz', ['-c', '--format=lzma'], { input: data }),
};

describe.each(Object.keys(ENCODERS))('%s files', (ext) => {
  const encode = ENCODERS[ext] as (data: Buffer) => Buffer;

  it('round-trip every line', async () => {
    const file = path.join(dir, `x${ext}`);
    await writeFile(file, encode(TEXT));
    const counters: ReadCounters = { tornLines: 0 };
    expect(await collect(file, counters)).toEqual(LINES);
    expect(counters.tornLines).toBe(0);
  });

  it('cut short: yield what decodes, count one torn line, do not throw', async () => {
    const file = path.join(dir, `x${ext}`);
    const full = encode(TEXT);
    await writeFile(file, full.subarray(0, Math.floor(full.length / 2)));
    const counters: ReadCounters = { tornLines: 0 };
    const lines = await collect(file, counters);
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.length).toBeLessThan(LINES.length);
    expect(lines).toEqual(LINES.slice(0, lines.length));
    expect(counters.tornLines).toBe(1);
  });

  it('corrupt in the middle: throws', async () => {
    const file = path.join(dir, `x${ext}`);
    const full = Buffer.from(encode(TEXT));
    const middle = Math.floor(full.length / 2);
    for (let i = middle; i < middle + 64; i++) full[i] = (full[i] ?? 0) ^ 0x5a;
    await writeFile(file, full);
    await expect(collect(file)).rejects.toThrow();
  });
});

describe('readRecordLines', () => {
  it('skips and counts a torn last line of a plain file', async () => {
    const file = path.join(dir, 'a.w1.log');
    await writeFile(file, 'a\t{}\nb\t{"k":"é"}\nc\t{"trunc');
    const counters: ReadCounters = { tornLines: 0, bytesRead: 0 };
    expect(await collect(file, counters)).toEqual(['a\t{}', 'b\t{"k":"é"}']);
    expect(counters).toEqual({ tornLines: 1, bytesRead: 27 });
  });

  it('assembles lines longer than a read chunk', async () => {
    const long = `big\t{"x":"${'y'.repeat(200_000)}"}`;
    const file = path.join(dir, 'b.log.gz');
    await writeFile(file, gzipSync(`${long}\nsmall\t{}\n`));
    expect(await collect(file)).toEqual([long, 'small\t{}']);
  });

  it('stops an xz child cleanly when the consumer stops early', async () => {
    const file = path.join(dir, 'c.log.xz');
    await writeFile(file, ENCODERS['.log.xz']?.(TEXT) ?? Buffer.alloc(0));
    for await (const line of readRecordLines(file)) {
      expect(line).toBe(LINES[0]);
      break;
    }
    expect(await collect(file)).toHaveLength(LINES.length);
  });

  it('refuses an unknown extension and says so when xz is missing', async () => {
    await expect(collect(path.join(dir, 'x.log.bz2'))).rejects.toThrow(/unsupported storage file extension/);
    expect(() => openDecompressedStream(path.join(dir, 'x.log.gz.tmp'))).toThrow(/unsupported/);
    const file = path.join(dir, 'd.log.xz');
    await writeFile(file, ENCODERS['.log.xz']?.(TEXT) ?? Buffer.alloc(0));
    const savedPath = process.env.PATH;
    process.env.PATH = path.join(dir, 'no-such-bin');
    try {
      await expect(collect(file)).rejects.toBeInstanceOf(XzUnavailableError);
    } finally {
      process.env.PATH = savedPath;
    }
  });
});

describe('openDecompressedStream', () => {
  it('streams the decompressed bytes and reports a truncation without failing', async () => {
    const file = path.join(dir, 'e.log.zst');
    await writeFile(file, zstdCompress(TEXT));
    const chunks: Buffer[] = [];
    for await (const chunk of openDecompressedStream(file)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(TEXT)).toBe(true);

    const full = zstdCompress(TEXT);
    await writeFile(file, full.subarray(0, full.length - 100));
    let truncated = 0;
    let size = 0;
    for await (const chunk of openDecompressedStream(file, { onTruncated: () => (truncated += 1) })) {
      size += (chunk as Buffer).length;
    }
    expect(truncated).toBe(1);
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThan(TEXT.length);
  });
});

describe('.zst files of several frames', () => {
  it('are read whole, as the zstd CLI reads them (cat a.zst b.zst, pzstd)', async () => {
    // node:zlib's zstd decoder (Node 24.21) stops after the first frame without an error: the reader must not.
    const file = path.join(dir, 'f.log.zst');
    const half = Math.floor(LINES.length / 2);
    const first = Buffer.from(LINES.slice(0, half).join('\n') + '\n');
    const second = Buffer.from(LINES.slice(half).join('\n') + '\n');
    await writeFile(file, Buffer.concat([zstdWithChecksum(first), zstdCompress(second)]));
    const counters: ReadCounters = { tornLines: 0 };
    expect(await collect(file, counters)).toEqual(LINES);
    expect(counters.tornLines).toBe(0);
  });
});

describe('parseRecordLine', () => {
  it('splits at the first tab and refuses lines that are not records', () => {
    expect(parseRecordLine('id-1\t{"a":"b\\tc"}')).toEqual({ docId: 'id-1', json: '{"a":"b\\tc"}' });
    expect(parseRecordLine('id\t{"x":1}\tmore')).toEqual({ docId: 'id', json: '{"x":1}\tmore' });
    for (const bad of ['', 'no tab', '\t{}', 'id\t']) expect(parseRecordLine(bad)).toBeUndefined();
  });
});
