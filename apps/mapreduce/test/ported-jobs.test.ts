import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TooManyBadRecordsError } from '../src/errors.js';
import { runMapReduce, type MapReduceOptions } from '../src/run.js';
import { buildDataSet, filterJson, readAllRecords, type StoredRecord } from './support/dataset.js';
import { docId, storageLines, writeStorageFile } from './support/generate.js';
import { distributedEnvironment, type DistributedEnvironment } from './support/workers.js';

const JOBS = path.join(import.meta.dirname, 'jobs');
type Json = Record<string, unknown>;

/** Two odd records, each in a file of its own: a flag histogram of the wrong length, and a line that is not JSON. */
const ODD_FILES = {
  length: 'saved_session/Firefox/release/23.0.1/20130814063812.20131013.v2.wD.1.log.gz',
  json: 'saved_session/Firefox/release/23.0.1/20130814063812.20131014.v2.wD.2.log.gz',
};
const ODD_INFO = { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812', OS: 'WINNT', version: '6.1', flashVersion: '11.9' };

const pathDims = (file: string): string[] => {
  const parts = file.split('/');
  const name = parts.pop() ?? '';
  return [...parts, ...name.split('.').slice(0, 2)];
};
const count = <K>(keys: K[]): Map<K, number> => {
  const counts = new Map<K, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
};
const parse = (record: StoredRecord): Json | undefined => {
  try {
    return JSON.parse(record.json) as Json;
  } catch {
    return undefined;
  }
};

describe('jobs ported from 2013: dims as a list, the reduce context, bad lines', () => {
  let dir: string;
  let data: string;
  let records: StoredRecord[];
  let cluster: DistributedEnvironment;
  let runs = 0;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-ported-'));
    data = path.join(dir, 'data');
    await buildDataSet(data);
    const badFlag = JSON.stringify({ ver: 2, info: ODD_INFO, histograms: { A11Y_INSTANTIATED_FLAG: [0, 1, 0, 1, -1] } });
    await writeStorageFile(data, ODD_FILES.length, storageLines([{ docId: docId('od', 0), json: badFlag }]));
    await writeStorageFile(data, ODD_FILES.json, storageLines([{ docId: docId('od', 1), json: '{"ver":2,"info":' }]));
    records = await readAllRecords(data);
    cluster = distributedEnvironment('ported');
    await Promise.all([cluster.startWorker(), cluster.startWorker()]);
  }, 60_000);
  afterAll(async () => {
    await cluster?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs a job locally and on the mapreduce-workers; both outputs must be the same bytes (after `normalize`). */
  async function bothWays(job: string, options: Partial<MapReduceOptions> = {}, normalize = (text: string) => text) {
    runs += 1;
    const base = { job: path.join(JOBS, job), inputFilter: filterJson(), dataDir: data, workDir: path.join(dir, 'work'), mappers: 3, ...options };
    const local = await runMapReduce({ ...base, output: path.join(dir, `local-${runs}.txt`) });
    const remote = await runMapReduce({ ...base, output: path.join(dir, `remote-${runs}.txt`), distributed: cluster.options });
    const [localText, remoteText] = await Promise.all([readFile(path.join(dir, `local-${runs}.txt`), 'utf8'), readFile(path.join(dir, `remote-${runs}.txt`), 'utf8')]);
    expect(normalize(remoteText)).toBe(normalize(localText));
    return { local, remote, text: localText, lines: localText.split('\n').filter((line) => line !== '') };
  }

  it('gives map the dims as a frozen list in schema order that has them by name too, in local and distributed runs', async () => {
    const { lines } = await bothWays('dims-shape.mjs');
    expect(lines).toHaveLength(records.length);
    for (const line of lines) {
      const [file = '', json = ''] = line.split('\t');
      const dims = pathDims(file);
      expect(JSON.parse(json)).toEqual({
        list: dims,
        json: JSON.stringify(dims),
        keys: ['0', '1', '2', '3', '4', '5'],
        length: 6,
        five: dims[5],
        last: dims[5],
        byName: dims[5],
        channel: dims[2],
        unpacked: dims.slice(0, 2),
        joined: dims.join(','),
        concat: 7,
        isArray: true,
        frozen: true,
      });
    }
  }, 60_000);

  it('runs simple_counter, dims_only (d[-1]) and slowsql (six dims unpacked) as in 2013', async () => {
    const counter = await bothWays('ported-simple-counter.mjs');
    expect(new Map(counter.lines.map((line) => [line.split('\t')[0], Number(line.split('\t')[1])]))).toEqual(count(records.map((r) => r.docId)));

    const byDate = await bothWays('ported-dims-only.mjs');
    expect(new Map(byDate.lines.map((line) => [line.split('\t')[0], Number(line.split('\t')[1])]))).toEqual(count(records.map((r) => JSON.stringify([pathDims(r.file)[5], true]))));

    const slowsql = await bothWays('ported-slowsql.mjs');
    const totals = count(records.map((r) => { const [, appName, channel, version, , date] = pathDims(r.file); return `"TOTAL","${date}","${appName}","${version}","${channel}","ALL_PINGS"`; }));
    const expected = [...totals].map(([key, n]) => `${key},${n},${n},0,0`).sort();
    // Only TOTAL lines: no query of these records ran more than 100 times.
    expect(slowsql.lines.sort()).toEqual(expected);
  }, 120_000);

  it('runs flash_versions (["Error", …] + d for a record that is not JSON) and distribution (writecsv, bad lines skipped)', async () => {
    // Its Error key holds a stack trace (2013: traceback.format_exc()), which differs between the processes.
    const flash = await bothWays('ported-flash-versions.mjs', {}, (text) => text.replace(/^ +at .*\n/gm, ''));
    const windows = records.map(parse).filter((ping): ping is Json => (ping?.info as Json | undefined)?.OS === 'WINNT').map((ping) => ping.info as Json);
    const expected = count(windows.map((info) => ['Firefox', info.appVersion, info.appUpdateChannel, 'WINNT', info.version, info.flashVersion ?? 'NA'].join(',')));
    for (const [key, n] of expected) expect(flash.lines).toContain(`${key},${n}`);
    expect(flash.text).toContain(`Error,SyntaxError: `);
    expect(flash.text).toContain(`,${pathDims(ODD_FILES.json).join(',')},1\n`);

    const options = { maxBadRecords: 2 };
    const distribution = await bothWays('ported-distribution.mjs', options);
    expect(distribution.local.badRecords.map((r) => `${r.file}:${r.line}`).sort()).toEqual([`${ODD_FILES.length}:1`, `${ODD_FILES.json}:1`]);
    expect(distribution.remote.badRecords).toEqual(distribution.local.badRecords);
    expect(distribution.local.badRecords.find((r) => r.file === ODD_FILES.length)?.message).toMatch(/20131013\.v2\.wD\.1\.log\.gz:1 \(od-000000-[^)]*\): map failed: RangeError: Unexpected length for key A11Y_INSTANTIATED_FLAG/);
    const rows = count(
      records.flatMap((record) => {
        const histograms = (parse(record)?.histograms ?? {}) as Record<string, number[]>;
        const flag = histograms.A11Y_INSTANTIATED_FLAG;
        const dns = histograms.DNS_LOOKUP_METHOD2;
        if ((flag && flag.length !== 8) || (dns && dns.length !== 22) || parse(record) === undefined) return [];
        return [[...(flag?.slice(0, 2) ?? [0, 0]), ...(dns?.slice(0, 16) ?? new Array<number>(16).fill(0))].join('\t')];
      }),
    );
    expect(distribution.lines.sort()).toEqual([...rows].map(([key, n]) => `${key}\t${n}`).sort());
  }, 120_000);

  it('fails past --max-bad-records, naming the file and line, whether one task or several went past it', async () => {
    const run = (maxBadRecords: number, mappers: number) =>
      runMapReduce({ job: path.join(JOBS, 'ported-distribution.mjs'), inputFilter: filterJson(), dataDir: data, workDir: path.join(dir, 'work'), output: path.join(dir, 'never.txt'), mappers, maxBadRecords });
    await expect(run(0, 1)).rejects.toThrow(/20131013\.v2\.wD\.1\.log\.gz:1 \(od-000000-[^)]*\): map failed: RangeError/);
    // One file per task: each task skips its one bad record, the run counts two.
    const attempt = run(1, 20);
    await expect(attempt).rejects.toThrow(TooManyBadRecordsError);
    await expect(attempt).rejects.toThrow(/20131014\.v2\.wD\.2\.log\.gz:1 \(od-000001-[^)]*\): map failed: SyntaxError.*\(2 records failed map, more than --max-bad-records 1\)/);
  }, 60_000);

  it('writes reduce lines with writecsv (RFC 4180 quoting, the run separators) and writeline', async () => {
    const { lines } = await bothWays('csv.mjs', { mappers: 2 });
    const release = records.filter((r) => pathDims(r.file)[2] === 'release').length;
    const at = lines.indexOf(`release\t${release}\ta,b\t"tab\there"\t"say ""hi"""\t"two`);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines.slice(at, at + 4)).toEqual([`release\t${release}\ta,b\t"tab\there"\t"say ""hi"""\t"two`, `lines"\t\t\ttrue\t"{""n"":1}"`, '# release done', `release\t${release}`]);
    const comma = await bothWays('csv.mjs', { mappers: 2, params: { fieldSeparator: ',' } });
    expect(comma.lines).toContain(`beta,21,"a,b",tab\there,"say ""hi""","two`);
    expect(comma.lines).toContain('beta,21');
  }, 120_000);
});
