/**
 * Process lifecycle with real processes: a pool primary that keeps running
 * while all of its processes are down, a bounded pool stop, a process that
 * stops when its parent is SIGKILLed, and SHUTDOWN_TIMEOUT as a hard bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'lifecycle-script.ts');

interface Started {
  readonly child: ChildProcess;
  readonly events: Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];
const extraPids: number[] = [];

function start(mode: string, env: Record<string, string> = {}): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], { env: { ...process.env, ...env, LIFECYCLE_MODE: mode }, stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  const events: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') events.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, events, exited };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of extraPids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

describe('process lifecycle', () => {
  it('keeps a pool primary running while every process is down, and stops it on SIGTERM', async () => {
    const pool = start('crashing-pool');
    // Each slot crashes, waits for its backoff, crashes again: at least two rounds of two.
    await until('restarts', () => pool.events.filter((e) => 'online' in e).length >= 4);
    expect(pool.child.exitCode).toBeNull();
    pool.child.kill('SIGTERM');
    expect(await pool.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  it('SIGKILLs pooled processes that outlast the stop bound', async () => {
    const pool = start('stubborn-pool', { SHUTDOWN_TIMEOUT_MS: '300' });
    await until('two processes ignoring SIGTERM', () => pool.events.filter((e) => 'stubborn' in e).length >= 2);
    const pids = pool.events.filter((e) => 'stubborn' in e).map((e) => Number(e.stubborn));
    extraPids.push(...pids);
    const stopAt = Date.now();
    pool.child.kill('SIGTERM');
    expect(await pool.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopAt).toBeLessThan(300 + 2_000 + 1_500);
    expect(pool.events.filter((e) => 'ignoredSigterm' in e)).toHaveLength(2);
    await until('pooled processes gone', () => pids.every((pid) => !alive(pid)), 2_000);
  }, 20_000);

  it('stops a process gracefully when its parent is SIGKILLed', async () => {
    const parent = start('parent');
    await until('the child', () => parent.events.some((e) => 'ready' in e));
    const childPid = Number(parent.events.find((e) => 'child' in e)?.child);
    extraPids.push(childPid);
    parent.child.kill('SIGKILL');
    await parent.exited;
    // The child shares the parent's stdout pipe, still read here: it reports its stop, then exits.
    await until('the child to stop', () => parent.events.some((e) => e.stopped === childPid), 3_000);
    await until('the child to exit', () => !alive(childPid), 3_000);
  }, 20_000);

  it('exits 1 when the graceful stop outlasts SHUTDOWN_TIMEOUT', async () => {
    const hanging = start('hanging', { SHUTDOWN_TIMEOUT_MS: '300' });
    await until('ready', () => hanging.events.some((e) => 'ready' in e));
    const stopAt = Date.now();
    hanging.child.kill('SIGTERM');
    expect(await hanging.exited).toEqual({ code: 1, signal: null });
    expect(Date.now() - stopAt).toBeGreaterThanOrEqual(250);
    expect(Date.now() - stopAt).toBeLessThan(3_000);
  }, 20_000);
});
