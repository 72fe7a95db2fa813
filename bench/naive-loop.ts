/**
 * The workers' naive baseline (bench/ingest-path.ts): what one core does with
 * a ping when it does the least a converter must, in this process: gunzip,
 * JSON.parse, JSON.stringify. No validation, conversion, dedup, disk or broker.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { fixturePath } from '../test/support/fixtures.js';
import { measureRate } from './harness.js';

/** The real Firefox 23 ping of 2013 (fixtures pings/telemetry1.packed, first record): its gzip'd body and path. */
export async function realFirefoxPing(): Promise<{ body: Buffer; path: string }> {
  const { records } = parsePackedBuffer(await readFile(fixturePath('pings', 'telemetry1.packed')));
  const record = records[0];
  if (!record) throw new Error('telemetry1.packed has no record');
  return { body: record.body, path: record.path };
}

/** Pings per second of gunzip + JSON.parse + JSON.stringify of `gzippedPing` on one core, over `durationMs`. */
export async function naiveLoopRate(gzippedPing: Buffer, durationMs: number): Promise<number> {
  let sink = 0;
  const once = () => {
    sink += JSON.stringify(JSON.parse(gunzipSync(gzippedPing).toString('utf8'))).length;
  };
  for (let i = 0; i < 200; i += 1) once(); // warm-up
  const rate = await measureRate(once, durationMs);
  if (sink === 0) throw new Error('the naive loop produced nothing');
  return rate;
}
