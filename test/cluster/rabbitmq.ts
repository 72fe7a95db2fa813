/**
 * A RabbitMQ cluster of three nodes on this machine, from the installed
 * packages (`rabbitmq-server`, `rabbitmqctl`), each with its own node name
 * (`tlm<id>-<n>@localhost`), data and log directories, configuration, an
 * AMQP listener on an address of its own on the test bridge (port 5672), and
 * an Erlang distribution port on loopback. Nodes 2 and 3 join node 1 with
 * `rabbitmqctl stop_app / join_cluster / start_app`. The nodes run as this
 * user with HOME in the run directory (its own Erlang cookie), so nothing
 * touches the default node (rabbit@localhost) or its cookie.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { run, type Network } from './network.js';

/** Where the packaged scripts are (Debian: the /usr/sbin wrappers would switch to the rabbitmq user and its cookie). */
export function rabbitmqBin(): string | undefined {
  return ['/usr/lib/rabbitmq/bin', '/usr/local/lib/rabbitmq/bin'].find((dir) => existsSync(path.join(dir, 'rabbitmq-server')));
}

/** A node that does not even start (as opposed to one that fails to join: a failure). */
export class NodeStartError extends Error {}

export interface RabbitNode {
  readonly index: number;
  /** Erlang node name, e.g. tlm1a2b-1@localhost. */
  readonly name: string;
  readonly ip: string;
  /** amqp://user:password@ip:5672 */
  readonly url: string;
  readonly dir: string;
}

export interface QueueState {
  readonly name: string;
  readonly type: string;
  readonly leader: string;
  readonly members: string[];
  readonly online: string[];
  readonly messages: number;
}

