/** The stack for benchmarks: apps as child processes (the way `npm start` runs them) on a private topology. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { deleteTopology, prefixedTopology, type Topology } from '@telemetry/shared/amqp/topology';
import { freePort } from '../test/support/ports.js';
import { topologyEnv } from '../test/support/services.js';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface AppProcess {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") are given to every app process and the processes it forks: for profiling. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');

export function startApp(app: 'gateway' | 'workers' | 'stats', env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, [...NODE_ARGS, '--import', 'tsx', path.join(ROOT, 'apps', app, 'src', 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

export interface BenchStack {
  readonly topology: Topology;
  readonly dir: string;
  readonly port: number;
  readonly statsPort: number;
  /** The environment every app of the stack gets. */
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** A private topology, key prefixes, data directories and ports for one benchmark. */
export async function benchStack(label: string, extraEnv: Record<string, string> = {}, topologyOverrides: Partial<Topology> = {}): Promise<BenchStack> {
  const prefix = `bench-${label}-${Date.now()}.`;
  const topology = prefixedTopology(prefix, topologyOverrides);
  const dir = await mkdtemp(path.join(os.tmpdir(), `bench-${label}-`));
  const [port, statsPort] = [await freePort(), await freePort()];
  const env = {
    ...topologyEnv(topology),
    AMQP_URL, // the bench's own (AMQP_URL), not the tests' (TEST_AMQP_URL)
    PORT: String(port),
    HOST: '127.0.0.1',
    STATS_PORT: String(statsPort),
    STATS_HOST: '127.0.0.1',
    STATS_PREFIX: `${prefix}stats`,
    DEDUP_PREFIX: `${prefix}dedup:`,
    STORAGE_DIR: path.join(dir, 'storage'),
    ERRORS_DIR: path.join(dir, 'errors'),
    REVISION_CACHE_DIR: path.join(dir, 'revisions'),
    // No metrics ports unless a benchmark asks for one (every app has a default port: they would collide).
    METRICS_PORT: '0',
    ...extraEnv,
  };
  return {
    topology,
    dir,
    port,
    statsPort,
    env,
    async cleanup() {
      const connection = await amqp.connect(AMQP_URL);
      const channel = await connection.createChannel();
      await deleteTopology(channel, topology).catch(() => undefined);
      await connection.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Unique docIds in the Firefox URL form, for autocannon's setupRequest. */
export function uniqueSubmitPath(label: string): () => string {
  let counter = 0;
  return () => `/submit/telemetry/${label}-${process.pid}-${Date.now()}-${counter++}/saved-session/Firefox/23.0.1/release/20130814063812`;
}
