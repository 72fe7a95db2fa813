/**
 * How every long-running process of the stack stops: on SIGTERM or SIGINT,
 * and when its parent dies (the supervisor or a pool primary killed with
 * SIGKILL, as the OOM killer does), so that no process outlives the tree that
 * started it and the next `npm start` finds its ports and writer ids free.
 * The stop is bounded: past `timeoutMs` (SHUTDOWN_TIMEOUT) the process exits
 * 1 with what was left unfinished, rather than hang.
 */
import type { Logger } from 'pino';

export interface ShutdownOptions {
  /** Longest graceful stop; past it the process exits 1. */
  readonly timeoutMs: number;
  /** How often the parent pid is checked (default 250 ms). */
  readonly parentCheckMs?: number;
}

export type ShutdownCause = NodeJS.Signals | 'parent exited';

/**
 * Runs `stop` once on the first SIGTERM/SIGINT or when the parent process is
 * gone, then exits 0 (1 if stopping failed or outlasted `timeoutMs`).
 */
export function installShutdown(logger: Logger, stop: () => Promise<void>, options: ShutdownOptions): void {
  let stopping = false;
  const begin = (cause: ShutdownCause): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ cause, timeoutMs: options.timeoutMs }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ cause, timeoutMs: options.timeoutMs }, 'graceful stop outlasted SHUTDOWN_TIMEOUT; exiting now');
      process.exit(1);
    }, options.timeoutMs);
    stop().then(
      () => {
        clearTimeout(deadline);
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => begin('SIGTERM'));
  process.on('SIGINT', () => begin('SIGINT'));
  watchParent(() => {
    logger.warn({ parentPid: initialParent }, 'parent process exited; stopping');
    begin('parent exited');
  }, options.parentCheckMs);
}

const initialParent = process.ppid;

/**
 * Calls `onGone` once when this process's parent has exited (Linux has no
 * portable parent-death signal for Node: the parent pid changes when the
 * process is re-parented to init or a subreaper). Processes started by init
 * or a container runtime (parent pid 0 or 1) have no parent to watch.
 */
export function watchParent(onGone: () => void, intervalMs = 250): void {
  if (initialParent <= 1) return;
  const timer = setInterval(() => {
    if (process.ppid === initialParent) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  // The watch alone must not keep a finished process alive.
  timer.unref();
}
