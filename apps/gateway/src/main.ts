/**
 * `npm run gateway`: the gateway on every core (GATEWAY_PROCESSES, default
 * one per core) with node:cluster. The primary restarts a crashed process
 * with backoff, aggregates metrics, and on SIGTERM/SIGINT stops the
 * processes gracefully and exits 0.
 */
import cluster, { type Worker } from 'node:cluster';
import { CONFIG_ERROR_EXIT_CODE, heapCapArgs, parseConfigOrExit, startClusterPool, stopOnSignals } from '@telemetry/shared/process/cluster-pool';
import { AggregatorRegistry } from 'prom-client';
import { serve } from '@hono/node-server';
import { createLogger } from '@telemetry/shared/logger';
import { parseGatewayConfig } from './config.js';
import { createGatewayMetrics } from './metrics.js';
import { metricsApp, startGateway } from './server.js';

process.title = 'telemetry-gateway';
const logger = createLogger('gateway');

const config = parseConfigOrExit(parseGatewayConfig, logger);

const METRICS_REQUEST = 'telemetry:gateway-metrics-request';
const METRICS_REPLY = 'telemetry:gateway-metrics-reply';

if (config.processes === 1) {
  await runSingle();
} else if (cluster.isPrimary) {
  runPrimary();
} else {
  await runClusterWorker();
}

async function runSingle(): Promise<void> {
  const gateway = await startGateway({ config, logger });
  stopOnSignals(logger, () => gateway.stop());
}

function runPrimary(): void {
  const aggregator = new AggregatorRegistry();
  const answerMetrics = async (worker: Worker, message: unknown): Promise<void> => {
    if (!isMetricsRequest(message)) return;
    const text = await aggregator.clusterMetrics().catch((error: unknown) => `# metrics unavailable: ${String(error)}\n`);
    worker.send({ type: METRICS_REPLY, id: message.id, text });
  };
  const pool = startClusterPool({
    count: config.processes,
    logger,
    fatalExitCode: CONFIG_ERROR_EXIT_CODE,
    // Without a cap V8 lets an idle-GC-starved heap grow for minutes (seen in the soak).
    execArgv: heapCapArgs(config.maxHeapBytes),
    onWorker: (worker) => worker.on('message', (message: unknown) => void answerMetrics(worker, message)),
  });
  if (config.metricsPort !== undefined) {
    serve({ fetch: metricsApp(() => aggregator.clusterMetrics(), aggregator.contentType).fetch, port: config.metricsPort, hostname: config.metricsHost });
  }
  logger.info({ processes: config.processes, port: config.port }, 'gateway primary started');
  stopOnSignals(logger, async () => {
    await pool.stop();
    logger.info('all gateway processes stopped');
  });
}

async function runClusterWorker(): Promise<void> {
  const metrics = createGatewayMetrics();
  AggregatorRegistry.setRegistries([metrics.registry]);
  // Constructing one is what makes this process answer the primary's metrics requests (prom-client).
  new AggregatorRegistry();
  const pending = new Map<number, (text: string) => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === METRICS_REPLY) {
      const { id, text } = message as { id: number; text: string };
      pending.get(id)?.(text);
      pending.delete(id);
    }
  });
  const metricsText = () =>
    new Promise<string>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      process.send?.({ type: METRICS_REQUEST, id });
    });
  const gateway = await startGateway({ config, logger, metrics, metricsText, serveMetricsPort: false });
  stopOnSignals(logger, () => gateway.stop());
}

function isMetricsRequest(message: unknown): message is { type: string; id: number } {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === METRICS_REQUEST;
}
