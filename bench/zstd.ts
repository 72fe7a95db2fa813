/**
 * zstd codecs on the running Node (issue 12, item 6): the native addon
 * zstd-napi against the zstd built into node:zlib (Node 23.8+, 22.15+), with
 * gzip (node:zlib) for reference, and the storage codec as configured
 * (shared/src/storage/codecs.ts), on real converted pings.
 *
 *   npm run bench -- zstd        (npm's scripts run on the project's Node 24)
 *
 * Data: every record of the real 2013 storage files (converted version 2
 * saved-session pings, test/fixtures/storage) and the real Firefox 23 ping of
 * telemetry1.packed converted by today's converter, as `<docId>\t<json>`
 * lines: one storage file's content. Each operation compresses (or
 * decompresses) all of it as one stream, with the writer's settings (level 6,
 * content checksum), both ways: streaming in 64 KiB chunks (as
 * compress-file.ts and the reader do) and one-shot (sync). Every decoder
 * reads the bytes of a stored file: the storage codec's streamed output. Rates are MB
 * (10^6 bytes) of uncompressed data per CPU-second of this process (all its
 * threads: node:zlib's streams work on the libuv pool), so the other load on
 * a shared machine counts little; wall-clock rates of the streams beside.
 * Median of ROUNDS rounds, the codecs alternating within each round.
 *
 * Before timing: every codec round-trips; the zstds read each other's frames
 * and their output is compared byte for byte; and each zstd decoder is given
 * two concatenated frames (as `cat a.zst b.zst`, pzstd or an appended file
 * make), which the zstd format and CLI read as one stream.
 *
 * zstd-napi is loaded only if installed.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { convertSubmission } from '@telemetry/shared/conversion/submission';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import { createCompressor, createDecompressor } from '@telemetry/shared/storage/codecs';
import { readRecordLines } from '@telemetry/shared/storage/index';
import { fixturePath } from '../test/support/fixtures.js';
import { measureRate, median, type BenchResult } from './harness.js';
import { seedRevisionCache } from './load.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 400);
const LEVEL = 6;
/** The reader's and the file stream's read size. */
const CHUNK = 64 * 1024;
/** zstd's own streaming buffer size (ZSTD_DStreamOutSize); node:zlib's default is 16 KiB. */
const ZSTD_CHUNK = 128 * 1024;

/** The subset of zstd-napi this bench uses. */
interface ZstdNapi {
  Compressor: new () => { setParameters(p: { compressionLevel?: number; checksumFlag?: boolean }): void; compress(data: Buffer): Buffer };
  decompress(data: Buffer): Buffer;
  CompressStream: new (p: { compressionLevel: number; checksumFlag: boolean }) => Duplex;
  DecompressStream: new () => Duplex;
}

function loadZstdNapi(): ZstdNapi | undefined {
  try {
    return createRequire(import.meta.url)('zstd-napi') as ZstdNapi;
  } catch {
    return undefined;
  }
}

interface Codec {
  readonly name: string;
  readonly zstd: boolean;
  /** Absent for the storage codec, which is streams only. */
  readonly compressSync?: (data: Buffer) => Buffer;
  readonly decompressSync?: (data: Buffer) => Buffer;
  compressStream(): Duplex;
  decompressStream(): Duplex;
}

const zlibZstdParams = { [zlib.constants.ZSTD_c_compressionLevel]: LEVEL, [zlib.constants.ZSTD_c_checksumFlag]: 1 };

