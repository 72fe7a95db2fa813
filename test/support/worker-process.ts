/**
 * A worker as a real child process (`node --import tsx apps/workers/src/main.ts`
 * with WORKERS=1, so the worker runs in that very process and its pid is the
 * one to kill). Its JSON log lines are kept for the test to wait on and to
 * show when something goes wrong.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './fixtures.js';

export interface LogEntry {
  readonly level?: number;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

export interface WorkerProcess {
  readonly pid: number;
  /** Parsed JSON log lines so far (non-JSON output is kept as `{ msg: line }`). */
  readonly logs: readonly LogEntry[];
  /** The exit, once it happened. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves with the first log entry matching, or rejects on timeout or exit. */
  waitForLog(what: string, match: (entry: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  /** Resolves once the worker consumes (logged 'connected to RabbitMQ'). */
  waitUntilConsuming(timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  waitForExit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last log lines, for failure messages. */
  tail(lines?: number): string;
}

/** Every process started here, so a failed test can still kill what it started. */
const started = new Set<ChildProcess>();

/**
 * `workers` > 1 starts the real pool (a primary restarting its processes,
 * each with WORKER_MAX_HEAP); the pid is then the primary's, and the
 * processes' log lines come through it. No metrics port unless `env` sets
 * METRICS_PORT (tests run in parallel: the default port would be shared).
 */
export function spawnWorkerProcess(env: Record<string, string>, workers = 1): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/workers/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', METRICS_PORT: '0', ...env, WORKERS: String(workers) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('the worker process did not start');
  started.add(child);
  const logs: LogEntry[] = [];
  const raw: string[] = [];
  const listeners = new Set<() => void>();
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  const onLine = (line: string) => {
    if (line.trim() === '') return;
    raw.push(line);
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      entry = { msg: line };
    }
    logs.push(entry);
    for (const listener of listeners) listener();
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        onLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      started.delete(child);
      for (const listener of listeners) listener();
      resolve(exit);
    });
  });

  const tail = (lines = 30) => raw.slice(-lines).join('\n');

  const waitForLog = (what: string, match: (entry: LogEntry) => boolean, timeoutMs = 15_000) =>
    new Promise<LogEntry>((resolve, reject) => {
      let checked = 0;
      const check = () => {
        for (; checked < logs.length; checked += 1) {
          const entry = logs[checked];
          if (entry && match(entry)) {
            done();
            resolve(entry);
            return;
          }
        }
        if (exit) {
          done();
          reject(new Error(`worker ${child.pid} exited (${JSON.stringify(exit)}) before ${what}\n${tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for worker ${child.pid}: ${what}\n${tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const waitForExit = async (timeoutMs = 15_000) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`worker ${child.pid} did not exit within ${timeoutMs} ms\n${tail()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    pid: child.pid,
    logs,
    get exit() {
      return exit;
    },
    waitForLog,
    async waitUntilConsuming(timeoutMs = 20_000) {
      await waitForLog('connected to RabbitMQ', (entry) => entry.msg === 'connected to RabbitMQ', timeoutMs);
    },
    kill(signal) {
      if (!exit) child.kill(signal);
    },
    waitForExit,
    async stop(timeoutMs = 20_000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      try {
        return await waitForExit(timeoutMs);
      } catch (error) {
        child.kill('SIGKILL');
        await exited;
        throw error;
      }
    },
    tail,
  };
}

/** SIGKILLs every worker process this module started that is still running (test clean-up). */
export async function killAllWorkerProcesses(): Promise<void> {
  const running = [...started];
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
