/**
 * The process supervisor behind `npm start`: runs each app (gateway,
 * workers, stats) as a child process, forwards its output line by line,
 * restarts a child that exits with exponential backoff, and stops the whole
 * stack either on request (SIGTERM/SIGINT: graceful, then SIGKILL after a
 * timeout) or when a child reports a configuration error (exit code 78: a
 * restart would fail the same way, so everything stops and the supervisor
 * exits non-zero with the child's message).
 *
 * Each child is the leader of its own process group (`detached`), so the
 * processes it forks itself (the gateway's and the workers' cluster) can be
 * killed with it if it does not stop in time; nothing is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { LineForwarder } from './line-forwarder.js';

/** Exit code of an app whose configuration is invalid (EX_CONFIG; shared/src/process/cluster-pool.ts). */
export const CONFIG_ERROR_EXIT_CODE = 78;

export interface AppSpec {
  /** Short name used in logs ("gateway"). */
  readonly name: string;
  /** Executable and arguments (e.g. node --import tsx apps/gateway/src/main.ts). */
  readonly command: string;
  readonly args: readonly string[];
}

export interface BackoffOptions {
  /** Delay before the first restart. */
  readonly initialMs: number;
  /** Upper bound of the delay. */
  readonly maxMs: number;
  /** A child that ran at least this long counts as healthy: its next crash starts the backoff over. */
  readonly resetAfterMs: number;
}

export interface SupervisorOptions {
  readonly apps: readonly AppSpec[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** How long a graceful stop may take before the remaining processes get SIGKILL. */
  readonly stopTimeoutMs: number;
  readonly backoff?: Partial<BackoffOptions>;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
}

export interface SupervisorResult {
  /** 0 after a requested stop; CONFIG_ERROR_EXIT_CODE after a child's configuration error. */
  readonly exitCode: number;
  /** Why it stopped, for the operator. */
  readonly reason: string;
  /** Processes that had to be killed with SIGKILL. */
  readonly killed: readonly string[];
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

/** The delay before restart number `attempt` (1, 2, …): initial × 2^(attempt−1), capped. */
export function backoffDelayMs(attempt: number, backoff: BackoffOptions = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
}

interface Slot {
  readonly app: AppSpec;
  child: ChildProcess | undefined;
  startedAt: number;
  /** Consecutive quick crashes. */
  crashes: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** Resolves when the current child has exited (and its output is flushed). */
  exited: Promise<void> | undefined;
  readonly stdout: LineForwarder;
  readonly stderr: LineForwarder;
}

export class Supervisor {
  private readonly slots: Slot[];
  private readonly backoff: BackoffOptions;
  private stopping: Promise<SupervisorResult> | undefined;
  private resolveDone!: (result: SupervisorResult) => void;
  /** Settles once the supervisor has stopped, whatever the cause. */
  readonly done: Promise<SupervisorResult>;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const stdout = options.stdout ?? process.stdout;
    const stderr = options.stderr ?? process.stderr;
    this.slots = options.apps.map((app) => ({
      app,
      child: undefined,
      startedAt: 0,
      crashes: 0,
      restarts: 0,
      restartTimer: undefined,
      exited: undefined,
      stdout: new LineForwarder(stdout),
      stderr: new LineForwarder(stderr),
    }));
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  start(): void {
    for (const slot of this.slots) this.spawn(slot);
  }

  /** Pids of the running children (not of the processes they fork). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.slots.map((slot) => [slot.app.name, slot.child?.pid]));
  }

  /** Graceful stop of every child (idempotent); resolves with the result `done` also gets. */
  stop(reason = 'stop requested', exitCode = 0): Promise<SupervisorResult> {
    this.stopping ??= this.stopAll(reason, exitCode).then((result) => {
      this.resolveDone(result);
      return result;
    });
    return this.stopping;
  }

  /** Second signal while stopping: do not wait any longer. */
  killNow(): void {
    for (const slot of this.slots) {
      if (slot.child && slot.child.exitCode === null && slot.child.signalCode === null) {
        this.options.logger.warn({ child: slot.app.name, childPid: slot.child.pid }, 'killing now (SIGKILL)');
        killGroup(slot.child, 'SIGKILL');
      }
    }
  }