export interface RabbitCluster {
  readonly nodes: readonly RabbitNode[];
  readonly user: string;
  readonly password: string;
  /** AMQP_URL with every node, starting at node `first` (hosts get the list rotated, to spread connections). */
  brokerList(first?: number): string;
  ctl(node: RabbitNode, args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Queues as a running node sees them. */
  queues(via: RabbitNode): Promise<QueueState[]>;
  /**
   * The first line about `queue` containing `text` that a node (any, or `only`) logged at or after
   * `since` (ms), and when: `candidate -> leader` (a leader elected), `detected a new leader` (a
   * member following one).
   */
  queueEvent(queue: string, text: string, since: number, only?: RabbitNode): Promise<{ node: string; time: number } | undefined>;
  /** The beam process of a node (from its pid file). */
  pid(node: RabbitNode): Promise<number | undefined>;
  kill9(node: RabbitNode): Promise<void>;
  /** Starts a node (again) and resolves once its RabbitMQ application runs. */
  start(node: RabbitNode): Promise<void>;
  /** SIGKILLs every node (the run directory goes with the network). */
  stop(): Promise<void>;
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function nodeConfig(ip: string, user: string, password: string): string {
  return [
    `listeners.tcp.1 = ${ip}:5672`,
    `default_user = ${user}`,
    `default_pass = ${password}`,
    // A node cut off from the majority stops serving rather than diverge.
    'cluster_partition_handling = pause_minority',
    'log.console = false',
    'log.file.level = info',
    '',
  ].join('\n');
}

/** Starts three nodes on `network` (addresses `<subnet>.11`–`.13`) and clusters them. */
export async function startRabbitCluster(network: Network, count = 3): Promise<RabbitCluster> {
  const bin = rabbitmqBin();
  if (!bin) throw new Error('RabbitMQ is not installed (no rabbitmq-server under /usr/lib/rabbitmq/bin)');
  const base = path.join(network.dir, 'rabbitmq');
  const home = path.join(base, 'home');
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase());
  await chmod(path.join(home, '.erlang.cookie'), 0o400);
  await writeFile(path.join(base, 'enabled_plugins'), '[].\n');
  await writeFile(path.join(base, 'rabbitmq-env.conf'), '# the cluster harness sets everything through the environment\n');
  const user = 'telemetry';
  const password = randomBytes(12).toString('hex');
  const nodes: RabbitNode[] = [];
  const distPorts = new Map<string, number>();
  for (let index = 1; index <= count; index += 1) {
    const ip = `${network.subnet}.${10 + index}`;
    const dir = path.join(base, `node${index}`);
    await mkdir(path.join(dir, 'log'), { recursive: true });
    await writeFile(path.join(dir, 'rabbitmq.conf'), nodeConfig(ip, user, password));
    await network.addAddress(ip);
    const node = { index, name: `${network.id}-${index}@localhost`, ip, url: `amqp://${user}:${password}@${ip}:5672`, dir };
    nodes.push(node);
    distPorts.set(node.name, await freeLoopbackPort());
  }

  // ERL_EPMD_ADDRESS: should a node have to start epmd, on loopback only.
  const ctlEnv = { ...process.env, HOME: home, RABBITMQ_CONF_ENV_FILE: path.join(base, 'rabbitmq-env.conf'), ERL_EPMD_ADDRESS: '127.0.0.1' };
  const ctl = (node: RabbitNode, args: readonly string[], timeoutMs = 60_000) => run(path.join(bin, 'rabbitmqctl'), ['-n', node.name, ...args], timeoutMs, ctlEnv);
  const pidFile = (node: RabbitNode) => path.join(node.dir, 'pid');
  const pid = async (node: RabbitNode) => {
    const value = Number((await readFile(pidFile(node), 'utf8').catch(() => '')).trim());
    return value > 0 ? value : undefined;
  };

  const readLog = (node: RabbitNode) => readFile(path.join(node.dir, 'log', `${node.name}.log`), 'utf8').catch(() => '');
  const start = async (node: RabbitNode) => {
    const startsBefore = (await readLog(node)).split('Server startup complete').length - 1;
    const out = openSync(path.join(node.dir, 'server.out'), 'a');
    const child = spawn(path.join(bin, 'rabbitmq-server'), [], {
      detached: true,
      stdio: ['ignore', out, out],
      env: {
        ...ctlEnv,
        RABBITMQ_NODENAME: node.name,
        RABBITMQ_DIST_PORT: String(distPorts.get(node.name)),
        RABBITMQ_MNESIA_BASE: path.join(node.dir, 'mnesia'),
        RABBITMQ_LOG_BASE: path.join(node.dir, 'log'),
        RABBITMQ_CONFIG_FILE: path.join(node.dir, 'rabbitmq.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE: path.join(base, 'enabled_plugins'),
        RABBITMQ_PID_FILE: pidFile(node),
        // Distribution on loopback only: the nodes are on this machine.
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      },
    });
    closeSync(out);
    child.unref();
    let exitCode: number | null | undefined;
    child.once('exit', (code) => (exitCode = code));
    // Its log says when the application runs (cheaper than rabbitmqctl, an Erlang VM per call).
    for (const deadline = Date.now() + 150_000; ; await new Promise((resolve) => setTimeout(resolve, 200))) {
      if ((await readLog(node)).split('Server startup complete').length - 1 > startsBefore) break;
      if (exitCode !== undefined) throw new Error(`${node.name} exited (${exitCode}) while starting; see ${node.dir}/log`);
      if (Date.now() > deadline) throw new Error(`${node.name} did not start within 150 s; see ${node.dir}/log`);
    }
    const beam = await pid(node);
    if (beam) await network.recordProcess(beam, path.join(base, 'home'));
  };

  const kill9 = async (node: RabbitNode) => {
    const beam = await pid(node);
    if (beam === undefined) return;
    try {
      process.kill(beam, 'SIGKILL');
    } catch {
      return;
    }
    while (existsSync(`/proc/${beam}`)) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  const cluster: RabbitCluster = {
    nodes,
    user,
    password,
    brokerList: (first = 0) => nodes.map((_, i) => nodes[(first + i) % nodes.length]?.url ?? '').join(','),
    ctl,
    async queues(via) {
      const text = await ctl(via, ['list_queues', '-q', '--formatter', 'json', 'name', 'type', 'leader', 'members', 'online', 'messages'], 30_000);
      return (JSON.parse(text || '[]') as QueueState[]).map((q) => ({ ...q, members: q.members ?? [], online: q.online ?? [] }));
    },
    async queueEvent(queue, text, since, only) {
      let first: { node: string; time: number } | undefined;
      for (const node of only ? [only] : nodes) {
        for (const line of (await readLog(node)).split('\n')) {
          if (!line.includes(`queue '${queue}' in vhost '/': ${text}`)) continue;
          // 2026-12-01 21:57:28.327081+00:00 [notice] …
          const time = Date.parse(`${line.slice(0, 10)}T${line.slice(11, 23)}Z`);
          if (time >= since && (!first || time < first.time)) first = { node: node.name, time };
        }
      }
      return first;
    },
    pid,
    kill9,
    start,
    async stop() {
      for (const node of nodes) await kill9(node);
    },
  };

  try {
    await Promise.all(nodes.map((node) => start(node).catch((error: unknown) => Promise.reject(new NodeStartError((error as Error).message, { cause: error })))));
    const [seed, ...others] = nodes;
    if (!seed) throw new Error('no node');
    // One at a time (two joining at once can fail in mnesia); once more after a reset if it failed.
    for (const node of others) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await ctl(node, ['stop_app']);
          if (attempt > 1) await ctl(node, ['reset']);
          await ctl(node, ['join_cluster', seed.name]);
          await ctl(node, ['start_app']);
          break;
        } catch (error) {
          if (attempt >= 2) throw error;
        }
      }
    }
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
