/**
 * The whole pipeline spread over test hosts (network.ts) around a
 * three-node RabbitMQ cluster (rabbitmq.ts):
 *
 *   host gw1, gw2   a gateway each (port 8080)
 *   host wk1        workers, WORKERS=2, STORAGE_DIR of its own; a mapreduce-worker (`mapreduce()`)
 *   host wk2        workers, WORKERS=1, STORAGE_DIR of its own; a mapreduce-worker (`mapreduce()`)
 *   host st         the stats app (port 8081)
 *   host cl         the client (client.ts) and the MapReduce client
 *   root namespace  the brokers (<subnet>.11–.13:5672), and on the bridge
 *                   address forwards (socat) to Redis and to the local
 *                   Mercurial server, which stay on loopback
 *
 * Every app gets the same broker list, rotated per host so that every node
 * serves some connections; Redis keys and BullMQ queues carry the run id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { connectFirst } from '@telemetry/shared/amqp/broker-list';
import { REPO_ROOT } from '../support/fixtures.js';
import { startHgServer, type HgServer } from '../support/hg-server.js';
import { createNetwork, removeLeftovers, type Host, type Network } from './network.js';
import { NodeStartError, startRabbitCluster, type RabbitCluster } from './rabbitmq.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PERSIST_QUEUE = 'telemetry.persist';

export interface ClusterApp {
  readonly name: string;
  readonly host: Host;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<void>;
  /** SIGTERM, SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface WorkerHost {
  readonly host: Host;
  readonly processes: number;
  readonly storageDir: string;
  readonly errorsDir: string;
  /** Its workers' port (/metrics, /ready). */
  readonly opsUrl: string;
  readonly app: ClusterApp;
}

export interface Attempt {
  readonly id: string;
  /** Gateway index. */
  readonly g: number;
  /** HTTP status, 0 for a network error or timeout. */
  readonly s: number;
  readonly t0: number;
  readonly t1: number;
}

export interface ClientRun {
  readonly attempts: Attempt[];
  accepted(): string[];
  /** SIGTERM: no new docIds; resolves once those in hand are accepted (or given up) and the client exited. */
  stop(): Promise<void>;
}

export interface Connected {
  readonly broker: string;
  readonly time: number;
}

export interface ClusterPipeline {
  readonly network: Network;
  readonly rabbit: RabbitCluster;
  readonly hosts: Readonly<Record<'gw1' | 'gw2' | 'wk1' | 'wk2' | 'st' | 'cl', Host>>;
  readonly gatewayUrls: readonly string[];
  readonly statsUrl: string;
  readonly workerHosts: readonly WorkerHost[];
  readonly apps: readonly ClusterApp[];
  /** Messages and consumers of the persist queue, asked of any node that answers. */
  persistQueue(): Promise<{ messages: number; consumers: number }>;
  startClient(options: { prefix: string; concurrency?: number; pauseMs?: number; badEvery?: number }): ClientRun;
  /** The brokers each app process connected to, in order, and when (the apps' "connected to RabbitMQ" log lines). */
  brokerHistory(): Promise<Record<string, Connected[]>>;
  /** Log lines of the apps that contain `text`, per app. */
  logLines(text: string): Promise<Record<string, number>>;
  /** `telemetry mapreduce --distributed` from the client host, over `dataDir`, on the mapreduce-workers of both worker hosts. */
  mapreduce(dataDir: string): Promise<{ output: string; ms: number }>;
  stop(): Promise<void>;
}

/** The machine cannot run the harness (no namespaces, no RabbitMQ node): a reason to skip, not a failure. */
export class ClusterUnavailable extends Error {}

/**
 * Deletes the Redis keys of runs (`tlm<id>:…` dedup and stats keys, `tlm<id>bull:…` BullMQ's):
 * those of `only`, or when it is undefined those of every run not in `keep` (runs that are gone).
 */