  private spawn(slot: Slot): void {
    const { app, logger } = { app: slot.app, logger: this.options.logger };
    const child = spawn(app.command, [...app.args], {
      cwd: this.options.cwd,
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    slot.child = child;
    slot.startedAt = Date.now();
    slot.stdout.reset();
    slot.stderr.reset();
    child.stdout?.on('data', (chunk: Buffer) => slot.stdout.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => slot.stderr.write(chunk));
    logger.info({ child: app.name, childPid: child.pid, restarts: slot.restarts }, 'started');

    slot.exited = new Promise<void>((resolve) => {
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      const finish = (): void => {
        if (exit === undefined) return;
        clearTimeout(flushTimer);
        slot.stdout.flush();
        slot.stderr.flush();
        resolve();
        this.onExit(slot, child, exit.code, exit.signal);
        exit = undefined;
      };
      let flushTimer: NodeJS.Timeout | undefined;
      child.once('error', (error) => {
        // Could not be spawned at all (the 'exit' event may not follow).
        logger.error({ child: app.name, err: error }, 'could not start');
        if (child.pid === undefined) {
          exit = { code: null, signal: null };
          finish();
        }
      });
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        // Wait for the rest of its output (a fatal message), but not for
        // grandchildren that might still hold the pipes open.
        flushTimer = setTimeout(finish, 500);
      });
      child.once('close', () => finish());
    });
  }

  private onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const { logger } = this.options;
    const name = slot.app.name;
    if (this.stopping) {
      logger.info({ child: name, childPid: child.pid, code, signal }, 'exited');
      return;
    }
    // Whatever it forked must not outlive it (a restarted app forks anew).
    killGroup(child, 'SIGTERM');
    if (code === CONFIG_ERROR_EXIT_CODE) {
      const message = fatalMessage(slot) ?? 'configuration error (see the log above)';
      logger.fatal({ child: name, childPid: child.pid, code }, `configuration error; stopping everything: ${message}`);
      void this.stop(`${name}: ${message}`, CONFIG_ERROR_EXIT_CODE);
      return;
    }
    slot.crashes = Date.now() - slot.startedAt >= this.backoff.resetAfterMs ? 1 : slot.crashes + 1;
    const delayMs = backoffDelayMs(slot.crashes, this.backoff);
    logger.error({ child: name, childPid: child.pid, code, signal, delayMs, restarts: slot.restarts }, 'exited unexpectedly; restarting');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      slot.restarts += 1;
      this.spawn(slot);
    }, delayMs);
  }

  private async stopAll(reason: string, exitCode: number): Promise<SupervisorResult> {
    const { logger } = this.options;
    logger.info({ reason }, 'stopping all apps');
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
    }
    const running = this.slots.filter((slot) => slot.child !== undefined && isRunning(slot.child));
    for (const slot of running) {
      try {
        slot.child?.kill('SIGTERM');
      } catch {
        // Already gone.
      }
    }
    const killed: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.stopTimeoutMs);
    });
    const all = Promise.all(running.map((slot) => slot.exited ?? Promise.resolve()));
    if ((await Promise.race([all, timeout])) === 'timeout') {
      for (const slot of running) {
        if (slot.child && isRunning(slot.child)) {
          killed.push(slot.app.name);
          logger.error({ child: slot.app.name, childPid: slot.child.pid, timeoutMs: this.options.stopTimeoutMs }, 'did not stop in time; SIGKILL');
          killGroup(slot.child, 'SIGKILL');
        }
      }
      await all;
    }
    clearTimeout(timer);
    // Processes an app forked and left behind (it should have stopped them
    // itself; helpers such as esbuild's service exit on their own right after).
    const lingerUntil = Date.now() + 2_000;
    while (Date.now() < lingerUntil && this.slots.some((slot) => slot.child && groupAlive(slot.child))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const slot of this.slots) {
      if (slot.child && groupAlive(slot.child)) {
        logger.warn({ child: slot.app.name, pgid: slot.child.pid }, 'processes left behind; SIGKILL');
        killGroup(slot.child, 'SIGKILL');
        killed.push(`${slot.app.name} (forked processes)`);
      }
    }
    logger.info({ reason, killed }, 'all apps stopped');
    return { exitCode, reason, killed };
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Sends `signal` to the child's whole process group; false when there is none left. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(child: ChildProcess): boolean {
  if (child.pid === undefined) return false;
  const members = liveGroupMembers(child.pid);
  if (members !== undefined) return members.length > 0;
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Pids of the processes in group `pgid` that have not exited (zombies, which
 * only wait to be reaped, do not count); undefined where there is no /proc.
 */
export function liveGroupMembers(pgid: number): number[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** State, parent and process group of a process from /proc/<pid>/stat; undefined when it is gone. */
export function readProcStat(pid: number): { state: string; ppid: number; pgrp: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp …": comm may contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgrp] = fields;
  if (state === undefined || ppid === undefined || pgrp === undefined) return undefined;
  return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

/**
 * The message a child gave before exiting with a configuration error: the
 * `msg` of its last fatal (level 60) JSON log line, else its last stderr lines.
 */
export function fatalMessage(slot: { stdout: LineForwarder; stderr: LineForwarder }): string | undefined {
  for (const line of [...slot.stdout.tail, ...slot.stderr.tail].reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (typeof record.level === 'number' && record.level >= 60 && typeof record.msg === 'string') return record.msg;
    } catch {
      // Not JSON: ignore.
    }
  }
  const text = slot.stderr.tail.join('\n').trim();
  return text === '' ? undefined : text;
}
