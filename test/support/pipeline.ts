/**
 * An in-process pipeline for integration tests: a gateway on an ephemeral
 * port and workers, against the real RabbitMQ and Redis, with this test's
 * own topology, Redis prefix, storage and a local Mercurial server.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseGatewayConfig } from '../../apps/gateway/src/config.js';
import { startGateway, type RunningGateway } from '../../apps/gateway/src/server.js';
import { parseWorkersConfig } from '../../apps/workers/src/config.js';
import { startWorker, type RunningWorker } from '../../apps/workers/src/worker.js';
import { parseStatsConfig } from '../../apps/stats/src/config.js';
import { startStats, type RunningStats } from '../../apps/stats/src/server.js';
import type { Topology } from '@telemetry/shared/amqp/topology';
import { silentLogger } from '@telemetry/shared/logger';
import { readRecordLines } from '@telemetry/shared/storage/reader';
import { startHgServer, type HgServer } from './hg-server.js';
import { createTestEnvironment, topologyEnv, type TestEnvironment } from './services.js';

export interface TestPipeline {
  readonly env: TestEnvironment;
  readonly hg: HgServer;
  readonly gateway: RunningGateway;
  readonly workers: RunningWorker[];
  /** Set when started with `stats: true`. */
  readonly stats: RunningStats | undefined;
  readonly statsUrl: string;
  readonly baseUrl: string;
  readonly storageDir: string;
  readonly errorsDir: string;
  workerEnv(slot: number): Record<string, string>;
  startWorker(slot: number): Promise<RunningWorker>;
  submit(pathAfterSubmit: string, body: Uint8Array | string, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export async function startTestPipeline(
  label: string,
  options: {
    workers?: number;
    gatewayEnv?: Record<string, string>;
    workerEnv?: Record<string, string>;
    stats?: boolean;
    topology?: Partial<Topology>;
  } = {},
): Promise<TestPipeline> {
  const env = await createTestEnvironment(label, { retryDelayMs: 500, ...options.topology });
  const hg = await startHgServer();
  const storageDir = path.join(env.dir, 'storage');
  const errorsDir = path.join(env.dir, 'errors');
  const gateway = await startGateway({
    config: parseGatewayConfig({ ...topologyEnv(env.topology), PORT: '0', HOST: '127.0.0.1', GATEWAY_PROCESSES: '1', ...options.gatewayEnv }),
    logger: silentLogger,
  });
  await gateway.sink.waitUntilConnected(10_000);
  const workerEnv = (slot: number): Record<string, string> => ({
    ...topologyEnv(env.topology),
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    STORAGE_DIR: storageDir,
    ERRORS_DIR: errorsDir,
    HG_SERVER: hg.url,
    REVISION_CACHE_DIR: path.join(env.dir, 'revisions'),
    DEDUP_PREFIX: env.redisPrefix,
    STATS_PREFIX: `${env.prefix}stats`,
    WORKER_HOST_ID: 'test',
    WORKER_SLOT: String(slot),
    BATCH_MAX_WAIT: '20ms',
    RETRY_MAX_ATTEMPTS: '3',
    ...options.workerEnv,
  });
  const workers: RunningWorker[] = [];
  const stats = options.stats
    ? await startStats(
        parseStatsConfig({
          ...topologyEnv(env.topology),
          REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
          STATS_PORT: '0',
          STATS_HOST: '127.0.0.1',
          STATS_PREFIX: `${env.prefix}stats`,
          STATS_BATCH_MAX_WAIT: '20ms',
          STATS_DATA_DIR: path.join(env.dir, 'dashboard-data'),
        }),
        silentLogger,
      )
    : undefined;
  if (stats) await stats.consumer.waitUntilConnected(10_000);
  const baseUrl = `http://127.0.0.1:${gateway.port}`;
  const pipeline: TestPipeline = {
    env,
    hg,
    gateway,
    workers,
    stats,
    statsUrl: stats ? `http://127.0.0.1:${stats.port}` : '',
    baseUrl,
    storageDir,
    errorsDir,
    workerEnv,
    async startWorker(slot) {
      const worker = await startWorker(parseWorkersConfig(workerEnv(slot)), silentLogger);
      await worker.consumer.waitUntilConnected(10_000);
      workers.push(worker);
      return worker;
    },
    submit(pathAfterSubmit, body, headers = {}) {
      return fetch(`${baseUrl}/submit/telemetry/${pathAfterSubmit}`, { method: 'POST', body, headers });
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      await stats?.stop();
      await gateway.stop();
      await hg.close();
      await env.cleanup();
    },
  };
  for (let slot = 0; slot < (options.workers ?? 1); slot += 1) await pipeline.startWorker(slot);
  return pipeline;
}

/** Every file under `dir` (recursive), relative paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** All record lines of all record files under `dir` (skipping lock files). */
export async function readAllLines(dir: string): Promise<{ file: string; line: string }[]> {
  const out: { file: string; line: string }[] = [];
  for (const file of await listFiles(dir)) {
    if (file.startsWith('.writers')) continue;
    for await (const line of readRecordLines(path.join(dir, file))) out.push({ file, line });
  }
  return out;
}
