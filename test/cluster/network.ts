/**
 * Test hosts on one machine: a Linux bridge in the root network namespace
 * (the "switch", with the brokers' addresses and the forwards to Redis and
 * the Mercurial server) and one network namespace per host, joined to it by
 * a veth pair, each with an address of its own. Every name carries the run id
 * (`tlm` + 4 hex digits): bridge `tlm<id>br`, namespaces `tlm<id>-<host>`,
 * the root side of each host's cable `tlm<id><host>`.
 *
 * A run directory (`$TMPDIR/telemetry-cluster/tlm<id>/`) records its owner's
 * pid and every root-namespace process started for it, so a run whose owner
 * died (a killed test, a crashed `npm run cluster`) is cleaned up by the next
 * one: `removeLeftovers()` runs before every start (pipeline.ts).
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const RUNS_ROOT = path.join(os.tmpdir(), 'telemetry-cluster');
const RUN_ID = /^tlm[0-9a-f]{4}$/;

/** Runs a command, resolves to its stdout; the error names the command and its stderr. */
export async function run(command: string, args: readonly string[], timeoutMs = 60_000, env?: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { timeout: timeoutMs, maxBuffer: 16 << 20, ...(env ? { env } : {}) });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: error });
  }
}

const ip = (...args: string[]) => run('ip', args, 10_000);

export interface Host {
  readonly name: string;
  /** Its network namespace. */
  readonly ns: string;
  readonly ip: string;
  /** Starts `command` inside the host (`ip netns exec`: the child's pid is the command's own). */
  spawn(command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
  /** Unplugs / plugs back the host's cable (its root-side veth end: packets are silently dropped). */
  linkDown(): Promise<void>;
  linkUp(): Promise<void>;
  /** SIGKILLs every process of the host. */
  killAll(): Promise<void>;
  /** The host is gone for good: processes killed, cable cut, namespace removed. */
  destroy(): Promise<void>;
}

export interface Network {
  readonly id: string;
  readonly dir: string;
  /** `10.213.N`: the bridge is `.1`, brokers `.11`…, hosts from `.21`. */
  readonly subnet: string;
  readonly bridgeIp: string;
  /** Adds an address of the root namespace on the bridge (a broker's). */
  addAddress(address: string): Promise<void>;
  addHost(name: string, address: string): Promise<Host>;
  /** Remembers a root-namespace process of this run (killed by `destroyRun`, even by a later run). */
  recordProcess(pid: number, marker: string): Promise<void>;
  destroy(): Promise<void>;
}

/** Why this machine cannot run the cluster harness, or undefined when it can. */
export function unsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces and veth pairs need root';
  for (const tool of ['ip', 'socat']) {
    if (!['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((dir) => existsSync(path.join(dir, tool)))) return `${tool} is not installed`;
  }
  return undefined;
}

async function freeSubnet(): Promise<string> {
  const used = await ip('-4', '-o', 'addr', 'show');
  for (let attempt = 0; attempt < 254; attempt += 1) {
    const n = 1 + ((randomBytes(1)[0] ?? 0) % 250);
    if (!used.includes(`10.213.${n}.`)) return `10.213.${n}`;
  }
  throw new Error('no free 10.213.N.0/24 subnet');
}

/** Creates the bridge of a new run (call `removeLeftovers` first). */
export async function createNetwork(): Promise<Network> {
  let id = '';
  do id = `tlm${randomBytes(2).toString('hex')}`;
  while (existsSync(path.join(RUNS_ROOT, id)) || (await ip('-o', 'link', 'show')).includes(id));
  const dir = path.join(RUNS_ROOT, id);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'owner'), `${process.pid}\n`);
  const subnet = await freeSubnet();
  const bridge = `${id}br`;
  const bridgeIp = `${subnet}.1`;
  await ip('link', 'add', bridge, 'type', 'bridge');
  await ip('addr', 'add', `${bridgeIp}/24`, 'dev', bridge);
  await ip('link', 'set', bridge, 'up');
  const hosts: Host[] = [];
  return {
    id,
    dir,
    subnet,
    bridgeIp,
    async addAddress(address) {
      await ip('addr', 'add', `${address}/32`, 'dev', bridge);
    },
    async addHost(name, address) {
      const host = await createHost(id, bridge, name, address);
      hosts.push(host);
      return host;
    },
    async recordProcess(pid, marker) {
      await appendFile(path.join(dir, 'pids'), `${pid}\t${marker}\n`);
    },
    destroy: () => destroyRun(id),
  };
}