function codecs(napi: ZstdNapi | undefined): Codec[] {
  const list: Codec[] = [];
  if (typeof zlib.zstdCompressSync === 'function') {
    for (const chunkSize of [zlib.constants.Z_DEFAULT_CHUNK, ZSTD_CHUNK]) {
      list.push({
        name: `zstd, node:zlib, chunkSize ${chunkSize / 1024} KiB`,
        zstd: true,
        compressSync: (data) => zlib.zstdCompressSync(data, { params: zlibZstdParams, chunkSize }),
        decompressSync: (data) => zlib.zstdDecompressSync(data, { chunkSize }),
        compressStream: () => zlib.createZstdCompress({ params: zlibZstdParams, chunkSize }),
        decompressStream: () => zlib.createZstdDecompress({ chunkSize }),
      });
    }
  }
  if (napi) {
    const compressor = new napi.Compressor();
    compressor.setParameters({ compressionLevel: LEVEL, checksumFlag: true });
    list.push({
      name: 'zstd, zstd-napi 0.0.13',
      zstd: true,
      compressSync: (data) => compressor.compress(data),
      decompressSync: (data) => napi.decompress(data),
      compressStream: () => new napi.CompressStream({ compressionLevel: LEVEL, checksumFlag: true }),
      decompressStream: () => new napi.DecompressStream(),
    });
  }
  list.push({
    name: 'zstd, the storage codec (codecs.ts)',
    zstd: true,
    compressStream: () => createCompressor('zstd'),
    decompressStream: () => createDecompressor('zstd'),
  });
  list.push({
    name: 'gzip, node:zlib (reference)',
    zstd: false,
    compressSync: (data) => zlib.gzipSync(data, { level: LEVEL }),
    decompressSync: (data) => zlib.gunzipSync(data),
    compressStream: () => zlib.createGzip({ level: LEVEL }),
    decompressStream: () => zlib.createGunzip(),
  });
  return list;
}

/** `data` through `transform` in CHUNK-sized writes; the output. */
async function throughStream(data: Buffer, transform: Duplex, keep = false): Promise<{ length: number; output: Buffer }> {
  let length = 0;
  const kept: Buffer[] = [];
  const chunks = function* () {
    for (let offset = 0; offset < data.length; offset += CHUNK) yield data.subarray(offset, offset + CHUNK);
  };
  await pipeline(
    Readable.from(chunks()),
    transform,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        length += chunk.length;
        if (keep) kept.push(chunk);
        done();
      },
    }),
  );
  return { length, output: Buffer.concat(kept) };
}

/** One storage file's content: the real converted pings, one `<docId>\t<json>` line each. */
async function realConvertedPings(): Promise<{ text: Buffer; records: number }> {
  const lines: string[] = [];
  const storageRoot = fixturePath('storage');
  for (const entry of await readdir(storageRoot, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    for await (const line of readRecordLines(path.join(entry.parentPath, entry.name))) lines.push(line);
  }
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'bench-zstd-'));
  try {
    await seedRevisionCache(cacheDir, 'a55c55edf302');
    const context = {
      revisions: new RevisionCache({ hgServer: 'http://127.0.0.1:9', cacheDir }),
      schema: await loadDimensionSchema(DEFAULT_SCHEMA_FILE),
      maxUncompressedBytes: 10 * 2 ** 20,
    };
    const { records } = parsePackedBuffer(await readFile(fixturePath('pings', 'telemetry1.packed')));
    for (const [index, record] of records.entries()) {
      const submission = { docId: `telemetry1-${index}`, body: record.body, contentEncoding: 'gzip', receivedAtMs: Date.UTC(2013, 8, 10) };
      const converted = await convertSubmission(submission, context);
      lines.push(`${converted.docId}\t${converted.json}`);
    }
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
  return { text: Buffer.from(lines.map((line) => `${line}\n`).join('')), records: lines.length };
}

/** How many times `fn` ran in `durationMs` of wall time. */
async function countOperations(fn: () => unknown, durationMs: number): Promise<number> {
  let count = 0;
  const deadline = performance.now() + durationMs;
  while (performance.now() < deadline) {
    await fn();
    count += 1;
  }
  return count;
}

type Operation = 'compressStream' | 'compressSync' | 'decompressStream' | 'decompressSync';
const OPERATIONS: Operation[] = ['compressStream', 'compressSync', 'decompressStream', 'decompressSync'];

interface Row {
  readonly codec: Codec;
  readonly bytes: number;
  /** MB per CPU-second; undefined where the codec has no such operation. */
  readonly rates: Partial<Record<Operation, number>>;
  readonly wall: { compress: number; decompress: number };
  /** Reads two concatenated frames whole (zstd only). */
  readonly multiFrame: boolean | undefined;
}

