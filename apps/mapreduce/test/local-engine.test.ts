import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunAbortedError } from '../src/runner.js';
import { runMapReduce, type MapReduceOptions } from '../src/run.js';
import { waitFor } from '../../../test/support/services.js';
import { buildDataSet, filterJson, readAllRecords, type StoredRecord } from './support/dataset.js';

const JOBS = path.join(import.meta.dirname, 'jobs');

describe('the local engine', () => {
  let dir: string;
  let data: string;
  let records: StoredRecord[];
  let runs = 0;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-local-'));
    data = path.join(dir, 'data');
    await buildDataSet(data);
    records = await readAllRecords(data);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (job: string, options: Partial<MapReduceOptions> = {}) => {
    runs += 1;
    const output = path.join(dir, `out-${runs}.txt`);
    const workDir = path.join(dir, 'work');
    const result = await runMapReduce({ job: path.join(JOBS, job), inputFilter: filterJson(), dataDir: data, workDir, output, ...options });
    return { result, text: await readFile(output, 'utf8'), workDir };
  };

  /** Records per [channel, date], from the independent reader. */
  const expectedCounts = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const record of records) {
      const parts = record.file.split('/');
      const date = (parts[4] ?? '').split('.')[1] ?? '';
      const key = JSON.stringify([parts[2], date]);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  };

  const parseCounts = (text: string) =>
    text
      .trimEnd()
      .split('\n')
      .map((line) => {
        const [key, value] = line.split('\t') as [string, string];
        return { key, ...(JSON.parse(value) as { records: number; inputs: number }) };
      });

  it('counts every complete record once, skips and counts the torn line, removes the intermediate data', async () => {
    const { result, text, workDir } = await run('count-nocombine.ts', { mappers: 3, reducers: 1 });
    const rows = parseCounts(text);
    expect(new Map(rows.map((row) => [row.key, row.records]))).toEqual(expectedCounts());
    // Without combine, reduce gets one value per record.
    expect(rows.every((row) => row.inputs === row.records)).toBe(true);
    expect(result.map.records).toBe(records.length);
    expect(result.map.tornLines).toBe(1);
    expect(result.files).toBe(7);
    expect(result.mapTasks).toBe(3);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('writes keys in order, the same output whatever the number of mappers', async () => {
    const one = await run('count-nocombine.ts', { mappers: 1 });
    const four = await run('count-nocombine.ts', { mappers: 4 });
    expect(four.text).toBe(one.text);
    const keys = parseCounts(one.text).map((row) => row.key);
    expect(keys).toEqual([...keys].sort());
  });

  it('combine runs in a mapper when a key has more than the threshold of values, and on what is left at the end', async () => {
    const plain = await run('count-nocombine.ts', { mappers: 2 });
    const atEnd = await run('count.ts', { mappers: 2, combineThreshold: 1_000_000 });
    const eager = await run('count.ts', { mappers: 2, combineThreshold: 3 });
    const totals = (text: string) => parseCounts(text).map((row) => [row.key, row.records]);
    expect(totals(atEnd.text)).toEqual(totals(plain.text));
    expect(totals(eager.text)).toEqual(totals(plain.text));
    expect(plain.result.map.combines).toBe(0);
    expect(parseCounts(plain.text).every((row) => row.inputs === row.records)).toBe(true);
    // Combined before leaving the mapper: reduce gets at most one value per mapper.
    expect(parseCounts(atEnd.text).every((row) => row.inputs <= 2)).toBe(true);
    expect(parseCounts(eager.text).every((row) => row.inputs <= 2)).toBe(true);
    // The threshold made combine run while mapping too, not only at the end.
    expect(eager.result.map.combines).toBeGreaterThan(atEnd.result.map.combines);
    expect(atEnd.result.map.pairs).toBeLessThan(plain.result.map.pairs);
    const big = parseCounts(eager.text).find((row) => row.key === '["release","20131010"]');
    expect(big).toEqual({ key: '["release","20131010"]', records: 30, inputs: 1 });
  });

  it('partitions keys among several reducers and concatenates them in partition order', async () => {
    const single = await run('count.ts', { mappers: 2, reducers: 1 });
    const three = await run('count.ts', { mappers: 2, reducers: 3 });
    expect(three.result.reduceTasks).toBe(3);
    const sortLines = (text: string) => text.trimEnd().split('\n').sort();
    expect(sortLines(three.text)).toEqual(sortLines(single.text));
    // Partitions are concatenated, each sorted: so the whole is sorted only by chance.
    expect(three.result.reduce.records).toBe(expectedCounts().size);
  });

  it('takes separators from setupReduce', async () => {
    const { text } = await run('count.ts', { params: { fieldSeparator: ' => ', recordSeparator: ';\n' } });
    expect(text.split(';\n')[0]).toMatch(/^\["beta","20131011"\] => \{"records":21,"inputs":\d+\}$/);
  });

  it('runs a map-only JavaScript job: map output is the output, in task and file order', async () => {
    const { result, text } = await run('docs.mjs', { mappers: 2, reducers: 5 });
    expect(result.reduceTasks).toBe(0);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(records.length);
    expect(new Set(lines.map((line) => line.split('\t')[0]))).toEqual(new Set(records.map((r) => r.docId)));
    const first = JSON.parse(lines[0]?.split('\t')[1] ?? '{}') as { file: string; date: string };
    expect(first.file).toMatch(/\.log(\.gz|\.lzma)?$/);
    expect((await run('docs.mjs', { mappers: 2 })).text).toBe(text);
  });

  it('names the file and line of a record map throws on, and still removes the intermediate data', async () => {
    const victim = records.find((record) => record.file.endsWith('20131011.v2.wA.2.log.gz') && record.docId.includes('-000007-'));
    expect(victim).toBeDefined();
    const attempt = run('throws.ts', { mappers: 2, params: { failDocId: victim?.docId ?? '' } });
    await expect(attempt).rejects.toThrow(/20131011\.v2\.wA\.2\.log\.gz:8 \(ab-000007-[^)]*\): map failed: RangeError: this record is not welcome/);
    expect(await readdir(path.join(dir, 'work'))).toEqual([]);
  });

  it('stops its processes and removes the intermediate data when interrupted', async () => {
    const marker = path.join(dir, 'interrupt-marker');
    const controller = new AbortController();
    const attempt = run('flaky.ts', { mappers: 2, reducers: 2, params: { marker, delayMs: '50' }, signal: controller.signal });
    attempt.catch(() => undefined);
    await waitFor('a mapper to start', () => existsSync(marker));
    controller.abort();
    await expect(attempt).rejects.toThrow(RunAbortedError);
    const mapperPid = Number(await readFile(marker, 'utf8'));
    expect(() => process.kill(mapperPid, 0)).toThrow(/ESRCH/);
    expect(await readdir(path.join(dir, 'work'))).toEqual([]);
  });

  it('refuses a module without map, and a missing job file', async () => {
    await expect(run('../support/generate.ts')).rejects.toThrow(/must export a function "map"/);
    await expect(run('nope.ts')).rejects.toThrow(/cannot read the job module/);
  });

  it('gives an empty output when the filter selects nothing', async () => {
    const { result, text } = await run('count.ts', { inputFilter: filterJson({ appUpdateChannel: 'esr' }) });
    expect(text).toBe('');
    expect(result.files).toBe(0);
  });
});
