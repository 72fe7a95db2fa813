/**
 * MapReduce over the generic (Glean) layout: files written by the real
 * PartitionedWriter through convertGenericDecoded (rotated and gzipped, and
 * still open), beside the telemetry data set in one STORAGE_DIR. A filter
 * that names `"layout": "generic"` selects them by namespace, docType and
 * channel; jobs get dims by GENERIC_DIMENSIONS name and index; telemetry
 * filters never see them; a distributed run gives the local run's output.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GENERIC_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { convertGenericDecoded } from '@telemetry/shared/glean/convert-glean';
import { GenericSchemas } from '@telemetry/shared/glean/generic-schema';
import { PartitionedWriter } from '@telemetry/shared/storage/writer';
import { baselinePing, deletionRequestPing } from '../../../test/support/glean.js';
import { runDashboard } from '../src/dashboard/run.js';
import { InputFilterError } from '../src/errors.js';
import { runHistogramAggregates } from '../src/histograms/run.js';
import { loadInputFilter, selectInputFiles } from '../src/input-filter.js';
import { runMapReduce, type MapReduceOptions } from '../src/run.js';
import { buildDataSet, filterJson } from './support/dataset.js';
import { distributedEnvironment, type DistributedEnvironment } from './support/workers.js';

const JOBS = path.join(import.meta.dirname, 'jobs');
const DAY_1 = Date.UTC(2026, 0, 15, 10);
const DAY_2 = Date.UTC(2026, 0, 16, 8);
const CLIENT = 'a0000000-0000-4000-8000-00000000000a';

const genericFilter = (dimensions: Record<string, unknown>) => ({
  version: 1,
  layout: 'generic',
  dimensions: Object.entries(dimensions).map(([field_name, allowed_values]) => ({ field_name, allowed_values })),
});

describe('MapReduce over the generic layout', () => {
  let dir: string;
  let data: string;
  let telemetryFiles: string[];
  let cluster: DistributedEnvironment | undefined;
  let open: PartitionedWriter | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-generic-'));
    data = path.join(dir, 'data');
    await buildDataSet(data);
    telemetryFiles = (await selectInputFiles(data, await loadInputFilter(filterJson()))).map((file) => file.path);
    const schemas = await GenericSchemas.load(DEFAULT_GENERIC_SCHEMA_FILE);
    const record = (docId: string, namespace: string, docType: string, ping: unknown, receivedAtMs: number) => {
      const converted = convertGenericDecoded({ docId, receivedAtMs, generic: { namespace, docType, docVersion: '1' } }, Buffer.from(JSON.stringify(ping)), schemas);
      return { dir: converted.dir, fileStem: converted.fileStem, line: `${converted.docId}\t${converted.json}` };
    };
    const finished = new PartitionedWriter({ rootDir: data, writerId: 'g1', maxFileBytes: 1 << 20, maxFileAgeMs: 60_000, compression: 'gzip' });
    await finished.appendBatch([
      record('b1', 'firefox-desktop', 'baseline', baselinePing({ clientId: CLIENT }), DAY_1),
      record('b2', 'firefox-desktop', 'baseline', baselinePing({ clientId: CLIENT, channel: 'release', displayVersion: '154.0' }), DAY_1),
      record('d1', 'firefox-desktop', 'deletion-request', deletionRequestPing(CLIENT), DAY_1),
      record('f1', 'org-mozilla-fenix', 'baseline', baselinePing({ channel: 'nightly' }), DAY_1),
    ]);
    await finished.close(); // rotated and gzip-compressed
    open = new PartitionedWriter({ rootDir: data, writerId: 'g2', maxFileBytes: 1 << 20, maxFileAgeMs: 60_000, compression: 'none' });
    // Left open, as a running worker's file is.
    await open.appendBatch([record('b3', 'firefox-desktop', 'baseline', baselinePing({ clientId: CLIENT }), DAY_2)]);
  });
  afterAll(async () => {
    await open?.close();
    await cluster?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const select = async (filter: unknown) => (await selectInputFiles(data, await loadInputFilter(filter))).map((file) => file.path);

  it('selects generic files by namespace, docType and channel (values sanitised as stored), never telemetry ones', async () => {
    const all = await select(genericFilter({}));
    expect(all).toHaveLength(5);
    expect(all.every((file) => file.startsWith('generic-pings/'))).toBe(true);
    expect(await select(genericFilter({ namespace: ['firefox-desktop'], docType: 'baseline', channel: ['esr'] }))).toEqual([
      expect.stringMatching(/^generic-pings\/firefox_desktop\/baseline\/1\/esr\/153_8_0esr\.20260115\.v2\.g1\.\d+\.log\.gz$/),
      'generic-pings/firefox_desktop/baseline/1/esr/153_8_0esr.20260116.v2.g2.log',
    ]);
    // Any order, the others "*"; the file-name dimensions with '.' as '_'.
    expect(await select(genericFilter({ version: '154.0', namespace: 'firefox-desktop' }))).toEqual([
      expect.stringMatching(/^generic-pings\/firefox_desktop\/baseline\/1\/release\/154_0\.20260115\.v2\.g1\.\d+\.log\.gz$/),
    ]);
    expect(await select(genericFilter({ docType: ['deletion-request'] }))).toEqual([expect.stringMatching(/\/deletion_request\/1\/esr\//)]);
    expect(await select(genericFilter({ namespace: 'org-mozilla-fenix', submission_date: { min: '20260116' } }))).toEqual([]);
  });

  it('telemetry filters (explicit or default layout) never see the generic files', async () => {
    expect(telemetryFiles.length).toBeGreaterThan(0);
    expect(await select(filterJson())).toEqual(telemetryFiles);
    expect(await select({ ...filterJson(), layout: 'telemetry' })).toEqual(telemetryFiles);
    const output = path.join(dir, 'telemetry-docs.txt');
    const result = await runMapReduce({ job: path.join(JOBS, 'docs.mjs'), inputFilter: filterJson(), dataDir: data, workDir: path.join(dir, 'work'), output, mappers: 2 });
    expect(result.inputFiles).toEqual(telemetryFiles);
    expect(await readFile(output, 'utf8')).not.toContain('generic-pings');
  });

  it('refuses an unknown layout, a dimension the generic layout does not have, a duplicate, and a bad value form', async () => {
    await expect(loadInputFilter({ ...genericFilter({}), layout: 'glean' })).rejects.toThrow(/layout must be one of "telemetry", "generic"/);
    await expect(loadInputFilter(genericFilter({ appName: 'Firefox' }))).rejects.toThrow(/generic layout has no dimension "appName"/);
    const duplicate = { version: 1, layout: 'generic', dimensions: [{ field_name: 'channel', allowed_values: '*' }, { field_name: 'channel', allowed_values: 'esr' }] };
    await expect(loadInputFilter(duplicate)).rejects.toThrow(/duplicate field name "channel"/);
    await expect(loadInputFilter(genericFilter({ channel: true }))).rejects.toThrow(InputFilterError);
    await expect(loadInputFilter({ layout: 'generic', dimensions: [] })).rejects.toThrow(/version/);
    // The shipped jobs read telemetry records.
    const shipped = { dataDir: data, outDir: path.join(dir, 'never'), workDir: path.join(dir, 'work'), filter: genericFilter({}), hgServer: 'http://127.0.0.1:9', revisionCacheDir: path.join(dir, 'revisions') };
    await expect(runHistogramAggregates(shipped)).rejects.toThrow(/histogram job reads the telemetry layout/);
    await expect(runDashboard(shipped)).rejects.toThrow(/dashboard job reads the telemetry layout/);
  });

  it('finds no files (and no error) where no generic ping is stored yet', async () => {
    const empty = await mkdtemp(path.join(dir, 'empty-'));
    expect(await selectInputFiles(empty, await loadInputFilter(genericFilter({})))).toEqual([]);
  });

  const jobOptions = (output: string): MapReduceOptions => ({
    job: path.join(JOBS, 'generic-dims.mjs'),
    inputFilter: genericFilter({ namespace: ['firefox-desktop'], docType: ['baseline', 'deletion-request'], channel: 'esr' }),
    dataDir: data,
    workDir: path.join(dir, 'work'),
    output,
    mappers: 2,
    reducers: 2,
  });

  it('gives jobs dims as a list in GENERIC_DIMENSIONS order with the values by name, in a local run', async () => {
    const output = path.join(dir, 'generic-local.txt');
    const result = await runMapReduce(jobOptions(output));
    expect(result.files).toBe(3);
    const lines = (await readFile(output, 'utf8')).trim().split('\n').sort();
    const parsed = lines.map((line) => line.split('\t').map((part) => JSON.parse(part) as unknown));
    expect(parsed.map(([key]) => key)).toEqual([
      ['baseline', 'firefox_desktop'],
      ['deletion_request', 'firefox_desktop'],
    ]);
    const baseline = (parsed[0]?.[1] ?? []) as { docId: string; list: string[]; byName: string[]; clientId: string }[];
    expect(baseline.map((v) => v.docId).sort()).toEqual(['b1', 'b3']);
    for (const value of baseline) {
      expect(value.byName).toEqual(value.list);
      expect(value.clientId).toBe(CLIENT);
    }
    expect(baseline.map((v) => v.list).sort()).toEqual([
      ['firefox_desktop', 'baseline', '1', 'esr', '153_8_0esr', '20260115'],
      ['firefox_desktop', 'baseline', '1', 'esr', '153_8_0esr', '20260116'],
    ]);
  });

  it('gives the same output in a distributed run (the plan carries the generic paths and field names to the workers)', async () => {
    cluster = distributedEnvironment('generic');
    await cluster.startWorker();
    const local = path.join(dir, 'generic-local-2.txt');
    const remote = path.join(dir, 'generic-remote.txt');
    const localResult = await runMapReduce(jobOptions(local));
    const remoteResult = await runMapReduce({ ...jobOptions(remote), distributed: cluster.options });
    expect(remoteResult.inputFiles).toEqual(localResult.inputFiles);
    expect(remoteResult.map.records).toBe(3);
    expect(await readFile(remote, 'utf8')).toBe(await readFile(local, 'utf8'));
  }, 90_000);
});
