/**
 * The workers' HTTP port, METRICS_PORT (default 9465, loopback): one per
 * host, served by the pool primary for all its processes (or by the worker
 * itself with WORKERS=1). /metrics (the pool's, summed), /status (liveness:
 * the process answers; a broker outage must not get workers restarted),
 * /ready (every one of the WORKERS processes consuming), and the Dockerflow endpoints with the
 * checks RabbitMQ, Redis and the free space of STORAGE_DIR and ERRORS_DIR.
 */
import cluster from 'node:cluster';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { dockerflowApp, type HealthCheck } from '@telemetry/shared/http/dockerflow';
import { freeSpaceCheck, rabbitmqCheck, redisCheck } from '@telemetry/shared/http/health-checks';
import { startOpsServerOrExit, type OpsServer } from '@telemetry/shared/http/ops-server';
import { createAppRegistry } from '@telemetry/shared/metrics/registry';
import { answerPool, PoolMetrics, processMetrics, type MetricsSource } from '@telemetry/shared/metrics/sources';
import type { WorkersConfig } from './config.js';

function workerHealthChecks(config: WorkersConfig): Record<string, HealthCheck> {
  return {
    rabbitmq: rabbitmqCheck(config.amqpUrl, config.heartbeatTimeoutMs),
    redis: redisCheck(config.redisUrl, config.heartbeatTimeoutMs),
    storage_dir: freeSpaceCheck(config.storageDir, config.minFreeSpaceBytes),
    errors_dir: freeSpaceCheck(config.errorsDir, config.minFreeSpaceBytes),
  };
}

/** The routes of the workers' port besides /metrics. */
export function mountWorkerHealth(app: Hono, config: WorkersConfig, source: MetricsSource): void {
  app.get('/status', (c) => c.text('OK'));
  app.get('/ready', async (c) => ((await source.ready()) ? c.text('Ready') : c.text('Not consuming', 503)));
  app.route('/', dockerflowApp({ checks: workerHealthChecks(config), version: config.version, timeoutMs: config.heartbeatTimeoutMs }));
}

/** Listens on METRICS_PORT (nothing when it is 0); a port in use ends the process (exit 1). */
export function startWorkerOps(config: WorkersConfig, logger: Logger, source: MetricsSource): Promise<OpsServer | undefined> {
  return startOpsServerOrExit({
    port: config.metricsPort,
    host: config.metricsHost,
    logger,
    source,
    mount: (app) => mountWorkerHealth(app, config, source),
  });
}

/** In the pool primary: the port for the whole pool (its processes' metrics summed with the primary's). */
export function startPoolOps(config: WorkersConfig, logger: Logger): Promise<OpsServer | undefined> {
  return startWorkerOps(config, logger, new PoolMetrics(createAppRegistry('workers', { version: config.version }), { expected: config.workers }));
}

/**
 * In a worker process: its metrics go to the pool primary (pooled) or on
 * METRICS_PORT (WORKERS=1; bound before the worker starts, so a port in use
 * stops it before it takes its writer id). Returns the setter of its
 * readiness (not ready until the worker runs).
 */
export async function exposeWorkerProcess(config: WorkersConfig, logger: Logger, registry: Registry): Promise<(ready: () => boolean) => void> {
  let ready = (): boolean => false;
  if (cluster.isWorker) answerPool(registry, () => ready());
  else await startWorkerOps(config, logger, processMetrics(registry, () => ready()));
  return (isReady) => {
    ready = isReady;
  };
}
