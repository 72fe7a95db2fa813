import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputFilterError } from '../src/errors.js';
import { loadInputFilter, selectInputFiles } from '../src/input-filter.js';
import { runMapReduce } from '../src/run.js';
import { buildDataSet, filterJson } from './support/dataset.js';
import { writeStorageFile } from './support/generate.js';

const JOBS = path.join(import.meta.dirname, 'jobs');

describe('input filters', () => {
  let dir: string;
  let data: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-filter-'));
    data = path.join(dir, 'data');
    await buildDataSet(data);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const select = async (allowed: Parameters<typeof filterJson>[0]) =>
    (await selectInputFiles(data, await loadInputFilter(filterJson(allowed)))).map((file) => file.path);

  it('selects every storage file with "*" everywhere, the real 2013 names included, in path order', async () => {
    const files = await select({});
    expect(files).toEqual([
      'saved_session/Firefox/beta/23.0/20130812.20131011.v2.wA.1.log.gz',
      'saved_session/Firefox/nightly/22.0a1/20130226031002.20131011.v2.log.lzma',
      'saved_session/Firefox/nightly/24.0a1/20130620030204.20131011.v2.wC.1.log.gz',
      'saved_session/Firefox/nightly/28.0a1/20131029030201.20131029.v2.log.lzma',
      'saved_session/Firefox/release/23.0.1/20130814063812.20131010.v2.wA.1.log.gz',
      'saved_session/Firefox/release/23.0.1/20130814063812.20131011.v2.wA.2.log.gz',
      'saved_session/Firefox/release/23.0.1/20130814063812.20131012.v2.wB.log',
    ]);
  });

  it('sanitises allowed values like stored paths (saved-session matches saved_session)', async () => {
    expect(await select({ reason: 'saved-session', appUpdateChannel: ['release'] })).toHaveLength(3);
    expect(await select({ reason: 'saved.session' })).toEqual([]);
  });

  it('prunes on lists, single strings, numeric and date ranges, and the file-name dimensions', async () => {
    expect(await select({ appUpdateChannel: ['beta', 'nightly'] })).toHaveLength(4);
    expect(await select({ appVersion: { min: '24' } })).toEqual([
      'saved_session/Firefox/nightly/24.0a1/20130620030204.20131011.v2.wC.1.log.gz',
      'saved_session/Firefox/nightly/28.0a1/20131029030201.20131029.v2.log.lzma',
    ]);
    expect(await select({ submission_date: { min: '20131011', max: '20131011' } })).toHaveLength(4);
    expect(await select({ appBuildID: '20130814063812', submission_date: { max: '20131010' } })).toEqual([
      'saved_session/Firefox/release/23.0.1/20130814063812.20131010.v2.wA.1.log.gz',
    ]);
  });

  it("replaces '.' by '_' in the two file-name dimensions, as file names do", async () => {
    await writeStorageFile(data, 'saved_session/Firefox/release/23.0.1/2013_08_14.20131013.v2.wZ.log', 'x\t{}\n');
    expect(await select({ appBuildID: ['2013.08.14'] })).toEqual(['saved_session/Firefox/release/23.0.1/2013_08_14.20131013.v2.wZ.log']);
  });

  it('ignores files that are not storage files (temp files, other formats)', async () => {
    await writeStorageFile(data, 'saved_session/Firefox/release/23.0.1/.x.20131010.v2.wA.log.gz.tmp', 'junk');
    await writeStorageFile(data, 'saved_session/Firefox/release/23.0.1/20130814063812.20131010.v3.wA.log', 'x\t{}\n');
    const counters = { pruned: 0, ignored: 0 };
    const files = await selectInputFiles(data, await loadInputFilter(filterJson({ appUpdateChannel: 'release' })), counters);
    expect(files).toHaveLength(3);
    expect(counters.ignored).toBe(2);
  });

  it('leaves the generic (Glean) layout beside the telemetry one out of telemetry filters', async () => {
    await writeStorageFile(data, 'generic-pings/firefox-desktop/baseline/1/release/120_0.20231010.v2.wA.1.log.gz', 'x\t{}\n');
    const counters = { pruned: 0, ignored: 0 };
    expect(await selectInputFiles(data, await loadInputFilter(filterJson()), counters)).toHaveLength(7);
    expect(counters.ignored).toBe(1);
  });

  it('refuses a dimension named like a property or an index of the list jobs get as dims', async () => {
    for (const name of ['length', 'map', 'at', '0', '__proto__', 'constructor']) {
      await expect(loadInputFilter({ version: 1, dimensions: [{ field_name: name, allowed_values: '*' }, { field_name: 'y', allowed_values: '*' }] })).rejects.toThrow(
        new RegExp(`cannot be named "${name}"`),
      );
    }
  });

  it('refuses a filter that is not schema-shaped, naming the problem', async () => {
    await expect(loadInputFilter({ version: 1, dimensions: [{ field_name: 'x', allowed_values: 3.5 }] })).rejects.toThrow(InputFilterError);
    await expect(loadInputFilter({ version: 1, dimensions: [{ field_name: 'x', allowed_values: { min: 5, max: 1 } }, { field_name: 'y', allowed_values: '*' }] })).rejects.toThrow(
      /min is greater than max/,
    );
    const file = path.join(dir, 'bad.json');
    await writeFile(file, '{not json');
    await expect(loadInputFilter(file)).rejects.toThrow(/not valid JSON/);
  });

  it('never opens a file outside the filter: poison and corrupt files there do not fail the run', async () => {
    // If any of these were opened, the run would fail: a record the job throws
    // on, gzip that is not gzip, a file in a directory the filter leaves out.
    const poison = `poison-1\t${JSON.stringify({ ver: 2, poison: true })}\n`;
    await writeStorageFile(data, 'saved_session/Firefox/aurora/25.0a2/20130901.20131011.v2.wP.log', poison);
    await writeStorageFile(data, 'saved_session/Firefox/release/23.0.1/20130814063812.20131009.v2.wP.log', poison);
    await writeStorageFile(data, 'saved_session/Firefox/release/23.0.1/20130814063812.20131009.v2.wP.1.log.gz', 'not gzip at all', false);
    await writeStorageFile(data, 'saved_session/Fennec/release/23.0.1/20130814063812.20131011.v2.wP.log', poison);
    const filter = filterJson({ appName: 'Firefox', appUpdateChannel: ['release', 'beta'], submission_date: { min: '20131010' } });
    const output = path.join(dir, 'out.txt');
    const result = await runMapReduce({ job: path.join(JOBS, 'poison.ts'), inputFilter: filter, dataDir: data, workDir: path.join(dir, 'work'), output, mappers: 2 });
    expect(await readFile(output, 'utf8')).toBe('beta\t21\nrelease\t63\n');
    expect(result.files).toBe(4);
    expect(result.walk.pruned).toBeGreaterThanOrEqual(3);

    // The control: with the filter opened up, the same files are read and the run fails on them.
    await expect(
      runMapReduce({ job: path.join(JOBS, 'poison.ts'), inputFilter: filterJson({}), dataDir: data, workDir: path.join(dir, 'work'), output, mappers: 2 }),
    ).rejects.toThrow(/poison record|not in gzip format|incorrect header/);
  });
});
