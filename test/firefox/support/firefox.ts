/**
 * Debian's Firefox ESR, headless, inside the test's network namespace; socat
 * there forwarding `localhost:<port>` (both forms) to the recorder on the veth
 * address; a DNS sink answering the namespace's name lookups. Firefox's output
 * goes to a log file per run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readProcStat } from '../../../scripts/supervisor/supervisor.js';
import type { Netns } from './netns.js';

/** The Firefox binary: FIREFOX_PATH (when executable), else firefox-esr (Debian's package) or firefox on PATH; undefined when none. */
export function findFirefox(): string | undefined {
  const explicit = process.env.FIREFOX_PATH;
  if (explicit !== undefined && explicit !== '') {
    try {
      accessSync(explicit, constants.X_OK);
      return explicit;
    } catch {
      return undefined;
    }
  }
  for (const name of ['firefox-esr', 'firefox']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim() !== '') return found.stdout.trim();
  }
  return undefined;
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export function firefoxVersion(binary: string): string {
  return spawnSync(binary, ['--version'], { encoding: 'utf8', env: { ...process.env, MOZ_HEADLESS: '1' } }).stdout.trim();
}

/** Variables that could send a child's traffic elsewhere (a proxy): never passed on. */
const PROXY_VARIABLES = /^(https?|ftp|all|no)_proxy$/i;

/** The environment without proxy settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!PROXY_VARIABLES.test(name)) env[name] = value;
  return { ...env, ...extra };
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function exitWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (!isRunning(child)) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const exited = once(child, 'exit').then(() => true);
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** socat in the namespace: 127.0.0.1:<port> and [::1]:<port> → <target>. Resolves once both listen. */
export async function startForwarder(netns: Netns, port: number, target: { host: string; port: number }): Promise<ChildProcess[]> {
  const forwarders = [
    ['TCP4-LISTEN', '127.0.0.1'],
    ['TCP6-LISTEN', '[::1]'],
  ].map(([listen, bind]) =>
    spawn('ip', netns.execArgs('socat', [`${listen}:${port},bind=${bind},reuseaddr,fork`, `TCP4:${target.host}:${target.port}`]), { stdio: 'ignore' }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const listening = spawnSync('ip', netns.execArgs('ss', ['-Hltn']), { encoding: 'utf8' }).stdout;
    if (listening.includes(`127.0.0.1:${port} `) && listening.includes(`[::1]:${port} `)) return forwarders;
    if (forwarders.some((child) => !isRunning(child)) || Date.now() > deadline) {
      for (const child of forwarders) child.kill('SIGKILL');
      throw new Error(`socat did not come up in ${netns.name} on port ${port}:\n${listening}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const DNS_SINK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dns-sink.ts');

/** support/dns-sink.ts in the namespace on 127.0.0.1:53, logging every name asked for to `logFile`. Resolves once it listens. */
export async function startDnsSink(netns: Netns, logFile: string, cwd: string): Promise<ChildProcess> {
  const child = spawn('ip', netns.execArgs(process.execPath, ['--import', 'tsx', DNS_SINK, logFile]), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listening = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes('listening')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`dns-sink exited (${code}) in ${netns.name}:\n${output}`)));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`dns-sink did not listen within 20 s in ${netns.name}:\n${output}`)), 20_000);
  });
  try {
    await Promise.race([listening, timeout]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return child;
}

/** The names the DNS sink was asked for, with how often. */
export function dnsQueries(logFile: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return counts;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const { name } = JSON.parse(line) as { name: string };
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

export interface FirefoxRun {
  /** How it ended: its start page closed its only window (a normal quit), or signals after the grace time. */
  readonly quit: 'window.close' | 'SIGTERM' | 'SIGKILL';
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Seconds from start to exit. */
  readonly seconds: number;
  /** How long the processes Firefox left in the namespace (pingsender) took to end after it. */
  readonly lingeringMs: number;
  /** Those still there after the grace time, SIGKILLed. */
  readonly lingerKilled: number[];
}

/**
 * A start page that closes its window after `ms`: the last window closing is a
 * normal quit (shutdown pings, pingsender), which SIGTERM is not: Firefox 153
 * headless dies of it at once, its unsent pings lost and the session
 * "aborted". Needs `dom.allow_scripts_to_close_windows` (user.js.template).
 */
export function closingPage(ms: number): string {
  return `<!doctype html><meta charset="utf-8"><title>test/firefox</title><p>Closes itself after ${ms} ms.</p><script>setTimeout(() => window.close(), ${ms});</script>\n`;
}

/**
 * Runs Firefox in the namespace on `startUrl` (a closingPage of `runMs`) and
 * waits for it to quit; SIGTERM after `runMs` + `graceMs`, SIGKILL 5 s later.
 * Then waits for every other process it left in the namespace (everything but
 * `keep` and their children) for up to `graceMs`, and SIGKILLs what is left.
 */
export async function runFirefox(options: {
  netns: Netns;
  binary: string;
  profileDir: string;
  startUrl: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  runMs: number;
  graceMs: number;
  keep: readonly number[];
}): Promise<FirefoxRun> {
  const { netns } = options;
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  const startedAt = Date.now();
  try {
    // `ip netns exec` execs the command: the child's pid is Firefox's.
    child = spawn('ip', netns.execArgs(options.binary, ['--headless', '--no-remote', '--profile', options.profileDir, options.startUrl]), {
      env: options.env,
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
  // Most of the run: anything that ends it earlier is a crash or a refusal to start.
  if (await exitWithin(child, Math.max(0, options.runMs - 5_000))) {
    throw new Error(`Firefox exited after ${Date.now() - startedAt} ms of ${options.runMs} (code ${child.exitCode}, signal ${child.signalCode}); log ${options.logFile}:\n${tail(options.logFile)}`);
  }
  let quit: FirefoxRun['quit'] = 'window.close';
  if (!(await exitWithin(child, 5_000 + options.graceMs))) {
    quit = 'SIGTERM';
    child.kill('SIGTERM');
    if (!(await exitWithin(child, 5_000))) {
      quit = 'SIGKILL';
      child.kill('SIGKILL');
      await exitWithin(child, 5_000);
    }
  }
  const seconds = Math.round((Date.now() - startedAt) / 100) / 10;
  // pingsender (and any content process) left in the namespace; the forwarders and their per-connection children stay.
  const lingerStart = Date.now();
  const others = (): number[] =>
    netns.pids().filter((pid) => {
      const stat = readProcStat(pid);
      return stat !== undefined && stat.state !== 'Z' && !options.keep.includes(pid) && !options.keep.includes(stat.ppid);
    });
  while (others().length > 0 && Date.now() - lingerStart < options.graceMs) await new Promise((resolve) => setTimeout(resolve, 200));
  const lingerKilled = others();
  for (const pid of lingerKilled) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  return { quit, exitCode: child.exitCode, signal: child.signalCode, seconds, lingeringMs: Date.now() - lingerStart, lingerKilled };
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
