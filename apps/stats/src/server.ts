/**
 * One stats process: the stats consumer, the counter store, the API and
 * dashboard on STATS_PORT, and graceful shutdown.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '@telemetry/shared/clock';
import { rabbitmqCheck, redisCheck } from '@telemetry/shared/http/health-checks';
import { createAppRegistry } from '@telemetry/shared/metrics/registry';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { createRedis } from '@telemetry/shared/redis';
import { ClosedBucketCache } from '@telemetry/shared/stats/bucket-cache';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { freeDimensionCount, worstCaseBytes } from '@telemetry/shared/stats/memory-bound';
import { createStatsApp } from './app.js';
import type { StatsConfig } from './config.js';
import { StatsConsumer } from './stats-consumer.js';
import { StatsService } from './stats-service.js';
import { mountQueueBoard } from './queue-board.js';
import { getConnInfo } from '@hono/node-server/conninfo';

/** The gateway's timeouts (apps/gateway/src/server.ts): a slow client cannot hold a socket for Node's default 60 s and more. */
function serverOptions(config: StatsConfig) {
  return {
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: config.headersTimeoutMs,
    // Node checks those timeouts only this often (default 30 s): slow clients would hold sockets that long.
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, config.headersTimeoutMs / 2)),
    keepAliveTimeout: 5_000,
    // Node's default, set here so that it is a decision: the stats app's requests carry no large headers.
    maxHeaderSize: 16 * 1024,
  };
}

/**
 * A bucket that ended 2 min ago no longer changes but for a stats backlog;
 * its parsed counts are kept 60 s, so late counts show within a minute.
 */
const CACHE_GRACE_MS = 120_000;
const CACHE_TTL_MS = 60_000;

export interface RunningStats {
  readonly port: number;
  readonly consumer: StatsConsumer;
  readonly store: RedisCounterStore;
  /** This process's metrics (main.ts hands them to the primary, which serves them on METRICS_PORT). */
  readonly registry: Registry;
  stop(): Promise<void>;
}

export async function startStats(config: StatsConfig, logger: Logger, options: { clock?: Clock; streamIntervalMs?: number } = {}): Promise<RunningStats> {
  const registry = createAppRegistry('stats', { version: config.version });
  const counted = new Counter({ name: 'telemetry_stats_counted_total', help: 'Submissions counted from the stats queue', registers: [registry] });
  const lag = new Gauge({
    name: 'telemetry_stats_lag_seconds',
    help: 'How long before its counting the oldest submission of the last counted batch was received (kept while nothing arrives)',
    registers: [registry],
    aggregator: 'max',
  });

  const redis = createRedis(config.redisUrl, logger, { name: 'telemetry-stats' });
  const store = new RedisCounterStore(redis, config.counters);
  const clock = options.clock ?? systemClock;
  const schema = await loadDimensionSchema(config.schemaFile);
  // What an operator sizes Redis for: every bucket at the cap in every dimension clients choose.
  const freeDimensions = freeDimensionCount(schema);
  const worstCaseMiB = Math.round(worstCaseBytes(config.counters, freeDimensions) / 2 ** 20);
  logger.info({ worstCaseMiB, freeDimensions }, 'realtime counters: Redis memory bound');
  const consumer = new StatsConsumer({
    url: config.amqpUrl,
    topology: config.topology,
    prefetch: config.prefetch,
    batch: config.batch,
    schema,
    store,
    isStoreReady: () => redis.status === 'ready',
    logger,
    onCounted: (n, oldestReceivedAtMs) => {
      counted.inc(n);
      lag.set(Math.max(0, (Date.now() - oldestReceivedAtMs) / 1000));
    },
  });
  consumer.start();

  let closeBoard: (() => Promise<void>) | undefined;
  const app = createStatsApp({
    service: new StatsService(store, clock, {
      detailRetentionMs: config.counters.detailRetentionMs,
      maxScanCounters: config.queryLimits.maxScanCounters,
      ...(config.queryLimits.cacheValues > 0
        ? { cache: new ClosedBucketCache({ maxValues: config.queryLimits.cacheValues, ttlMs: CACHE_TTL_MS, graceMs: CACHE_GRACE_MS, nowMs: () => clock.nowMs() }) }
        : {}),
    }),
    retentionMs: config.counters.retentionMs,
    limits: { queries: config.queryLimits, maxStreams: config.maxStreams },
    logger,
    registry,
    isReady: () => consumer.isConnected() && redis.status === 'ready',
    dataDir: config.dataDir,
    dockerflow: {
      checks: { rabbitmq: rabbitmqCheck(config.amqpUrl, config.heartbeatTimeoutMs), redis: redisCheck(config.redisUrl, config.heartbeatTimeoutMs) },
      version: config.version,
      timeoutMs: config.heartbeatTimeoutMs,
    },
    mount: (statsApp) => {
      closeBoard = mountQueueBoard(statsApp, {
        redisUrl: config.redisUrl,
        queueNames: config.queueBoard.queueNames,
        prefix: config.queueBoard.prefix,
        adminToken: config.adminToken,
        remoteAddress: (c) => getConnInfo(c).remote.address,
      });
    },
    hosts: { listenHost: config.host, allowedHosts: config.allowedHosts },
    ...(options.streamIntervalMs ? { streamIntervalMs: options.streamIntervalMs } : {}),
  });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host, serverOptions: serverOptions(config) }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  logger.info({ port }, 'stats listening');

  return {
    port,
    consumer,
    store,
    registry,
    async stop() {
      const http = server as Server;
      // SSE clients keep connections open: close them after a grace period.
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      const timer = setTimeout(() => http.closeAllConnections(), 1_000);
      await consumer.stop();
      await closed;
      clearTimeout(timer);
      await closeBoard?.();
      redis.disconnect();
    },
  };
}
