import { z } from 'zod';
import type { CounterStoreOptions } from '@telemetry/shared/stats/counter-store';
import { counterStoreEnvShape, counterStoreFromEnv } from '@telemetry/shared/stats/store-config';
import { topologyEnvShape, topologyFromEnv, type Topology } from '@telemetry/shared/amqp/topology';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { opsEnvShape, opsFromEnv, type OpsConfig } from '@telemetry/shared/config/ops';
import { ConfigError, configFromEnv, type Env } from '@telemetry/shared/config/env';
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
  ...counterStoreEnvShape,
  /** Counters (hash fields, four per value at most) one dimension query may read; past it the query is a 400. */
  STATS_QUERY_MAX_COUNTERS: integerField(250_000),
  /** Stats queries running at once, and waiting for a turn (past both: 503 + Retry-After). */
  STATS_QUERY_CONCURRENCY: integerField(4, { min: 1, max: 1_000 }),
  STATS_QUERY_QUEUE: integerField(32, { min: 0, max: 100_000 }),
  /** Values of closed buckets kept parsed for queries (LRU; 0: none, every query reads every bucket). */
  STATS_QUERY_CACHE_VALUES: integerField(100_000, { min: 0, max: 10_000_000 }),
  /** Live streams (/api/stats/stream) open at once (past it: 503 + Retry-After); they share one summary per second. */
  STATS_MAX_STREAMS: integerField(200, { min: 1, max: 100_000 }),
  /**
   * Unacknowledged stats messages; each is one gateway batch's metadata, so this also bounds the memory they take.
   * 400 = four batches of 100 (two in Redis round trips, the others waiting or filling); decoded on arrival, a message holds only its counter entries.
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
  /**
   * Host names (comma-separated, `name` for any port or `name:port`) that state-changing and /admin requests may name,
   * besides the loopback names and a concrete STATS_HOST; also accepted as their Origin (request-guard.ts).
   */
  STATS_ALLOWED_HOSTS: z.string().optional(),
  /** As the gateway's: slow clients cannot hold sockets (Node's defaults would let headers take 60 s and more). */
  REQUEST_TIMEOUT: durationMsField('30s'),
  HEADERS_TIMEOUT: durationMsField('10s'),
});

export interface StatsConfig extends OpsConfig {
  readonly amqpUrl: string;
  readonly topology: Topology;
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  readonly schemaFile: string;
  readonly counters: CounterStoreOptions;
  readonly queryLimits: { readonly maxScanCounters: number; readonly maxConcurrent: number; readonly maxQueued: number; readonly cacheValues: number };
  readonly maxStreams: number;
  readonly prefetch: number;
  readonly batch: { readonly maxSize: number; readonly maxBytes: number; readonly maxWaitMs: number };
  readonly dataDir: string;
  readonly shutdownTimeoutMs: number;
  readonly maxHeapBytes: number;
  readonly adminToken: string | undefined;
  readonly queueBoard: { readonly queueNames: readonly string[]; readonly prefix: string };
  readonly allowedHosts: readonly string[];
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
}

/** Node refuses to start a server whose header timeout exceeds its request timeout: say which variable. */
function headersTimeout(headersMs: number, requestMs: number): number {
  if (headersMs > requestMs) throw new ConfigError([{ variable: 'HEADERS_TIMEOUT', message: `must not exceed REQUEST_TIMEOUT (${requestMs} ms)` }]);
  return headersMs;
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
      counters: counterStoreFromEnv(e),
      queryLimits: {
        maxScanCounters: e.STATS_QUERY_MAX_COUNTERS,
        maxConcurrent: e.STATS_QUERY_CONCURRENCY,
        maxQueued: e.STATS_QUERY_QUEUE,
        cacheValues: e.STATS_QUERY_CACHE_VALUES,
      },
      maxStreams: e.STATS_MAX_STREAMS,
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
      allowedHosts: (e.STATS_ALLOWED_HOSTS ?? '').split(',').map((host) => host.trim().toLowerCase()).filter((host) => host !== ''),
      requestTimeoutMs: e.REQUEST_TIMEOUT,
      headersTimeoutMs: headersTimeout(e.HEADERS_TIMEOUT, e.REQUEST_TIMEOUT),
    };
  });
}