export async function benchZstd(): Promise<BenchResult> {
  const { text, records } = await realConvertedPings();
  const list = codecs(loadZstdNapi());

  // Correctness first. Each codec's streamed output is what a stored file holds.
  const streamed = new Map<string, Buffer>();
  for (const codec of list) {
    const output = (await throughStream(text, codec.compressStream(), true)).output;
    const back = (await throughStream(output, codec.decompressStream(), true)).output;
    if (!back.equals(text)) throw new Error(`${codec.name} does not round-trip`);
    if (codec.compressSync && codec.decompressSync && !codec.decompressSync(codec.compressSync(text)).equals(text)) throw new Error(`${codec.name} does not round-trip one-shot`);
    streamed.set(codec.name, output);
  }
  const zstds = list.filter((codec) => codec.zstd);
  for (const writer of zstds) {
    for (const reader of zstds) {
      const back = (await throughStream(streamed.get(writer.name) ?? Buffer.alloc(0), reader.decompressStream(), true)).output;
      if (!back.equals(text)) throw new Error(`${reader.name} cannot read ${writer.name}`);
    }
  }
  const oneShots = zstds.flatMap((codec) => (codec.compressSync ? [codec.compressSync(text)] : []));
  const identical = oneShots.every((output) => output.equals(oneShots[0] ?? Buffer.alloc(0)));
  const storageCodec = zstds.find((codec) => codec.name.includes('storage codec'));
  /** What every decoder reads: a file as the storage writes it (zstd: the storage codec's stream; gzip: its own). */
  const stored = (codec: Codec): Buffer => streamed.get(codec.zstd && storageCodec ? storageCodec.name : codec.name) ?? Buffer.alloc(0);
  const half = text.subarray(0, text.length / 2);
  const rest = text.subarray(text.length / 2);
  const twoFrames = Buffer.concat([zlib.zstdCompressSync(half), zlib.zstdCompressSync(rest)]);
  const multiFrame = new Map<string, boolean>();
  for (const codec of zstds) multiFrame.set(codec.name, (await throughStream(twoFrames, codec.decompressStream(), true)).output.equals(text));

  let sink = 0;
  const input = stored;
  const operation = (codec: Codec, name: Operation): (() => unknown) | undefined => {
    const { compressSync, decompressSync } = codec;
    switch (name) {
      case 'compressStream':
        return async () => (sink += (await throughStream(text, codec.compressStream())).length);
      case 'decompressStream':
        return async () => (sink += (await throughStream(input(codec), codec.decompressStream())).length);
      case 'compressSync':
        return compressSync && (() => (sink += compressSync(text).length));
      case 'decompressSync':
        return decompressSync && (() => (sink += decompressSync(input(codec)).length));
    }
  };
  const cpuRates = new Map<string, number[]>();
  const wallRates = new Map<string, number[]>();
  const record = (map: Map<string, number[]>, key: string, value: number): void => {
    map.set(key, [...(map.get(key) ?? []), value]);
  };
  for (const codec of list) {
    for (const name of OPERATIONS) {
      const fn = operation(codec, name);
      if (fn) await measureRate(fn, 200); // warm-up
    }
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const name of OPERATIONS) {
      for (const codec of list) {
        const fn = operation(codec, name);
        if (!fn) continue;
        const key = `${codec.name}/${name}`;
        const cpuBefore = process.cpuUsage();
        const wallBefore = performance.now();
        const count = await countOperations(fn, ROUND_MS);
        const cpu = process.cpuUsage(cpuBefore);
        record(cpuRates, key, count / ((cpu.user + cpu.system) / 1e6));
        record(wallRates, key, count / ((performance.now() - wallBefore) / 1e3));
      }
    }
  }
  if (sink === 0) throw new Error('nothing was measured');
  const mbps = (codec: Codec, name: Operation, map = cpuRates): number | undefined => {
    const values = map.get(`${codec.name}/${name}`);
    return values === undefined ? undefined : (median(values) * text.length) / 1e6;
  };
  const rows: Row[] = list.map((codec) => ({
    codec,
    bytes: streamed.get(codec.name)?.length ?? 0,
    rates: Object.fromEntries(OPERATIONS.map((name) => [name, mbps(codec, name)])),
    wall: { compress: mbps(codec, 'compressStream', wallRates) ?? 0, decompress: mbps(codec, 'decompressStream', wallRates) ?? 0 },
    multiFrame: codec.zstd ? multiFrame.get(codec.name) : undefined,
  }));

  const zlibRow = rows.find((row) => row.codec.name === `zstd, node:zlib, chunkSize ${ZSTD_CHUNK / 1024} KiB`);
  const napiRow = rows.find((row) => row.codec.name.includes('zstd-napi'));
  const storageRow = rows.find((row) => row.codec.name.includes('storage codec'));
  const rate = (row: Row | undefined, name: Operation): number => row?.rates[name] ?? 0;
  let verdict: string;
  let targetMet: boolean;
  if (!zlibRow || !napiRow || !storageRow) {
    verdict = `Not compared: ${!zlibRow ? `Node ${process.version} has no zstd in node:zlib (23.8 or newer has)` : 'zstd-napi is not installed'}.`;
    targetMet = false;
  } else {
    const ratio = (name: Operation): string => (rate(zlibRow, name) / rate(napiRow, name)).toFixed(2);
    const fasterCompress = rate(zlibRow, 'compressStream') >= rate(napiRow, 'compressStream') ? zlibRow : napiRow;
    const fasterDecompress = rate(zlibRow, 'decompressStream') >= rate(napiRow, 'decompressStream') ? zlibRow : napiRow;
    // The storage codec should be about as fast as the faster of the two each way (within this machine's noise).
    targetMet =
      rate(storageRow, 'compressStream') >= 0.85 * rate(fasterCompress, 'compressStream') &&
      rate(storageRow, 'decompressStream') >= 0.85 * rate(fasterDecompress, 'decompressStream') &&
      storageRow.multiFrame === true;
    verdict =
      `node:zlib (chunkSize ${ZSTD_CHUNK / 1024} KiB) / zstd-napi: streaming compress ${ratio('compressStream')}×, streaming decompress ${ratio('decompressStream')}×; ` +
      `one-shot compress ${ratio('compressSync')}×, one-shot decompress ${ratio('decompressSync')}×. ` +
      `Faster streaming: compress ${fasterCompress.codec.name}, decompress ${fasterDecompress.codec.name}. ` +
      `One-shot, the two zstds write ${identical ? 'byte-identical frames' : 'different frames (each readable by the other)'}; ` +
      `two concatenated frames are read whole by ${rows.filter((row) => row.multiFrame === true).map((row) => row.codec.name).join(', ') || 'none'}` +
      `${rows.some((row) => row.multiFrame === false) ? `, and cut to the first frame, silently, by ${rows.filter((row) => row.multiFrame === false).map((row) => row.codec.name).join(', ')}` : ''}.`;
  }
  const cell = (value: number | undefined): string => (value === undefined ? '—' : value.toFixed(1));
  const table = rows
    .map(
      (row) =>
        `| ${row.codec.name} | ${row.bytes} | ${(text.length / row.bytes).toFixed(2)}× | ${cell(row.rates.compressStream)} | ${cell(row.rates.compressSync)} | ` +
        `${cell(row.rates.decompressStream)} | ${cell(row.rates.decompressSync)} | ${row.wall.compress.toFixed(1)} / ${row.wall.decompress.toFixed(1)} | ${row.multiFrame === undefined ? '—' : row.multiFrame ? 'yes' : '**no**'} |`,
    )
    .join('\n');
  const load = os.loadavg().map((value) => value.toFixed(1)).join(', ');
  return {
    name: 'zstd: node:zlib against zstd-napi',
    markdown:
      `${records} real converted pings (${text.length} bytes: the 2013 storage fixtures and the Firefox 23 ping converted now), each operation compressing or decompressing all of them as one stream, level ${LEVEL} with a content checksum; ` +
      `streams are fed 64 KiB chunks (as compress-file.ts and the reader do), one-shot is the sync call; every decoder reads a file as the storage writes it (zstd: the storage codec's streamed frame, which has no content size in its header; compressed bytes: each codec's streamed output). ` +
      `MB (10^6 bytes) of uncompressed data per CPU-second of this process (all its threads), so that other load on the machine counts little; wall-clock MB/s of the streams beside. ` +
      `Median of ${ROUNDS} rounds of ${ROUND_MS} ms per cell, the codecs alternating within each round; Node ${process.version}; load average at the end ${load}.\n\n` +
      `| codec | compressed bytes | ratio | compress, stream | compress, one-shot | decompress, stream | decompress, one-shot | wall MB/s: compress / decompress, stream | reads concatenated frames |\n` +
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n${table}\n\n${verdict}`,
    targetMet,
  };
}
