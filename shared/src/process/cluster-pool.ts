/**
 * A pool of identical processes under node:cluster: `count` slots, a crashed
 * process restarted with exponential backoff (reset after a minute of
 * uptime), and a graceful stop that sends SIGTERM to every process, waits
 * for all of them to exit and SIGKILLs those that outlast its bound. The
 * primary keeps running while every slot is down and waiting for a restart
 * (the restart timers hold the event loop): it exits only through stop().
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ConfigError } from '../config/env.js';
import { installShutdown } from './shutdown.js';

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
  /** SIGTERM to every process; those still running after `killAfterMs` get SIGKILL. */
  stop(killAfterMs?: number): Promise<void>;
}

export function startClusterPool(options: ClusterPoolOptions): ClusterPool {
  if (options.execArgv) cluster.setupPrimary({ execArgv: [...process.execArgv, ...options.execArgv] });
  const restarts = new Map<number, number>();
  const restartTimers = new Set<NodeJS.Timeout>();
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
      // Not unref'd: with every slot down, this timer is what keeps the primary (and so the pool) alive.
      const timer = setTimeout(() => {
        restartTimers.delete(timer);
        if (!stopping) fork(slot);
      }, delayMs);
      restartTimers.add(timer);
    });
  };

  const pool: ClusterPool = {
    async stop(killAfterMs = Number.POSITIVE_INFINITY) {
      stopping = true;
      for (const timer of restartTimers) clearTimeout(timer);
      restartTimers.clear();
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
      const killer = Number.isFinite(killAfterMs)
        ? setTimeout(() => {
            for (const worker of workers) {
              if (worker.isDead()) continue;
              options.logger.error({ pid: worker.process.pid, killAfterMs }, 'pooled process did not stop in time; SIGKILL');
              worker.process.kill('SIGKILL');
            }
          }, killAfterMs)
        : undefined;
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              worker.once('exit', () => resolve());
              worker.process.kill('SIGTERM');
            }),
        ),
      );
      clearTimeout(killer);
    },
  };
  for (let slot = 0; slot < options.count; slot += 1) fork(slot);
  return pool;
}

/**
 * Node flags capping V8's heap: old space at `maxHeapBytes` (never below
 * 64 MiB) and each semi-space at `semiSpaceMiB`. The semi-space is set too
 * because its default grew with Node 24 (64 MiB on this machine: a 96 MiB
 * cap gave a 288 MiB heap limit), and the young generation counts against memory.
 */
export function heapCapArgs(maxHeapBytes: number, semiSpaceMiB = 16): string[] {
  return [`--max-old-space-size=${Math.max(64, Math.floor(maxHeapBytes / 2 ** 20))}`, `--max-semi-space-size=${semiSpaceMiB}`];
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

/**
 * The primary's part of a bounded stop: its processes get SHUTDOWN_TIMEOUT
 * (`shutdownTimeoutMs`) each and a little more before SIGKILL, so the primary
 * never exits before them (they would be cut off mid-stop).
 */
export function installPoolShutdown(pool: ClusterPool, logger: Logger, shutdownTimeoutMs: number, beforeStop?: () => Promise<void>): void {
  installShutdown(
    logger,
    async () => {
      await beforeStop?.();
      await pool.stop(shutdownTimeoutMs + POOL_KILL_GRACE_MS);
    },
    { timeoutMs: shutdownTimeoutMs + 2 * POOL_KILL_GRACE_MS },
  );
}

const POOL_KILL_GRACE_MS = 2_000;