async function createHost(id: string, bridge: string, name: string, address: string): Promise<Host> {
  const ns = `${id}-${name}`;
  const cable = `${id}${name}`;
  await ip('netns', 'add', ns);
  await ip('link', 'add', cable, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  await ip('link', 'set', cable, 'master', bridge, 'up');
  await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
  await ip('-n', ns, 'link', 'set', 'eth0', 'up');
  await ip('-n', ns, 'link', 'set', 'lo', 'up');
  const killAll = () => killNamespace(ns);
  return {
    name,
    ns,
    ip: address,
    spawn: (command, args, options) => spawn('ip', ['netns', 'exec', ns, command, ...args], options),
    linkDown: () => ip('link', 'set', cable, 'down').then(() => undefined),
    linkUp: () => ip('link', 'set', cable, 'up').then(() => undefined),
    killAll,
    async destroy() {
      // The cable first: as a host that dies, nothing more leaves it (no reset, no FIN).
      await ip('link', 'set', cable, 'down').catch(() => undefined);
      await killAll();
      await ip('link', 'del', cable).catch(() => undefined);
      await ip('netns', 'del', ns).catch(() => undefined);
    },
  };
}

async function killNamespace(ns: string): Promise<void> {
  const pids = (await ip('netns', 'pids', ns).catch(() => '')).split('\n').filter((line) => /^\d+$/.test(line));
  for (const pid of pids) killQuietly(Number(pid));
  // Wait (briefly) until they are gone, so nothing writes after a host "died".
  for (let i = 0; i < 50 && pids.some((pid) => existsSync(`/proc/${pid}`) && !isZombie(Number(pid))); i += 1) await sleep(20);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function isAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !isZombie(pid);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Removes everything of run `id`: its hosts' processes, the root-namespace
 * processes it recorded (only while their command line still names the
 * run's marker: a pid may have been reused), its mounts, namespaces, links,
 * and its directory. Never throws.
 */
async function destroyRun(id: string): Promise<void> {
  const dir = path.join(RUNS_ROOT, id);
  const namespaces = (await ip('netns', 'list').catch(() => ''))
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((ns) => ns.startsWith(`${id}-`));
  for (const ns of namespaces) await killNamespace(ns);
  const recorded = await readFile(path.join(dir, 'pids'), 'utf8').catch(() => '');
  for (const line of recorded.split('\n')) {
    const [pid, marker] = line.split('\t');
    if (!pid || !marker || !isAlive(Number(pid))) continue;
    const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.replaceAll('\0', ' ').includes(marker)) killQuietly(Number(pid));
  }
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  for (const mount of mounts.split('\n').map((line) => line.split(' ')[1] ?? '')) {
    if (mount.startsWith(`${dir}/`)) await run('umount', ['-l', mount], 10_000).catch(() => undefined);
  }
  for (const ns of namespaces) await ip('netns', 'del', ns).catch(() => undefined);
  const links = (await ip('-o', 'link', 'show').catch(() => '')).split('\n').flatMap((line) => {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    return name?.startsWith(id) ? [name] : [];
  });
  for (const link of links.sort((a, b) => Number(a.endsWith('br')) - Number(b.endsWith('br')))) await ip('link', 'del', link).catch(() => undefined);
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Removes the runs left by owners that are gone (directories, namespaces or
 * links named `tlm<4 hex>` without a live owner); resolves to the runs still
 * alive (another test or `npm run cluster` on this machine).
 */
export async function removeLeftovers(): Promise<{ removed: string[]; live: string[] }> {
  const ids = new Set<string>();
  for (const entry of await readdir(RUNS_ROOT).catch(() => [] as string[])) if (RUN_ID.test(entry)) ids.add(entry);
  for (const line of (await ip('netns', 'list').catch(() => '')).split('\n')) {
    const id = /^(tlm[0-9a-f]{4})-/.exec(line)?.[1];
    if (id) ids.add(id);
  }
  for (const line of (await ip('-o', 'link', 'show').catch(() => '')).split('\n')) {
    const id = /^\d+: (tlm[0-9a-f]{4})/.exec(line)?.[1];
    if (id) ids.add(id);
  }
  const removed: string[] = [];
  const live: string[] = [];
  for (const id of ids) {
    const owner = Number((await readFile(path.join(RUNS_ROOT, id, 'owner'), 'utf8').catch(() => '')).trim());
    if (owner > 0 && isAlive(owner)) {
      live.push(id);
      continue;
    }
    await destroyRun(id);
    removed.push(id);
  }
  return { removed, live };
}
