/**
 * Configuration of the batch side, from the environment (SPEC 8), one zod
 * schema for the worker, the scheduled histogram and dashboard jobs and `--distributed`.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { configFromEnv, type Env } from '@telemetry/shared/config/env';
import { durationMsField, integerField } from '@telemetry/shared/config/units';
import type { DistributedOptions } from './distributed/options.js';
import { parseRoots, SHIPPED_JOBS_DIR, type TaskRoots } from './task-roots.js';

/** Values of MAPREDUCE_HISTOGRAM_CRON that mean "not scheduled". */
const CRON_OFF = ['', 'off', 'false', 'none', '0'];

const mapreduceEnvSchema = z.object({
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** Base name of the queues: `<base>-map`, `<base>-reduce`, `<base>-schedule`. */
  MAPREDUCE_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'only [A-Za-z0-9_.-], at most 100')
    .default('telemetry-mapreduce'),
  BULLMQ_PREFIX: z.string().min(1).default('bull'),
  /** Map tasks one worker process runs at once (they are CPU-bound: run a process per core instead). */
  MAPREDUCE_CONCURRENCY: integerField(1, { max: 64 }),
  MAPREDUCE_ATTEMPTS: integerField(3, { max: 100 }),
  MAPREDUCE_BACKOFF: durationMsField('2s'),
  /** A task whose worker stopped renewing its lock for this long is taken over by another worker. */
  MAPREDUCE_LOCK_DURATION: durationMsField('30s'),
  MAPREDUCE_STALLED_INTERVAL: durationMsField('30s'),
  MAPREDUCE_MAX_STALLED: integerField(2, { min: 0, max: 100 }),
  MAPREDUCE_COMBINE_THRESHOLD: integerField(100),
  /** Cron pattern of the histogram job (e.g. "0 * * * *"); unset or "off": not scheduled. */
  MAPREDUCE_HISTOGRAM_CRON: z.string().optional(),
  /** Input filter file of the scheduled histogram job (default: everything). */
  MAPREDUCE_HISTOGRAM_FILTER: z.string().optional(),
  MAPREDUCE_HISTOGRAM_MAPPERS: integerField(os.availableParallelism(), { max: 256 }),
  /** Cron pattern of the dashboard job; unset or "off": not scheduled. */
  MAPREDUCE_DASHBOARD_CRON: z.string().optional(),
  MAPREDUCE_DASHBOARD_FILTER: z.string().optional(),
  MAPREDUCE_DASHBOARD_MAPPERS: integerField(os.availableParallelism(), { max: 256 }),
  /** Where the dashboard job publishes (default: `<STATS_DATA_DIR>/dashboard`, served by the stats app under /data/dashboard/). */
  MAPREDUCE_DASHBOARD_DIR: z.string().optional(),
  /** Records whose map throws that a scheduled dashboard run skips (reported) before it fails. */
  MAPREDUCE_DASHBOARD_MAX_BAD_RECORDS: integerField(100, { min: 0 }),
  MAPREDUCE_WORK_DIR: z.string().default('./var/mapreduce-work'),
  STORAGE_DIR: z.string().default('./var/storage'),
  STATS_DATA_DIR: z.string().default('./var/dashboard-data'),
  SCHEMA_FILE: z.string().default(DEFAULT_SCHEMA_FILE),
  HG_SERVER: z.url().default('https://hg.mozilla.org'),
  REVISION_CACHE_DIR: z.string().default('./var/revision-cache'),
  SHUTDOWN_TIMEOUT: durationMsField('30s'),
  /**
   * Comma-separated directories a worker accepts a task's job module from (default: the shipped jobs),
   * its data directory under (default: STORAGE_DIR) and its run directory under (default: MAPREDUCE_WORK_DIR).
   */
  MAPREDUCE_JOB_ROOTS: z.string().optional(),
  MAPREDUCE_DATA_ROOTS: z.string().optional(),
  MAPREDUCE_WORK_ROOTS: z.string().optional(),
});

export interface MapreduceConfig {
  readonly distributed: DistributedOptions & { readonly roots: TaskRoots };
  readonly concurrency: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  readonly combineThreshold: number;
  readonly histogram: {
    /** undefined: not scheduled. */
    readonly cron: string | undefined;
    readonly filter: string | undefined;
    readonly mappers: number;
    readonly workDir: string;
    readonly dataDir: string;
    readonly outDir: string;
    readonly schemaFile: string;
    readonly hgServer: string;
    readonly revisionCacheDir: string;
  };
  readonly dashboard: {
    /** undefined: not scheduled. */
    readonly cron: string | undefined;
    readonly filter: string | undefined;
    readonly mappers: number;
    readonly maxBadRecords: number;
    readonly outDir: string;
  };
  readonly shutdownTimeoutMs: number;
}

const cronOf = (value: string | undefined): string | undefined => {
  const cron = value?.trim();
  return cron === undefined || CRON_OFF.includes(cron.toLowerCase()) ? undefined : cron;
};

/** Parses the environment; a bad value throws ConfigError naming the variable. */
export function parseMapreduceConfig(env: Env): MapreduceConfig {
  return configFromEnv(mapreduceEnvSchema, env, (e) => ({
    distributed: {
      redisUrl: e.REDIS_URL,
      queue: e.MAPREDUCE_QUEUE,
      prefix: e.BULLMQ_PREFIX,
      attempts: e.MAPREDUCE_ATTEMPTS,
      backoffMs: e.MAPREDUCE_BACKOFF,
      roots: {
        jobs: parseRoots(e.MAPREDUCE_JOB_ROOTS ?? SHIPPED_JOBS_DIR),
        data: parseRoots(e.MAPREDUCE_DATA_ROOTS ?? e.STORAGE_DIR),
        work: parseRoots(e.MAPREDUCE_WORK_ROOTS ?? e.MAPREDUCE_WORK_DIR),
      },
    },
    concurrency: e.MAPREDUCE_CONCURRENCY,
    lockDurationMs: e.MAPREDUCE_LOCK_DURATION,
    stalledIntervalMs: e.MAPREDUCE_STALLED_INTERVAL,
    maxStalledCount: e.MAPREDUCE_MAX_STALLED,
    combineThreshold: e.MAPREDUCE_COMBINE_THRESHOLD,
    histogram: {
      cron: cronOf(e.MAPREDUCE_HISTOGRAM_CRON),
      filter: e.MAPREDUCE_HISTOGRAM_FILTER,
      mappers: e.MAPREDUCE_HISTOGRAM_MAPPERS,
      workDir: e.MAPREDUCE_WORK_DIR,
      dataDir: e.STORAGE_DIR,
      outDir: e.STATS_DATA_DIR,
      schemaFile: e.SCHEMA_FILE,
      hgServer: e.HG_SERVER,
      revisionCacheDir: e.REVISION_CACHE_DIR,
    },
    dashboard: {
      cron: cronOf(e.MAPREDUCE_DASHBOARD_CRON),
      filter: e.MAPREDUCE_DASHBOARD_FILTER,
      mappers: e.MAPREDUCE_DASHBOARD_MAPPERS,
      maxBadRecords: e.MAPREDUCE_DASHBOARD_MAX_BAD_RECORDS,
      outDir: e.MAPREDUCE_DASHBOARD_DIR ?? path.join(e.STATS_DATA_DIR, 'dashboard'),
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
  }));
}
