import { z } from 'zod';
import { topologyEnvShape, topologyFromEnv, type Topology } from '@telemetry/shared/amqp/topology';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { opsEnvShape, opsFromEnv, type OpsConfig } from '@telemetry/shared/config/ops';
import { configFromEnv, type Env } from '@telemetry/shared/config/env';
import { durationMsField, integerField, sizeBytesField } from '@telemetry/shared/config/units';

const statsEnvSchema = z.object({
  ...topologyEnvShape,
  STATS_PORT: integerField(8081, { min: 0, max: 65_535 }),
  STATS_HOST: z.string().default('0.0.0.0'),
  ...opsEnvShape,
  /** /metrics is served on this port only, never on STATS_PORT; 0: nowhere. */
  METRICS_PORT: integerField(9466, { min: 0, max: 65_535 }),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  SCHEMA_FILE: z.string().default(DEFAULT_SCHEMA_FILE),
  STATS_PREFIX: z.string().min(1).default('telemetry:stats'),
  STATS_RETENTION: durationMsField('48h'),
  STATS_MAX_VALUES: integerField(1_000),
  /**
   * Unacknowledged stats messages; each is one gateway batch's metadata, so this also bounds the memory they take.
   * 400 = the four batches of 100 the consumer holds at most (two in Redis round trips, one waiting, one filling).
   */
  STATS_PREFETCH: integerField(400),
  /** A batch (one Redis round trip per minute it touches) closes at this many messages, STATS_BATCH_MAX_BYTES of them, or after STATS_BATCH_MAX_WAIT. */
  STATS_BATCH_SIZE: integerField(100),
  STATS_BATCH_MAX_BYTES: sizeBytesField('4MiB'),
  STATS_BATCH_MAX_WAIT: durationMsField('100ms'),
  /** Directory of MapReduce output (histogram aggregates) served under /data/. */
  STATS_DATA_DIR: z.string().default('./var/dashboard-data'),
  SHUTDOWN_TIMEOUT: durationMsField('10s'),
  /** V8 old-space cap of the stats process (run by a small supervising primary, as the gateway). */
  STATS_MAX_HEAP: sizeBytesField('256MiB'),
  /** Password (user `admin`) of /admin/queues; without it the board answers loopback clients only. */
  ADMIN_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  /** BullMQ queues shown on /admin/queues (comma-separated) and their key prefix. */
  MAPREDUCE_QUEUES: z.string().default('telemetry-mapreduce-map,telemetry-mapreduce-reduce,telemetry-mapreduce-schedule'),
  BULLMQ_PREFIX: z.string().min(1).default('bull'),
});

export interface StatsConfig extends OpsConfig {
  readonly amqpUrl: string;
  readonly topology: Topology;
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  readonly schemaFile: string;
  readonly prefix: string;
  readonly retentionMs: number;
  readonly maxValuesPerMinute: number;
  readonly prefetch: number;
  readonly batch: { readonly maxSize: number; readonly maxBytes: number; readonly maxWaitMs: number };
  readonly dataDir: string;
  readonly shutdownTimeoutMs: number;
  readonly maxHeapBytes: number;
  readonly adminToken: string | undefined;
  readonly queueBoard: { readonly queueNames: readonly string[]; readonly prefix: string };
}

/** Parses the stats app's environment; a bad value throws ConfigError naming the variable. */
export function parseStatsConfig(env: Env): StatsConfig {
  return configFromEnv(statsEnvSchema, env, (e) => {
    return {
      amqpUrl: e.AMQP_URL,
      topology: topologyFromEnv(e),
      port: e.STATS_PORT,
      host: e.STATS_HOST,
      ...opsFromEnv(e),
      redisUrl: e.REDIS_URL,
      schemaFile: e.SCHEMA_FILE,
      prefix: e.STATS_PREFIX,
      retentionMs: e.STATS_RETENTION,
      maxValuesPerMinute: e.STATS_MAX_VALUES,
      // A prefetch below the batch size would leave every batch to close on its linger.
      prefetch: Math.max(e.STATS_PREFETCH, e.STATS_BATCH_SIZE),
      batch: { maxSize: e.STATS_BATCH_SIZE, maxBytes: e.STATS_BATCH_MAX_BYTES, maxWaitMs: e.STATS_BATCH_MAX_WAIT },
      dataDir: e.STATS_DATA_DIR,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
      maxHeapBytes: e.STATS_MAX_HEAP,
      adminToken: e.ADMIN_TOKEN,
      queueBoard: {
        queueNames: e.MAPREDUCE_QUEUES.split(',').map((name) => name.trim()).filter((name) => name !== ''),
        prefix: e.BULLMQ_PREFIX,
      },
    };
  });
}