async function deleteRunKeys(options: { only?: string; keep?: readonly string[] }): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    // As buffers: the dedup keys end with a binary digest, which a string would mangle.
    for (let cursor = '0'; ; ) {
      const [nextCursor, keys] = await redis.scanBuffer(cursor, 'MATCH', options.only ? `${options.only}*` : 'tlm*', 'COUNT', 1000);
      const ours = keys.filter((key) => {
        const id = /^(tlm[0-9a-f]{4})(?::|bull:)/.exec(key.subarray(0, 12).toString('latin1'))?.[1];
        return id !== undefined && (options.only ? id === options.only : !(options.keep ?? []).includes(id));
      });
      if (ours.length > 0) await redis.del(...ours);
      cursor = String(nextCursor);
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

/** A TCP forward on the bridge address to a service on loopback (socat, one process per connection). */
async function forward(network: Network, port: number, target: string): Promise<void> {
  const child = spawn('socat', [`TCP-LISTEN:${port},bind=${network.bridgeIp},fork,reuseaddr`, `TCP:${target}`], { stdio: 'ignore', detached: true });
  child.unref();
  if (child.pid) await network.recordProcess(child.pid, `bind=${network.bridgeIp}`);
}

function startApp(network: Network, host: Host, name: string, args: readonly string[], env: Record<string, string>): ClusterApp {
  const logFile = path.join(network.dir, 'logs', `${name}.log`);
  const out = openSync(logFile, 'a');
  const child = host.spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    name,
    host,
    child,
    logFile,
    exited,
    async stop(timeoutMs = 40_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const httpOk = (url: string) => fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => (void r.arrayBuffer(), r.ok));

/** Sets the whole thing up; on failure removes what it made and throws. */
export async function startClusterPipeline(): Promise<ClusterPipeline> {
  const { live } = await removeLeftovers();
  await deleteRunKeys({ keep: live }).catch(() => undefined);
  const network = await createNetwork().catch((error: unknown) => {
    throw new ClusterUnavailable(`cannot create network namespaces: ${(error as Error).message}`, { cause: error });
  });
  const { id, subnet, bridgeIp } = network;
  let hg: HgServer | undefined;
  const apps: ClusterApp[] = [];
  const stop = async () => {
    await Promise.all(apps.map((app) => app.stop(5_000)));
    await hg?.close();
    const keep = process.env.TELEMETRY_CLUSTER_LOGS;
    if (keep) {
      // Every app's log and each node's RabbitMQ log, for a look after the run.
      await cp(path.join(network.dir, 'logs'), path.join(keep, id, 'apps'), { recursive: true }).catch(() => undefined);
      await cp(path.join(network.dir, 'rabbitmq'), path.join(keep, id, 'rabbitmq'), { recursive: true, filter: (source) => !source.includes('mnesia') && !source.endsWith('cookie') }).catch(() => undefined);
    }
    await deleteRunKeys({ only: id }).catch(() => undefined);
    await network.destroy();
  };
  try {
    await mkdir(path.join(network.dir, 'logs'));
    const rabbit = await startRabbitCluster(network).catch((error: unknown) => {
      if (error instanceof NodeStartError) throw new ClusterUnavailable(`cannot start RabbitMQ nodes: ${error.message}`, { cause: error });
      throw error;
    });
    hg = await startHgServer();
    const redisTarget = new URL(REDIS_URL);
    await forward(network, 6379, `${redisTarget.hostname}:${redisTarget.port || 6379}`);
    await forward(network, 8000, `127.0.0.1:${new URL(hg.url).port}`);
    const hostRedis = `redis://${bridgeIp}:6379`;
    const names = ['gw1', 'gw2', 'wk1', 'wk2', 'st', 'cl'] as const;
    const hostList = await Promise.all(names.map((name, i) => network.addHost(name, `${subnet}.${21 + i}`))).catch((error: unknown) => {
      throw new ClusterUnavailable(`cannot create the test hosts: ${(error as Error).message}`, { cause: error });
    });
    const hosts = Object.fromEntries(names.map((name, i) => [name, hostList[i]])) as Record<(typeof names)[number], Host>;
    const common = (host: Host, first: number) => ({ AMQP_URL: rabbit.brokerList(first), RETRY_DELAY: '2s', METRICS_HOST: host.ip });
    const tsx = (script: string) => ['--import', 'tsx', path.join(REPO_ROOT, script)];
    const mapreduceEnv = { REDIS_URL: hostRedis, MAPREDUCE_QUEUE: `${id}-mapreduce`, BULLMQ_PREFIX: `${id}bull` };

    const gatewayUrls = [hosts.gw1, hosts.gw2].map((host, i) => {
      apps.push(startApp(network, host, `gateway-${host.name}`, tsx('apps/gateway/src/main.ts'), { ...common(host, i), PORT: '8080', HOST: '0.0.0.0', GATEWAY_PROCESSES: '1', METRICS_PORT: '9464', RETRY_AFTER: '1s' }));
      return `http://${host.ip}:8080`;
    });
    const workerHosts = [
      { host: hosts.wk1, processes: 2 },
      { host: hosts.wk2, processes: 1 },
    ].map(({ host, processes }, i): WorkerHost => {
      const dir = path.join(network.dir, 'hosts', host.name);
      const storageDir = path.join(dir, 'storage');
      const errorsDir = path.join(dir, 'errors');
      const app = startApp(network, host, `workers-${host.name}`, tsx('apps/workers/src/main.ts'), {
        ...common(host, 2 + i),
        REDIS_URL: hostRedis,
        STORAGE_DIR: storageDir,
        ERRORS_DIR: errorsDir,
        HG_SERVER: `http://${bridgeIp}:8000`,
        REVISION_CACHE_DIR: path.join(dir, 'revisions'),
        DEDUP_PREFIX: `${id}:dedup:`,
        STATS_PREFIX: `${id}:stats`,
        WORKER_HOST_ID: host.name,
        WORKERS: String(processes),
        METRICS_PORT: '9465',
        // A host cut off between claiming and writing leaves its claims behind: the copies RabbitMQ
        // redelivers to the other host wait for them to expire (docs/OPERATIONS.md section 2).
        CLAIM_LEASE: '15s',
      });
      apps.push(app);
      return { host, processes, storageDir, errorsDir, opsUrl: `http://${host.ip}:9465`, app };
    });
    apps.push(
      startApp(network, hosts.st, 'stats-st', tsx('apps/stats/src/main.ts'), {
        ...common(hosts.st, 1),
        REDIS_URL: hostRedis,
        STATS_PREFIX: `${id}:stats`,
        STATS_PORT: '8081',
        METRICS_PORT: '9466',
        STATS_DATA_DIR: path.join(network.dir, 'dashboard-data'),
      }),
    );
    const statsUrl = `http://${hosts.st.ip}:8081`;
    const ready = [...gatewayUrls, ...workerHosts.map((w) => w.opsUrl), statsUrl].map((url) => waitUntil(`${url}/ready`, () => httpOk(`${url}/ready`), 90_000));
    const died = apps.map((app) => app.exited.then(async () => Promise.reject(new Error(`${app.name} exited while starting:\n${await readFile(app.logFile, 'utf8').catch(() => '')}`))));
    await Promise.race([Promise.all(ready), ...died]);
    for (const promise of died) promise.catch(() => undefined);

    const persistQueue = async () => {
      const { connection } = await connectFirst(rabbit.brokerList(), { timeout: 2_000 });
      connection.on('error', () => undefined);
      try {
        const channel = await connection.createChannel();
        const { messageCount, consumerCount } = await channel.checkQueue(PERSIST_QUEUE);
        return { messages: messageCount, consumers: consumerCount };
      } finally {
        await connection.close().catch(() => undefined);
      }
    };
    const pipeline: ClusterPipeline = {
      network,
      rabbit,
      hosts,
      gatewayUrls,
      statsUrl,
      workerHosts,
      apps,
      persistQueue,
      startClient: (options) => startClient(hosts.cl, gatewayUrls, options),
      async brokerHistory() {
        const history: Record<string, Connected[]> = {};
        for (const app of apps) {
          for (const line of (await readFile(app.logFile, 'utf8').catch(() => '')).split('\n')) {
            if (!line.includes('"connected to RabbitMQ"')) continue;
            const entry = JSON.parse(line) as { pid?: number; broker?: string; time: number };
            (history[`${app.name} pid ${entry.pid}`] ??= []).push({ broker: entry.broker ?? '?', time: entry.time });
          }
        }
        return history;
      },
      async logLines(text) {
        const counts: Record<string, number> = {};
        for (const app of apps) {
          const n = (await readFile(app.logFile, 'utf8').catch(() => '')).split('\n').filter((line) => line.includes(text)).length;
          if (n > 0) counts[app.name] = n;
        }
        return counts;
      },
      async mapreduce(dataDir) {
        const filter = path.join(network.dir, 'mapreduce-filter.json');
        const fields = ['reason', 'appName', 'appUpdateChannel', 'appVersion', 'appBuildID', 'submission_date'];
        await writeFile(filter, JSON.stringify({ version: 1, dimensions: fields.map((field_name) => ({ field_name, allowed_values: '*' })) }));
        const output = path.join(network.dir, 'mapreduce-output.txt');
        const job = path.join(REPO_ROOT, 'apps/mapreduce/test/jobs/count.ts');
        const args = [path.join(REPO_ROOT, 'cli/bin/telemetry.js'), 'mapreduce', job, '--input-filter', filter, '--data-dir', dataDir];
        const workDir = path.join(network.dir, 'mapreduce-work');
        args.push('--work-dir', workDir, '--output', output, '--num-mappers', '4', '--distributed');
        // The workers take tasks only under these roots (and the client checks them before submitting).
        const env = { ...mapreduceEnv, MAPREDUCE_JOB_ROOTS: path.dirname(job), MAPREDUCE_DATA_ROOTS: dataDir, MAPREDUCE_WORK_ROOTS: workDir };
        const startedAt = Date.now();
        // Started now: `ip netns exec` gives each process a mount namespace of its own, which sees the
        // mounts made before it started (the union is mounted just before), not those made later.
        for (const { host } of workerHosts) {
          apps.push(startApp(network, host, `mapreduce-worker-${host.name}`, [path.join(REPO_ROOT, 'cli/bin/telemetry.js'), 'mapreduce-worker'], env));
        }
        const client = startApp(network, hosts.cl, 'mapreduce-client', args, env);
        await client.exited;
        if (client.child.exitCode !== 0) throw new Error(`mapreduce exited ${client.child.exitCode}:\n${await readFile(client.logFile, 'utf8')}`);
        return { output: await readFile(output, 'utf8'), ms: Date.now() - startedAt };
      },
      stop,
    };
    return pipeline;
  } catch (error) {
    await stop();
    throw error;
  }
}

function startClient(host: Host, gatewayUrls: readonly string[], options: { prefix: string; concurrency?: number; pauseMs?: number; badEvery?: number }): ClientRun {
  const args = ['--import', 'tsx', path.join(REPO_ROOT, 'test/cluster/client.ts'), '--gateways', gatewayUrls.join(','), '--prefix', options.prefix];
  args.push('--concurrency', String(options.concurrency ?? 6), '--pause-ms', String(options.pauseMs ?? 0), '--bad-every', String(options.badEvery ?? 0));
  const child = host.spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const attempts: Attempt[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => attempts.push(JSON.parse(line) as Attempt));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    attempts,
    accepted: () => attempts.filter((a) => a.s === 200).map((a) => a.id),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
