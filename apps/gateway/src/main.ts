/**
 * `npm run gateway`: the gateway on every core (GATEWAY_PROCESSES, default
 * one per core) with node:cluster. The primary restarts a crashed process
 * with backoff, aggregates metrics, and on SIGTERM/SIGINT stops the
 * processes gracefully and exits 0.
 */
import cluster from 'node:cluster';
import { CONFIG_ERROR_EXIT_CODE, heapCapArgs, installPoolShutdown, parseConfigOrExit, startClusterPool } from '@telemetry/shared/process/cluster-pool';
import { installShutdown } from '@telemetry/shared/process/shutdown';
import { startOpsServerOrExit } from '@telemetry/shared/http/ops-server';
import { createLogger } from '@telemetry/shared/logger';
import { createAppRegistry } from '@telemetry/shared/metrics/registry';
import { answerPool, PoolMetrics, processMetrics } from '@telemetry/shared/metrics/sources';
import { parseGatewayConfig } from './config.js';
import { createGatewayMetrics } from './metrics.js';
import { startGateway } from './server.js';

process.title = 'telemetry-gateway';
const logger = createLogger('gateway');

const config = parseConfigOrExit(parseGatewayConfig, logger);

if (config.processes === 1) {
  await runSingle();
} else if (cluster.isPrimary) {
  await runPrimary();
} else {
  await runClusterWorker();
}

async function runSingle(): Promise<void> {
  const metrics = createGatewayMetrics({ version: config.version });
  await startOpsServerOrExit({ port: config.metricsPort, host: config.metricsHost, logger, source: processMetrics(metrics.registry) });
  const gateway = await startGateway({ config, logger, metrics });
  installShutdown(logger, () => gateway.stop(), { timeoutMs: config.shutdownTimeoutMs });
}

async function runPrimary(): Promise<void> {
  // /metrics of the whole cluster (and of this primary) on METRICS_PORT.
  const source = new PoolMetrics(createAppRegistry('gateway', { version: config.version }));
  await startOpsServerOrExit({ port: config.metricsPort, host: config.metricsHost, logger, source });
  const pool = startClusterPool({
    count: config.processes,
    logger,
    fatalExitCode: CONFIG_ERROR_EXIT_CODE,
    // Without a cap V8 lets an idle-GC-starved heap grow for minutes (seen in the soak).
    execArgv: heapCapArgs(config.maxHeapBytes),
  });
  logger.info({ processes: config.processes, port: config.port }, 'gateway primary started');
  installPoolShutdown(pool, logger, config.shutdownTimeoutMs);
}

async function runClusterWorker(): Promise<void> {
  const metrics = createGatewayMetrics({ version: config.version });
  answerPool(metrics.registry);
  const gateway = await startGateway({ config, logger, metrics });
  installShutdown(logger, () => gateway.stop(), { timeoutMs: config.shutdownTimeoutMs });
}
