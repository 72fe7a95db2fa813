/**
 * The test data set: the two real 2013 `.lzma` files plus generated files
 * (gzip, plain `.log` with a torn last line, several dates, channels,
 * versions, ver 2 and version 5 records, one record of a revision the
 * Mercurial server does not have). And an independent reader of it (xz,
 * gunzip, split on newlines) for computing expected results.
 */
import { execFileSync } from 'node:child_process';
import { cp, readdir, readFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fixturePath } from '../../../../test/support/fixtures.js';
import {
  bucketOracle,
  docId,
  makeHistograms,
  MISSING_REV_URL,
  REV_23,
  REV_23_URL,
  REV_24,
  REV_24_URL,
  rng,
  storageLines,
  v2Record,
  v5Record,
  writeStorageFile,
  type RecordInfo,
} from './generate.js';

const FIELDS = ['reason', 'appName', 'appUpdateChannel', 'appVersion', 'appBuildID', 'submission_date'] as const;
export type Field = (typeof FIELDS)[number];

/** A filter over the production schema's dimensions: `*` except where given. */
export function filterJson(allowed: Partial<Record<Field, unknown>> = {}): Record<string, unknown> {
  return { version: 1, dimensions: FIELDS.map((field_name) => ({ field_name, allowed_values: allowed[field_name] ?? '*' })) };
}

/** A histogram name the definitions do not have: summed with unknown bounds. */
export const UNDEFINED_HISTOGRAM = 'NOT_A_REAL_HISTOGRAM';

function pickNames(oracle: Record<string, unknown>, count: number, extra: readonly string[]): string[] {
  const names = Object.keys(oracle)
    .filter((name) => !name.startsWith('STARTUP_'))
    .sort();
  const step = Math.max(1, Math.floor(names.length / count));
  return [...names.filter((_, index) => index % step === 0).slice(0, count), ...extra];
}

const release: Omit<RecordInfo, 'appUpdateChannel' | 'appVersion' | 'appBuildID'> = { reason: 'saved-session', appName: 'Firefox', revision: REV_23_URL };

/** Builds the data set under `root`; returns the relative paths of the generated files. */
export async function buildDataSet(root: string): Promise<string[]> {
  await cp(fixturePath('storage'), root, { recursive: true });
  // The fixtures are read-only; copies must be removable by the test's clean-up.
  await makeWritable(root);
  const oracle23 = bucketOracle(REV_23);
  const oracle24 = bucketOracle(REV_24);
  const names23 = pickNames(oracle23, 40, ['STARTUP_MEMORY_STORAGE_SQLITE']);
  const names24 = pickNames(oracle24, 25, []);
  const random = rng(42);
  const files: string[] = [];
  const write = async (relative: string, records: { docId: string; json: string }[], tail = ''): Promise<void> => {
    files.push(relative);
    await writeStorageFile(root, relative, storageLines(records) + tail);
  };
  const v2 = (prefix: string, count: number, info: RecordInfo, withUndefined = false) =>
    Array.from({ length: count }, (_, i) => {
      const histograms = makeHistograms(oracle23, names23, random);
      if (withUndefined) histograms[UNDEFINED_HISTOGRAM] = [i, 1, 2, 0, 3, 10, -1, -1, -1, -1];
      return { docId: docId(prefix, i), json: v2Record(info, histograms) };
    });

  const rel = { ...release, appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812' };
  await write('saved_session/Firefox/release/23.0.1/20130814063812.20131010.v2.wA.1.log.gz', v2('aa', 30, rel, true));
  await write('saved_session/Firefox/release/23.0.1/20130814063812.20131011.v2.wA.2.log.gz', v2('ab', 25, rel));
  // An unfinished file (plain .log) whose writer crashed mid-line.
  await write('saved_session/Firefox/release/23.0.1/20130814063812.20131012.v2.wB.log', v2('ac', 8, rel), `torn-0000\t{"ver":2,"info":{"appUpdat`);
  const beta = { ...release, appUpdateChannel: 'beta', appVersion: '23.0', appBuildID: '20130812' };
  const betaRecords = v2('ba', 20, beta);
  // One beta record of a revision the server does not have: summed, bounds from the others.
  betaRecords.push({ docId: docId('bm', 0), json: v2Record({ ...beta, revision: MISSING_REV_URL }, makeHistograms(oracle23, names23, random)) });
  await write('saved_session/Firefox/beta/23.0/20130812.20131011.v2.wA.1.log.gz', betaRecords);
  const nightly: RecordInfo = { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'nightly', appVersion: '24.0a1', appBuildID: '20130620030204', revision: REV_24_URL };
  await write(
    'saved_session/Firefox/nightly/24.0a1/20130620030204.20131011.v2.wC.1.log.gz',
    Array.from({ length: 15 }, (_, i) => ({ docId: docId('na', i), json: v5Record(nightly, makeHistograms(oracle24, names24, random)) })),
  );
  return files;
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeWritable(child);
    else await chmod(child, 0o644);
  }
}

export interface StoredRecord {
  /** Relative path of the file, `/`-separated. */
  readonly file: string;
  readonly docId: string;
  readonly json: string;
}

/** Every complete record under `root`, read without the code under test. */
export async function readAllRecords(root: string): Promise<StoredRecord[]> {
  const records: StoredRecord[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(full);
        continue;
      }
      let text: string;
      if (entry.name.endsWith('.lzma') || entry.name.endsWith('.xz')) text = execFileSync('xz', ['-dc', full], { maxBuffer: 1 << 30 }).toString('utf8');
      else if (entry.name.endsWith('.gz')) text = gunzipSync(await readFile(full)).toString('utf8');
      else text = await readFile(full, 'utf8');
      const lines = text.split('\n');
      lines.pop(); // after the last newline: '' or a torn line
      for (const line of lines) {
        const tab = line.indexOf('\t');
        records.push({ file: path.relative(root, full).split(path.sep).join('/'), docId: line.slice(0, tab), json: line.slice(tab + 1) });
      }
    }
  };
  await walk(root);
  return records;
}
