/**
 * `npm run stats`: the stats consumer, API and dashboard (process title
 * telemetry-stats). The primary runs one stats process under node:cluster
 * with a V8 heap cap (STATS_MAX_HEAP) and restarts it with backoff if it
 * crashes; SIGTERM/SIGINT stop it gracefully.
 */
import cluster from 'node:cluster';
import { createLogger } from '@telemetry/shared/logger';
import { CONFIG_ERROR_EXIT_CODE, heapCapArgs, installPoolShutdown, parseConfigOrExit, startClusterPool } from '@telemetry/shared/process/cluster-pool';
import { installShutdown } from '@telemetry/shared/process/shutdown';
import { startOpsServerOrExit } from '@telemetry/shared/http/ops-server';
import { createAppRegistry } from '@telemetry/shared/metrics/registry';
import { answerPool, PoolMetrics } from '@telemetry/shared/metrics/sources';
import { parseStatsConfig } from './config.js';
import { startStats } from './server.js';

process.title = 'telemetry-stats';
const logger = createLogger('stats');

const config = parseConfigOrExit(parseStatsConfig, logger);

if (cluster.isPrimary) {
  // /metrics (the stats process's and this primary's) on METRICS_PORT, never on STATS_PORT.
  const source = new PoolMetrics(createAppRegistry('stats', { version: config.version }));
  await startOpsServerOrExit({ port: config.metricsPort, host: config.metricsHost, logger, source });
  // Without a cap V8 lets a heap starved of idle GC time grow for minutes under
  // CPU contention (seen in the soak); the flag can only be set at process start.
  const pool = startClusterPool({ count: 1, logger, fatalExitCode: CONFIG_ERROR_EXIT_CODE, execArgv: heapCapArgs(config.maxHeapBytes) });
  installPoolShutdown(pool, logger, config.shutdownTimeoutMs);
} else {
  const stats = await startStats(config, logger);
  answerPool(stats.registry, () => stats.consumer.isConnected());
  installShutdown(logger, () => stats.stop(), { timeoutMs: config.shutdownTimeoutMs });
}
