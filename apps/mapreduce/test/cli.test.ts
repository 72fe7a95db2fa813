import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/fixtures.js';
import { startHgServer, type HgServer } from '../../../test/support/hg-server.js';
import { buildDataSet, filterJson } from './support/dataset.js';

const CLI = path.join(REPO_ROOT, 'cli', 'bin', 'telemetry.js');
const JOBS = path.join(import.meta.dirname, 'jobs');

function telemetry(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npx telemetry mapreduce', () => {
  let dir: string;
  let filter: string;
  let hg: HgServer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-cli-'));
    await buildDataSet(path.join(dir, 'data'));
    filter = path.join(dir, 'filter.json');
    await writeFile(filter, JSON.stringify(filterJson({ appUpdateChannel: ['release', 'nightly'] })));
    hg = await startHgServer();
  });
  afterAll(async () => {
    await hg.close();
    await rm(dir, { recursive: true, force: true });
  });

  const common = () => ['--input-filter', filter, '--data-dir', path.join(dir, 'data'), '--work-dir', path.join(dir, 'work')];

  it('runs a job and prints a plain summary (not a terminal), torn lines included', async () => {
    const output = path.join(dir, 'count.txt');
    const { code, stderr, stdout } = await telemetry(['mapreduce', path.join(JOBS, 'count.ts'), ...common(), '--output', output, '--num-mappers', '2', '--num-reducers', '2']);
    expect(stderr).toMatch(/mapreduce: 6 file\(s\), [\d.]+ MiB, 83 record\(s\) in [\d.]+ s/);
    expect(stderr).toContain('1 torn line(s) (cut short by a crash) skipped');
    expect(stdout).toBe('');
    expect(code).toBe(0);
    expect((await readFile(output, 'utf8')).split('\n')).toContain('["release","20131010"]\t{"records":30,"inputs":1}');
  }, 60_000);

  it('runs the shipped histogram job by hand, and publishes it with mapreduce-histograms', async () => {
    const output = path.join(dir, 'histograms.txt');
    const job = path.join(REPO_ROOT, 'apps/mapreduce/src/jobs/histograms.ts');
    const params = ['--param', `hgServer=${hg.url}`, '--param', `revisionCacheDir=${path.join(dir, 'revisions')}`];
    const byHand = await telemetry(['mapreduce', job, ...common(), '--output', output, ...params]);
    expect(byHand.code).toBe(0);
    expect(await readFile(output, 'utf8')).toMatch(/^\["group","saved_session","Firefox","nightly","22\.0a1"\]\t\{"records":1,/);

    const outDir = path.join(dir, 'published');
    const published = await telemetry(['mapreduce-histograms', '--data-dir', path.join(dir, 'data'), '--out-dir', outDir, '--input-filter', filter, '--work-dir', path.join(dir, 'work')], {
      HG_SERVER: hg.url,
      REVISION_CACHE_DIR: path.join(dir, 'revisions'),
    });
    expect(published.stderr).toContain('revision not found: http://hg.mozilla.org/mozilla-central/rev/518f5bff0ae4 (4 record(s)');
    expect(published.code).toBe(0);
    const index = JSON.parse(await readFile(path.join(outDir, 'index.json'), 'utf8')) as { entries: { file: string }[] };
    expect(index.entries.map((entry) => entry.file).sort()).toEqual([
      'saved_session/Firefox/nightly/22.0a1.json',
      'saved_session/Firefox/nightly/24.0a1.json',
      'saved_session/Firefox/nightly/28.0a1.json',
      'saved_session/Firefox/release/23.0.1.json',
    ]);
  }, 60_000);

  it('publishes the dashboard layout with mapreduce-dashboard, incrementally', async () => {
    const outDir = path.join(dir, 'dashboard');
    const args = ['mapreduce-dashboard', '--data-dir', path.join(dir, 'data'), '--out-dir', outDir, '--input-filter', filter, '--work-dir', path.join(dir, 'work'), '--num-mappers', '2'];
    const env = { HG_SERVER: hg.url, REVISION_CACHE_DIR: path.join(dir, 'revisions') };
    const first = await telemetry(args, env);
    expect(first.stderr).toContain('published nightly/22, nightly/24, nightly/28, release/23 in ');
    expect(first.stderr).toContain('5 file(s) merged, 0 processed before, 1 still being written');
    expect(first.stderr).toContain('revision not found: http://hg.mozilla.org/mozilla-central/rev/518f5bff0ae4 (4 record(s)');
    expect(first.code).toBe(0);
    const versions = JSON.parse(await readFile(path.join(outDir, 'versions.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(versions)).toEqual(['nightly/22', 'nightly/24', 'nightly/28', 'release/23']);
    const again = await telemetry(args, env);
    expect(again.stderr).toContain('nothing new to publish');
    expect(again.stderr).toContain('0 file(s) merged, 5 processed before');
    expect(again.code).toBe(0);
  }, 90_000);

  it('skips and reports a record map throws on with --max-bad-records, file and line included', async () => {
    const failDocId = 'aa-000002-0000-0000-000000000000';
    const args = ['mapreduce', path.join(JOBS, 'throws.ts'), ...common(), '--output', path.join(dir, 'z.txt'), '--param', `failDocId=${failDocId}`, '--max-bad-records', '1'];
    const { code, stderr } = await telemetry(args);
    expect(stderr).toContain('1 bad record(s) skipped (--max-bad-records):');
    expect(stderr).toMatch(/\n {2}\S*20131010\.v2\.wA\.1\.log\.gz:3 \(aa-000002-[^)]*\): map failed: RangeError: this record is not welcome\n/);
    expect(code).toBe(0);
    expect((await readFile(path.join(dir, 'z.txt'), 'utf8')).split('\n')).not.toContain(`${failDocId}\t1`);
    const badNumber = await telemetry([...args.slice(0, -1), 'some']);
    expect(badNumber.code).toBe(2);
  }, 60_000);

  it('exits 2 on usage errors: missing option, bad number, bad filter, a module without map', async () => {
    const output = ['--output', path.join(dir, 'x.txt')];
    const job = path.join(JOBS, 'count.ts');
    expect((await telemetry(['mapreduce', job, ...common()])).code).toBe(2);
    const badNumber = await telemetry(['mapreduce', job, ...common(), ...output, '--num-mappers', 'two']);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toContain('--num-mappers must be a whole number');
    const badFilter = await telemetry(['mapreduce', job, ...common().slice(2), '--input-filter', path.join(dir, 'none.json'), ...output]);
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toMatch(/cannot read the schema file/);
    const noMap = await telemetry(['mapreduce', path.join(import.meta.dirname, 'support/generate.ts'), ...common(), ...output]);
    expect(noMap.code).toBe(2);
    expect(noMap.stderr).toContain('must export a function "map"');
  }, 60_000);

  it('exits 1 with the file and line when the job throws', async () => {
    const failDocId = 'aa-000002-0000-0000-000000000000';
    const { code, stderr } = await telemetry(['mapreduce', path.join(JOBS, 'throws.ts'), ...common(), '--output', path.join(dir, 'y.txt'), '--param', `failDocId=${failDocId}`]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/20131010\.v2\.wA\.1\.log\.gz:3 \(aa-000002-[^)]*\): map failed: RangeError: this record is not welcome/);
  }, 60_000);
});
