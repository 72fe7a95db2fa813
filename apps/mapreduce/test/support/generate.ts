/**
 * Generated storage files for MapReduce tests and the benchmark: converted
 * records (ver 2 and version 5) whose histograms are laid out by the C++
 * converter's bucket oracle (fixtures/buckets), so expected bounds in tests
 * never come from the code under test.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fixturePath } from '../../../../test/support/fixtures.js';

export const REV_23 = 'a55c55edf302';
export const REV_23_URL = `https://hg.mozilla.org/releases/mozilla-release/rev/${REV_23}`;
export const REV_24 = '8d3810543edc';
export const REV_24_URL = `http://hg.mozilla.org/mozilla-central/rev/${REV_24}`;
/** A revision the fixtures' Mercurial tree does not have. */
export const MISSING_REV_URL = 'https://hg.mozilla.org/mozilla-central/rev/0123456789ab';

interface OracleHistogram {
  readonly buckets: number[];
  readonly bucket_count: number;
}

/** Bucket lower bounds per histogram of a fixture revision, as the 2013 C++ code computed them. */
export function bucketOracle(revision: string): Record<string, OracleHistogram> {
  const parsed = JSON.parse(readFileSync(fixturePath('buckets', `${revision}.json`), 'utf8')) as { histograms: Record<string, OracleHistogram> };
  return parsed.histograms;
}

/** A small deterministic PRNG (mulberry32), so generated data is the same in every run. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Converted histograms (counts, then 5 statistics with some absent) for `names`. */
export function makeHistograms(oracle: Record<string, OracleHistogram>, names: readonly string[], random: () => number): Record<string, number[]> {
  const histograms: Record<string, number[]> = {};
  for (const name of names) {
    const definition = oracle[name];
    if (definition === undefined) throw new Error(`no histogram ${name} in the oracle`);
    const counts = Array.from({ length: definition.bucket_count }, () => (random() < 0.3 ? Math.floor(random() * 50) : 0));
    // Statistics as the converter writes them: -1 when the client did not send one. As in real
    // pings, which statistics a histogram has is the same in every record (it follows from its kind).
    const statistic = (k: number, scale: number) => {
      const value = Math.round(random() * scale * 1000) / 1000;
      return (name.length + k) % 4 === 0 ? -1 : value;
    };
    histograms[name] = [...counts, statistic(0, 5000), statistic(1, 100), statistic(2, 1000), statistic(3, 10), statistic(4, 10)];
  }
  return histograms;
}

export interface RecordInfo {
  readonly reason: string;
  readonly appName: string;
  readonly appUpdateChannel: string;
  readonly appVersion: string;
  readonly appBuildID: string;
  readonly revision: string;
}

export function v2Record(info: RecordInfo, histograms: Record<string, number[]>): string {
  return JSON.stringify({ ver: 2, info: { ...info, OS: 'Linux' }, histograms, simpleMeasurements: { uptime: 12 } });
}

/** A converted unified ping: dimensions in `info`, histograms and revision under `payload`. */
export function v5Record(info: RecordInfo, histograms: Record<string, number[]>): string {
  const { revision, ...dims } = info;
  return JSON.stringify({
    version: 5,
    type: info.reason,
    info: dims,
    application: { name: info.appName, channel: info.appUpdateChannel, version: info.appVersion, buildId: info.appBuildID },
    payload: { info: { reason: 'shutdown', revision }, histograms },
  });
}

/** Storage lines "<docId>\t<json>\n" for records. */
export function storageLines(records: readonly { docId: string; json: string }[]): string {
  return records.map((record) => `${record.docId}\t${record.json}\n`).join('');
}

export async function writeStorageFile(root: string, relative: string, content: string | Buffer, gzip = relative.endsWith('.gz')): Promise<string> {
  const file = path.join(root, ...relative.split('/'));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, gzip ? gzipSync(content) : content);
  return file;
}

export function docId(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(6, '0')}-0000-0000-000000000000`;
}
