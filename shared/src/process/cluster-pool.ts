/**
 * A pool of identical processes under node:cluster: `count` slots, a crashed
 * process restarted with exponential backoff (reset after a minute of
 * uptime), and a graceful stop that sends SIGTERM to every process and
 * waits for all of them to exit.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ConfigError } from '../config/env.js';

export interface ClusterPoolOptions {
  readonly count: number;
  readonly logger: Logger;
  /** Extra environment of the process in `slot`. */
  readonly envForSlot?: (slot: number) => Record<string, string>;
  readonly onWorker?: (worker: Worker, slot: number) => void;
  /** Exit code that means "do not restart me" (e.g. bad configuration). */
  readonly fatalExitCode?: number;
  /** Extra Node flags of the pooled processes (e.g. a heap cap). */
  readonly execArgv?: readonly string[];
}

export interface ClusterPool {
  stop(): Promise<void>;
}

export function startClusterPool(options: ClusterPoolOptions): ClusterPool {
  if (options.execArgv) cluster.setupPrimary({ execArgv: [...process.execArgv, ...options.execArgv] });
  const restarts = new Map<number, number>();
  let stopping = false;

  const fork = (slot: number): void => {
    const worker = cluster.fork(options.envForSlot?.(slot) ?? {});
    options.onWorker?.(worker, slot);
    const started = Date.now();
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      if (code !== null && code === options.fatalExitCode) {
        // Restarting would fail the same way; running short of processes would hide it.
        // Stop the others and exit with the same code so a supervisor sees it.
        options.logger.fatal({ slot, code }, 'process exited with a fatal error; stopping the pool');
        void pool.stop().then(() => process.exit(code));
        return;
      }
      const count = Date.now() - started > 60_000 ? 1 : (restarts.get(slot) ?? 0) + 1;
      restarts.set(slot, count);
      const delayMs = Math.min(30_000, 250 * 2 ** Math.min(count, 7));
      options.logger.error({ slot, code, signal, delayMs }, 'process exited; restarting');
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delayMs).unref();
    });
  };

  const pool: ClusterPool = {
    async stop() {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              worker.once('exit', () => resolve());
              worker.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };
  for (let slot = 0; slot < options.count; slot += 1) fork(slot);
  return pool;
}

/** Runs `stop` once on the first SIGTERM or SIGINT, then exits 0 (1 if stopping failed). */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Node flags capping V8's old space at `maxHeapBytes` (never below 64 MiB). */
export function heapCapArgs(maxHeapBytes: number): string[] {
  return [`--max-old-space-size=${Math.max(64, Math.floor(maxHeapBytes / 2 ** 20))}`];
}

/** Exit code for a configuration error: a restart would fail the same way (EX_CONFIG). */
export const CONFIG_ERROR_EXIT_CODE = 78;

/**
 * An app's configuration from process.env; a ConfigError is logged and ends
 * the process with CONFIG_ERROR_EXIT_CODE (a restart would fail the same way).
 */
export function parseConfigOrExit<T>(parse: (env: NodeJS.ProcessEnv) => T, logger: Logger): T {
  try {
    return parse(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.fatal(error.message);
      process.exit(CONFIG_ERROR_EXIT_CODE);
    }
    throw error;
  }
}
