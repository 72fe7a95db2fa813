import os from 'node:os';
import type { CounterStoreOptions } from '@telemetry/shared/stats/counter-store';
import { counterStoreEnvShape, counterStoreFromEnv } from '@telemetry/shared/stats/store-config';
import { z } from 'zod';
import { topologyEnvShape, topologyFromEnv, type Topology } from '@telemetry/shared/amqp/topology';
import { conversionEnvShape, DEFAULT_GENERIC_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { opsEnvShape, opsFromEnv, type OpsConfig } from '@telemetry/shared/config/ops';
import { configFromEnv, type Env } from '@telemetry/shared/config/env';
import { durationMsField, integerField, sizeBytesField } from '@telemetry/shared/config/units';

const workersEnvSchema = z.object({
  ...topologyEnvShape,
  ...conversionEnvShape,
  /** Allowed values of the generic layout (Glean pings), per namespace. */
  GENERIC_SCHEMA_FILE: z.string().default(DEFAULT_GENERIC_SCHEMA_FILE),
  /** Compiled revisions kept in memory, by estimated heap (a 2013 Histograms.json compiles to 2.8–3.9 MiB). */
  REVISION_MEMORY_MAX_BYTES: sizeBytesField('96MiB'),
  /** REVISION_CACHE_DIR's bound; the least recently used revisions are evicted beyond it. */
  REVISION_DISK_CACHE_MAX_BYTES: sizeBytesField('256MiB'),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  STORAGE_DIR: z.string().default('./var/storage'),
  ERRORS_DIR: z.string().default('./var/errors'),
  WORKERS: integerField(os.availableParallelism(), { min: 1, max: 256 }),
  MAX_FILE_BYTES: sizeBytesField('64MiB'),
  MAX_FILE_AGE: durationMsField('5m'),
  COMPRESSION: z.enum(['gzip', 'zstd', 'xz', 'none']).default('gzip'),
  /** Finished files are compressed by a child process this much nicer (lower CPU priority); 0: in the worker itself. */
  COMPRESSION_NICE: integerField(10, { min: 0, max: 19 }),
  DEDUP_TTL: durationMsField('24h'),
  DEDUP_PREFIX: z.string().default('telemetry:dedup:'),
  CLAIM_LEASE: durationMsField('60s'),
  /** Unacknowledged messages per process (a gateway message carries up to PUBLISH_BATCH_MAX_SIZE submissions). */
  PREFETCH: integerField(64),
  /** A batch (one write + fsync per file) closes at BATCH_SIZE submissions, BATCH_MAX_BYTES decoded, or after BATCH_MAX_WAIT. */
  BATCH_SIZE: integerField(1_000),
  BATCH_MAX_BYTES: sizeBytesField('8MiB'),
  BATCH_MAX_WAIT: durationMsField('20ms'),
  /** Deaths of worker processes while converting one submission before it is dead-lettered. */
  POISON_LIMIT: integerField(2, { min: 1, max: 100 }),
  /** Longest wait for the broker's confirm of a retry or dead-letter message. */
  CONFIRM_TIMEOUT: durationMsField('5s'),
  HOLD_RECHECK: durationMsField('500ms'),
  RETRY_MAX_ATTEMPTS: integerField(20),
  /** Identifies this host in writer ids (default: the hostname). */
  WORKER_HOST_ID: z.string().regex(/^[A-Za-z0-9_]{1,32}$/, 'only [A-Za-z0-9_], at most 32').optional(),
  /** This process's slot in the pool (set by the pool; 0 when run alone). */
  WORKER_SLOT: integerField(0, { min: 0, max: 10_000 }),
  ...counterStoreEnvShape,
  ...opsEnvShape,
  /** /metrics (the pool's, summed), /status, /ready and the Dockerflow endpoints; 0: no HTTP port. */
  METRICS_PORT: integerField(9465, { min: 0, max: 65_535 }),
  /** /__heartbeat__ fails when STORAGE_DIR's or ERRORS_DIR's file system has less free space. */
  HEARTBEAT_MIN_FREE_SPACE: sizeBytesField('1GiB'),
  SHUTDOWN_TIMEOUT: durationMsField('30s'),
  /** V8 old-space cap of each pooled worker process (WORKERS > 1): memory stays bounded under any load. */
  WORKER_MAX_HEAP: sizeBytesField('256MiB'),
});

export interface WorkersConfig extends OpsConfig {
  readonly amqpUrl: string;
  readonly topology: Topology;
  readonly redisUrl: string;
  readonly storageDir: string;
  readonly errorsDir: string;
  readonly schemaFile: string;
  readonly genericSchemaFile: string;
  readonly hgServer: string;
  readonly revisionCacheDir: string;
  readonly revisionMemoryMaxBytes: number;
  readonly revisionDiskCacheMaxBytes: number;
  readonly maxUncompressedBytes: number;
  readonly workers: number;
  readonly maxFileBytes: number;
  readonly maxFileAgeMs: number;
  readonly compression: 'gzip' | 'zstd' | 'xz' | 'none';
  readonly compressionNice: number;
  readonly dedupTtlMs: number;
  readonly dedupPrefix: string;
  readonly claimLeaseMs: number;
  readonly prefetch: number;
  readonly batch: { readonly maxSize: number; readonly maxBytes: number; readonly maxWaitMs: number };
  readonly poisonLimit: number;
  readonly confirmTimeoutMs: number;
  readonly holdRecheckMs: number;
  readonly retryMaxAttempts: number;
  readonly hostId: string;
  readonly slot: number;
  readonly stats: CounterStoreOptions;
  readonly minFreeSpaceBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly maxHeapBytes: number;
}

/** Parses the workers' environment; a bad value throws ConfigError naming the variable. */
export function parseWorkersConfig(env: Env): WorkersConfig {
  return configFromEnv(workersEnvSchema, env, (e) => {
    return {
      amqpUrl: e.AMQP_URL,
      topology: topologyFromEnv(e),
      redisUrl: e.REDIS_URL,
      storageDir: e.STORAGE_DIR,
      errorsDir: e.ERRORS_DIR,
      schemaFile: e.SCHEMA_FILE,
      genericSchemaFile: e.GENERIC_SCHEMA_FILE,
      hgServer: e.HG_SERVER,
      revisionCacheDir: e.REVISION_CACHE_DIR,
      revisionMemoryMaxBytes: e.REVISION_MEMORY_MAX_BYTES,
      revisionDiskCacheMaxBytes: e.REVISION_DISK_CACHE_MAX_BYTES,
      maxUncompressedBytes: e.MAX_UNCOMPRESSED,
      workers: e.WORKERS,
      maxFileBytes: e.MAX_FILE_BYTES,
      maxFileAgeMs: e.MAX_FILE_AGE,
      compression: e.COMPRESSION,
      compressionNice: e.COMPRESSION_NICE,
      dedupTtlMs: e.DEDUP_TTL,
      dedupPrefix: e.DEDUP_PREFIX,
      claimLeaseMs: e.CLAIM_LEASE,
      prefetch: e.PREFETCH,
      batch: { maxSize: e.BATCH_SIZE, maxBytes: e.BATCH_MAX_BYTES, maxWaitMs: e.BATCH_MAX_WAIT },
      poisonLimit: e.POISON_LIMIT,
      confirmTimeoutMs: e.CONFIRM_TIMEOUT,
      holdRecheckMs: e.HOLD_RECHECK,
      retryMaxAttempts: e.RETRY_MAX_ATTEMPTS,
      hostId: e.WORKER_HOST_ID ?? os.hostname().replace(/[^A-Za-z0-9_]/g, '_').slice(0, 32),
      slot: e.WORKER_SLOT,
      stats: counterStoreFromEnv(e),
      ...opsFromEnv(e),
      minFreeSpaceBytes: e.HEARTBEAT_MIN_FREE_SPACE,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
      maxHeapBytes: e.WORKER_MAX_HEAP,
    };
  });
}

/**
 * The writer id: unique per host and pool slot, so processes on one or many
 * hosts never share a file, and a restarted slot finishes (never appends to)
 * the files its crashed predecessor left. Only [A-Za-z0-9_] (it is part of file names).
 */
export function writerIdFor(config: Pick<WorkersConfig, 'hostId' | 'slot'>): string {
  return `${config.hostId}_w${config.slot}`;
}
