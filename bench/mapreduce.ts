/**
 * MapReduce throughput (issue 5): the shipped histogram job over a generated
 * data set of gzip'd converted pings, with 1 and with 2 mapper processes, and
 * as the baseline the raw read of the same files in one process (decompress
 * and split lines only, no JSON). Whole runs are timed (walk, process start,
 * map, reduce, output), in alternating rounds so drift hits all alike.
 * Target: 2 mappers >= 1.7x the records/s of 1 on this 2-core machine.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HISTOGRAM_JOB } from '@telemetry/mapreduce/histograms/run';
import { allowAllFilter, selectInputFiles } from '@telemetry/mapreduce/input-filter';
import { runMapReduce } from '@telemetry/mapreduce/run';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { parseRecordLine, readRecordLines } from '@telemetry/shared/storage/reader';
import { bucketOracle, docId, makeHistograms, REV_23, REV_23_URL, rng, v2Record, writeStorageFile } from '../apps/mapreduce/test/support/generate.js';
import { fixturePath } from '../test/support/fixtures.js';
import { median, type BenchResult } from './harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Size of the generated data set, gzip'd (the files on disk). */
// Large enough that process start and the reduce (fixed costs) do not dominate the timing.
const TARGET_MIB = Number(process.env.BENCH_MAPREDUCE_MIB ?? 150);
const TARGET_RATIO = 1.7;
const FILES = 16;
const DISTINCT_RECORDS = 200;
const MIB = 2 ** 20;
const GZIP_RATIO = 4;

interface DataSet {
  readonly files: number;
  readonly records: number;
  readonly gzipBytes: number;
  readonly jsonBytes: number;
}

/** Real-sized records (about 300 histograms of Firefox 23, as the real ping) spread over channels, versions and dates. */
async function generate(root: string): Promise<DataSet> {
  const oracle = bucketOracle(REV_23);
  const names = Object.keys(oracle)
    .filter((name) => !name.startsWith('STARTUP_'))
    .sort()
    .slice(0, 300);
  const random = rng(7);
  const pool = Array.from({ length: DISTINCT_RECORDS }, (_, i) => {
    const channel = ['release', 'beta', 'aurora', 'nightly'][i % 4] ?? 'release';
    const info = { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: channel, appVersion: '23.0.1', appBuildID: '20130814063812', revision: REV_23_URL };
    return { channel, json: v2Record(info, makeHistograms(oracle, names, random)) };
  });
  let records = 0;
  let gzipBytes = 0;
  let jsonBytes = 0;
  const targetPerFile = (TARGET_MIB * MIB) / FILES;
  for (let f = 0; f < FILES; f += 1) {
    const channel = pool[f % 4]?.channel ?? 'release';
    const date = `201310${String(10 + (f % 8)).padStart(2, '0')}`;
    const relative = `saved_session/Firefox/${channel}/23.0.1/20130814063812.${date}.v2.bench.${f}.log.gz`;
    const lines: string[] = [];
    let estimate = 0;
    // gzip shrinks these records about 4x (measured): enough JSON for the target gzip size.
    while (estimate < targetPerFile * GZIP_RATIO) {
      const record = pool[(records + lines.length) % DISTINCT_RECORDS]?.json ?? '{}';
      lines.push(`${docId(`b${f}`, lines.length)}\t${record}\n`);
      estimate += record.length;
    }
    const text = lines.join('');
    const file = await writeStorageFile(root, relative, text);
    gzipBytes += (await readFile(file)).length;
    jsonBytes += text.length;
    records += lines.length;
  }
  return { files: FILES, records, gzipBytes, jsonBytes };
}

