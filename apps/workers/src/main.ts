/**
 * `npm run workers`: WORKERS worker processes on this host (node:cluster),
 * each with its own writer id (host + slot). A crashed process is restarted
 * with backoff; SIGTERM/SIGINT stops all gracefully and exits 0.
 * With WORKERS=1 the worker runs in this process.
 */
import cluster from 'node:cluster';
import { createLogger } from '@telemetry/shared/logger';
import { CONFIG_ERROR_EXIT_CODE, heapCapArgs, installPoolShutdown, parseConfigOrExit, startClusterPool } from '@telemetry/shared/process/cluster-pool';
import { installShutdown } from '@telemetry/shared/process/shutdown';
import { parseWorkersConfig } from './config.js';
import { createWorkerMetrics } from './metrics.js';
import { exposeWorkerProcess, startPoolOps } from './ops.js';
import { startWorker } from './worker.js';
import { WriterIdTakenError } from './writer-lock.js';

process.title = 'telemetry-worker';
const WORKER_SEMI_SPACE_MIB = 32;
const logger = createLogger('worker');

const config = parseConfigOrExit(parseWorkersConfig, logger);

if (cluster.isPrimary && config.workers > 1) {
  await startPoolOps(config, logger);
  const pool = startClusterPool({
    count: config.workers,
    logger,
    fatalExitCode: CONFIG_ERROR_EXIT_CODE,
    envForSlot: (slot) => ({ WORKER_SLOT: String(slot), WORKERS: '1' }),
    // As the gateway's: a capped heap makes V8 grow it in small steps (seen in the soak).
    // A larger young generation: conversion allocates ~250 KiB per ping that dies young; measured (bench
    // ingest-path, CPU per ping): 32 MiB semi-spaces cut the workers' CPU per ping by ~15 % and GC by ~20 %.
    execArgv: heapCapArgs(config.maxHeapBytes, WORKER_SEMI_SPACE_MIB),
  });
  logger.info({ workers: config.workers }, 'worker pool started');
  installPoolShutdown(pool, logger, config.shutdownTimeoutMs);
} else {
  const metrics = createWorkerMetrics({ version: config.version });
  const setReady = await exposeWorkerProcess(config, logger, metrics.registry);
  try {
    const worker = await startWorker(config, logger, metrics);
    setReady(() => worker.consumer.isConnected());
    installShutdown(logger, () => worker.stop(), { timeoutMs: config.shutdownTimeoutMs });
  } catch (error) {
    if (error instanceof WriterIdTakenError) {
      logger.fatal(error.message);
      process.exit(CONFIG_ERROR_EXIT_CODE);
    }
    throw error;
  }
}
