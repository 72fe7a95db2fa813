import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@telemetry/shared/config/env';
import { silentLogger } from '@telemetry/shared/logger';
import { startHgServer, type HgServer } from '../../../test/support/hg-server.js';
import { REDIS_URL, uniqueName, waitFor } from '../../../test/support/services.js';
import { parseMapreduceConfig } from '../src/config.js';
import { queueNames } from '../src/distributed/options.js';
import { DASHBOARD_SCHEDULER_ID, HISTOGRAM_SCHEDULER_ID } from '../src/distributed/schedules.js';
import { startMapreduceWorker } from '../src/distributed/worker.js';
import type { HistogramIndex } from '../src/histograms/publish.js';
import { buildDataSet } from './support/dataset.js';

describe('the scheduled histogram job', () => {
  let dir: string;
  let hg: HgServer;
  const queue = uniqueName('mr-schedule');
  const prefix = uniqueName('bull');
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mr-schedule-'));
    await buildDataSet(path.join(dir, 'data'));
    hg = await startHgServer();
  });
  afterAll(async () => {
    await hg.close();
    await rm(dir, { recursive: true, force: true });
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const env = (extra: Record<string, string> = {}) => ({
    REDIS_URL,
    MAPREDUCE_QUEUE: queue,
    BULLMQ_PREFIX: prefix,
    STORAGE_DIR: path.join(dir, 'data'),
    STATS_DATA_DIR: path.join(dir, 'dashboard-data'),
    MAPREDUCE_WORK_DIR: path.join(dir, 'work'),
    HG_SERVER: hg.url,
    REVISION_CACHE_DIR: path.join(dir, 'revisions'),
    MAPREDUCE_HISTOGRAM_MAPPERS: '2',
    ...extra,
  });

  async function schedulers(): Promise<{ key: string; pattern?: string | null }[]> {
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const schedule = new Queue(queueNames(queue).schedule, { connection, prefix });
    try {
      return (await schedule.getJobSchedulers()).map((s) => ({ key: s.key, pattern: s.pattern }));
    } finally {
      await schedule.close();
      connection.disconnect();
    }
  }

  it('is off by default; with MAPREDUCE_HISTOGRAM_CRON the worker registers it and it publishes into STATS_DATA_DIR', async () => {
    expect(parseMapreduceConfig({}).histogram.cron).toBeUndefined();
    expect(parseMapreduceConfig({ MAPREDUCE_HISTOGRAM_CRON: 'off' }).histogram.cron).toBeUndefined();
    expect(parseMapreduceConfig({}).histogram.outDir).toBe('./var/dashboard-data');

    const worker = await startMapreduceWorker(parseMapreduceConfig(env({ MAPREDUCE_HISTOGRAM_CRON: '* * * * * *' })), silentLogger);
    try {
      expect(await schedulers()).toEqual([{ key: HISTOGRAM_SCHEDULER_ID, pattern: '* * * * * *' }]);
      const index = path.join(dir, 'dashboard-data', 'index.json');
      await waitFor('the scheduled run to publish index.json', () => existsSync(index), 60_000);
      const published = JSON.parse(await readFile(index, 'utf8')) as HistogramIndex;
      expect(published.entries.map((entry) => entry.file)).toContain('saved_session/Firefox/nightly/28.0a1.json');
      expect(existsSync(path.join(dir, 'dashboard-data', 'saved_session/Firefox/release/23.0.1.json'))).toBe(true);
    } finally {
      await worker.stop();
    }

    // A worker started without the variable removes the schedule.
    const unscheduled = await startMapreduceWorker(parseMapreduceConfig(env()), silentLogger);
    await unscheduled.stop();
    expect(await schedulers()).toEqual([]);
  }, 90_000);

  it('runs the dashboard job on MAPREDUCE_DASHBOARD_CRON, into STATS_DATA_DIR/dashboard, incrementally', async () => {
    expect(parseMapreduceConfig({}).dashboard).toMatchObject({ cron: undefined, outDir: path.join('var', 'dashboard-data', 'dashboard'), maxBadRecords: 100 });
    const worker = await startMapreduceWorker(parseMapreduceConfig(env({ MAPREDUCE_DASHBOARD_CRON: '* * * * * *' })), silentLogger);
    try {
      expect(await schedulers()).toEqual([{ key: DASHBOARD_SCHEDULER_ID, pattern: '* * * * * *' }]);
      const versions = path.join(dir, 'dashboard-data', 'dashboard', 'versions.json');
      const outDir = path.join(dir, 'dashboard-data', 'dashboard');
      // versions.json is the commit point; FILES_* follow it, then the journal goes: wait for the whole commit.
      const committed = () => existsSync(versions) && existsSync(path.join(outDir, 'FILES_PROCESSED')) && !existsSync(path.join(outDir, '.pending-commit.json'));
      await waitFor('the scheduled run to publish versions.json and its FILES_*', committed, 60_000);
      const published = JSON.parse(await readFile(versions, 'utf8')) as Record<string, string>;
      expect(Object.keys(published).sort()).toEqual(['beta/23', 'nightly/22', 'nightly/24', 'nightly/28', 'release/23']);
      // Later ticks find every file processed: they publish nothing new.
      const processed = await readFile(path.join(dir, 'dashboard-data', 'dashboard', 'FILES_PROCESSED'), 'utf8');
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await readFile(path.join(dir, 'dashboard-data', 'dashboard', 'FILES_PROCESSED'), 'utf8')).toBe(processed);
      expect(JSON.parse(await readFile(versions, 'utf8'))).toEqual(published);
    } finally {
      await worker.stop();
    }
    const unscheduled = await startMapreduceWorker(parseMapreduceConfig(env()), silentLogger);
    await unscheduled.stop();
    expect(await schedulers()).toEqual([]);
  }, 90_000);

  it('refuses a bad variable, naming it', () => {
    expect(() => parseMapreduceConfig({ MAPREDUCE_BACKOFF: 'soon' })).toThrow(ConfigError);
    expect(() => parseMapreduceConfig({ MAPREDUCE_QUEUE: 'a queue' })).toThrow(/MAPREDUCE_QUEUE/);
    expect(() => parseMapreduceConfig({ MAPREDUCE_ATTEMPTS: '0' })).toThrow(/MAPREDUCE_ATTEMPTS/);
    expect(() => parseMapreduceConfig({ MAPREDUCE_DASHBOARD_MAX_BAD_RECORDS: '-1' })).toThrow(/MAPREDUCE_DASHBOARD_MAX_BAD_RECORDS/);
  });
});
