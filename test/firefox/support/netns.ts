/**
 * A network namespace of the test's own for the real Firefox: its only link
 * is a veth pair to this machine, a /30 with no default route (IPv4 only:
 * IPv6 is off on both ends of the pair), so nothing it tries can leave the
 * machine. `/etc/netns/<name>/resolv.conf` names a dead resolver inside the
 * namespace, so a name lookup fails at once instead of timing out.
 *
 * Names are unique per run (the namespace, both veth ends, the subnet), and
 * `destroy` (idempotent, synchronous so an exit hook can call it) kills the
 * processes inside, deletes the namespace (the veth pair goes with it) and
 * the resolver file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';

export interface Netns {
  readonly name: string;
  /** This machine's end of the veth pair, and its address (what Firefox may reach). */
  readonly hostInterface: string;
  readonly hostAddress: string;
  /** The namespace's end and its address. */
  readonly nsInterface: string;
  readonly nsAddress: string;
  /** `ip netns exec <name> …`: argv to spawn `command` inside the namespace. */
  execArgs(command: string, args: readonly string[]): string[];
  /** Pids of every process inside the namespace. */
  pids(): number[];
  /** The namespace's routes (`ip route` lines), IPv4 and IPv6. */
  routes(): { v4: string[]; v6: string[] };
  destroy(): void;
}

function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why this machine cannot give the test a namespace with a veth pair (root, iproute2, kernel support), or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'the ip command (iproute2) is missing';
  const probe = `tfx-probe-${randomBytes(3).toString('hex')}`;
  const veth = `tfp${randomBytes(3).toString('hex')}`;
  try {
    ip(['netns', 'add', probe]);
    ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}n`, 'netns', probe]);
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return `ip netns / veth failed: ${stderr !== undefined && stderr !== '' ? stderr : String(error)}`;
  } finally {
    spawnSync('ip', ['link', 'del', veth]);
    spawnSync('ip', ['netns', 'del', probe]);
  }
}

/** A 10.203.X.0/30 whose addresses no interface of this machine holds (another run's, say). */
function freeSubnet(): number {
  const inUse = ip(['-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 64; attempt += 1) {
    const x = randomBytes(1)[0] ?? 0;
    if (!inUse.includes(` 10.203.${x}.`)) return x;
  }
  throw new Error('no free 10.203.X.0/30 subnet for the test namespace');
}

function disableIpv6(prefix: readonly string[], iface: string): void {
  // The kernel may be built without IPv6: then there is nothing to turn off.
  const [command = 'sysctl', ...args] = [...prefix, 'sysctl', '-qw', `net.ipv6.conf.${iface}.disable_ipv6=1`];
  spawnSync(command, args, { stdio: 'ignore' });
}

export function createNetns(): Netns {
  const id = randomBytes(3).toString('hex');
  const name = `telemetry-firefox-${process.pid}-${id}`;
  // Interface names: at most 15 characters.
  const hostInterface = `tfxh${id}`;
  const nsInterface = `tfxn${id}`;
  const subnet = freeSubnet();
  const hostAddress = `10.203.${subnet}.1`;
  const nsAddress = `10.203.${subnet}.2`;
  const etcDir = `/etc/netns/${name}`;
  let destroyed = false;

  const netns: Netns = {
    name,
    hostInterface,
    hostAddress,
    nsInterface,
    nsAddress,
    execArgs: (command, args) => ['netns', 'exec', name, command, ...args],
    pids() {
      const result = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
      if (result.status !== 0) return [];
      return result.stdout.split('\n').filter((line) => /^\d+$/.test(line.trim())).map(Number);
    },
    routes() {
      const lines = (text: string): string[] => text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
      return { v4: lines(ip(['-n', name, '-4', 'route', 'show', 'table', 'all'])), v6: lines(ip(['-n', name, '-6', 'route', 'show', 'table', 'all'])) };
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      // Every process in it is one this test started (Firefox, its children, pingsender, socat).
      for (let round = 0; round < 20; round += 1) {
        const pids = netns.pids();
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        spawnSync('sleep', ['0.1']);
      }
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      spawnSync('ip', ['link', 'del', hostInterface], { stdio: 'ignore' });
      rmSync(etcDir, { recursive: true, force: true });
    },
  };

  try {
    ip(['netns', 'add', name]);
    ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', name]);
    disableIpv6([], hostInterface);
    disableIpv6(['ip', 'netns', 'exec', name], nsInterface);
    ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostInterface]);
    ip(['link', 'set', hostInterface, 'up']);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    ip(['-n', name, 'addr', 'add', `${nsAddress}/30`, 'dev', nsInterface]);
    ip(['-n', name, 'link', 'set', nsInterface, 'up']);
    // `ip netns exec` bind-mounts /etc/netns/<name>/* over /etc: a resolver on the namespace's own (dead) loopback.
    mkdirSync(etcDir, { recursive: true });
    writeFileSync(`${etcDir}/resolv.conf`, '# written by test/firefox: no resolver reachable from this namespace\nnameserver 127.0.0.1\n');
    if (!existsSync(`/run/netns/${name}`)) throw new Error(`ip netns add ${name} left no /run/netns/${name}`);
  } catch (error) {
    netns.destroy();
    throw error;
  }
  return netns;
}