/** Decompress and split lines only: the floor under any job over the same files. */
async function rawRead(root: string, fileList: readonly string[]): Promise<{ records: number; seconds: number }> {
  const started = process.hrtime.bigint();
  let records = 0;
  for (const file of fileList) {
    for await (const line of readRecordLines(path.join(root, file), { tornLines: 0 })) if (parseRecordLine(line)) records += 1;
  }
  return { records, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** The output with non-integers to 10 significant digits: sums in another order differ in the last bits. */
function normalise(output: string): string {
  return output
    .split('\n')
    .map((line) => {
      const tab = line.indexOf('\t');
      if (tab < 0) return line;
      const value: unknown = JSON.parse(line.slice(tab + 1));
      return `${line.slice(0, tab)}\t${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(10)) : v))}`;
    })
    .join('\n');
}

export async function benchMapreduce(): Promise<BenchResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-mapreduce-'));
  try {
    const data = path.join(dir, 'data');
    const dataSet = await generate(data);
    // A disk cache seeded from the fixtures: no HTTP server in the measurement.
    const cacheDir = path.join(dir, 'revisions');
    await mkdir(path.join(cacheDir, 'releases', 'mozilla-release', REV_23), { recursive: true });
    await copyFile(
      fixturePath('hg', `releases/mozilla-release/raw-file/${REV_23}/toolkit/components/telemetry/Histograms.json`),
      path.join(cacheDir, 'releases', 'mozilla-release', REV_23, 'Histograms.json'),
    );
    const filter = allowAllFilter(await loadDimensionSchema(DEFAULT_SCHEMA_FILE));
    const fileList = (await selectInputFiles(data, filter)).map((file) => file.path);
    const run = async (mappers: number): Promise<{ rate: number; output: string }> => {
      const output = path.join(dir, `out-${mappers}.txt`);
      const result = await runMapReduce({
        job: HISTOGRAM_JOB,
        inputFilter: filter,
        dataDir: data,
        workDir: path.join(dir, 'work'),
        output,
        mappers,
        params: { hgServer: 'http://127.0.0.1:9', revisionCacheDir: cacheDir },
      });
      if (result.map.records !== dataSet.records) throw new Error(`read ${result.map.records} records, expected ${dataSet.records}`);
      return { rate: result.map.records / (result.elapsedMs / 1000), output: await readFile(output, 'utf8') };
    };

    const raw: number[] = [];
    const one: number[] = [];
    const two: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const read = await rawRead(data, fileList);
      raw.push(read.records / read.seconds);
      const single = await run(1);
      const double = await run(2);
      // Same input, same job: the number of mappers changes only the order of float additions.
      if (normalise(single.output) !== normalise(double.output)) throw new Error('1 and 2 mappers gave different outputs');
      one.push(single.rate);
      two.push(double.rate);
    }
    const rawRate = median(raw);
    const oneRate = median(one);
    const twoRate = median(two);
    const ratio = twoRate / oneRate;
    const mibPerSecond = (rate: number) => ((rate * dataSet.gzipBytes) / dataSet.records / MIB).toFixed(1);
    const markdown = [
      `Data: ${dataSet.files} .log.gz files, ${(dataSet.gzipBytes / MIB).toFixed(1)} MiB gzip (${(dataSet.jsonBytes / MIB).toFixed(0)} MiB of records), ` +
        `${dataSet.records} converted Firefox 23 pings with 300 histograms each. Job: the shipped histogram job (1 reducer). ` +
        `${ROUNDS} alternating rounds, medians; whole runs timed (process start, map, reduce, output).`,
      '',
      '| path | records/s | MiB/s of gzip | × raw read |',
      '| --- | ---: | ---: | ---: |',
      `| raw read (gunzip + split lines, 1 process) | ${rawRate.toFixed(0)} | ${mibPerSecond(rawRate)} | 1.00 |`,
      `| histogram job, 1 mapper | ${oneRate.toFixed(0)} | ${mibPerSecond(oneRate)} | ${(oneRate / rawRate).toFixed(2)} |`,
      `| histogram job, 2 mappers | ${twoRate.toFixed(0)} | ${mibPerSecond(twoRate)} | ${(twoRate / rawRate).toFixed(2)} |`,
      '',
      `Speed-up 2 mappers / 1: **${ratio.toFixed(2)}×** (target ≥ ${TARGET_RATIO}×). Rounds: 1 mapper ${one.map((r) => r.toFixed(0)).join(', ')}; 2 mappers ${two.map((r) => r.toFixed(0)).join(', ')}.`,
    ].join('\n');
    return { name: 'MapReduce: histogram job with 1 and 2 mappers vs raw read', markdown, targetMet: ratio >= TARGET_RATIO };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
