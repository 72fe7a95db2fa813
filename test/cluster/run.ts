/**
 * `npm run cluster`: the cluster harness of test/cluster for an operator to
 * try (root, Linux): three RabbitMQ nodes clustered with rabbitmqctl, two
 * gateway hosts, two worker hosts (3 worker processes), the stats app and a
 * client host, each host a network namespace with an address of its own.
 * Prints where everything is, then reads commands on stdin to inject the
 * faults of the test by hand:
 *
 *   load [N]          start N Firefox-like clients on the client host (default 8); `load 0` stops them
 *   status            queues (leader, members, online), client answers, stored records per worker host
 *   kill <1-3>        kill -9 a RabbitMQ node        start <1-3>   start it again
 *   cut <host>        unplug a host's cable          plug <host>   plug it back
 *   lose <host>       a host lost for good           quit          tear everything down (as Ctrl-C)
 *
 * Everything (namespaces, bridge, nodes, data) is removed on quit, Ctrl-C or
 * SIGTERM; a run killed harder is cleaned up by the next run or test.
 */
import { createInterface } from 'node:readline';
import { scanAllHosts } from './figures.js';
import { unsupportedReason, type Host } from './network.js';
import { startClusterPipeline, type ClientRun, type ClusterPipeline } from './pipeline.js';
import { rabbitmqBin } from './rabbitmq.js';

const say = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

const unsupported = unsupportedReason() ?? (rabbitmqBin() ? undefined : 'RabbitMQ is not installed (rabbitmq-server)');
if (unsupported) {
  process.stderr.write(`npm run cluster: cannot run here: ${unsupported}\n`);
  process.exit(1);
}

say('starting: 3 RabbitMQ nodes (about 40 s on 2 cores), then the hosts and apps …');
const pipeline: ClusterPipeline = await startClusterPipeline();
let client: ClientRun | undefined;
let loads = 0;
let stopping: Promise<void> | undefined;

async function shutdown(code: number): Promise<never> {
  stopping ??= (async () => {
    say('tearing down …');
    await client?.stop().catch(() => undefined);
    await pipeline.stop();
    say('done: namespaces, bridge, nodes and data removed');
  })();
  await stopping;
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void shutdown(0));

const { rabbit, hosts } = pipeline;
say('');
say(`run ${pipeline.network.id}: bridge ${pipeline.network.id}br ${pipeline.network.bridgeIp}/24, data under ${pipeline.network.dir}`);
for (const node of rabbit.nodes) say(`  RabbitMQ node ${node.index}: ${node.name}, AMQP ${node.ip}:5672, pid ${await rabbit.pid(node)}`);
say(`  AMQP_URL=${rabbit.brokerList()}`);
say(`  gateways: ${pipeline.gatewayUrls.join('  ')}   stats: ${pipeline.statsUrl}`);
for (const worker of pipeline.workerHosts) say(`  worker host ${worker.host.name} (${worker.host.ip}): WORKERS=${worker.processes}, STORAGE_DIR=${worker.storageDir}, ${worker.opsUrl}/metrics`);
say(`  hosts (ip netns exec <ns> …): ${Object.values(hosts).map((h) => `${h.name}=${h.ns} ${h.ip}`).join(', ')}`);
say(`  rabbitmqctl: HOME=${pipeline.network.dir}/rabbitmq/home /usr/lib/rabbitmq/bin/rabbitmqctl -n ${rabbit.nodes[0]?.name} cluster_status`);
say(`  try: curl -X POST --data '{"ver":1,"info":{"reason":"idle-daily","appName":"Firefox"}}' ${pipeline.gatewayUrls[0]}/submit/telemetry/$(cat /proc/sys/kernel/random/uuid)`);
say('commands: load [N] | status | kill <1-3> | start <1-3> | cut <host> | plug <host> | lose <host> | quit');

const hostNamed = (name: string | undefined): Host => {
  const host = Object.values(hosts).find((h) => h.name === name);
  if (!host) throw new Error(`no host ${name} (${Object.keys(hosts).join(', ')})`);
  return host;
};
const nodeNumbered = (n: string | undefined) => {
  const node = rabbit.nodes[Number(n) - 1];
  if (!node) throw new Error('a node number, 1 to 3');
  return node;
};

async function status(): Promise<void> {
  const running = [];
  for (const node of rabbit.nodes) if ((await rabbit.pid(node).then((pid) => pid !== undefined && process.kill(pid, 0)).catch(() => false)) === true) running.push(node);
  const via = running[0];
  if (via) for (const q of await rabbit.queues(via)) say(`  ${q.name}: leader ${q.leader}, online ${q.online.length}/${q.members.length}, ${q.messages} messages`);
  if (client) {
    const counts: Record<string, number> = {};
    for (const a of client.attempts) counts[a.s] = (counts[a.s] ?? 0) + 1;
    say(`  client: ${client.accepted().length} accepted, answers by status (0: network error) ${JSON.stringify(counts)}`);
  }
  const scan = await scanAllHosts(pipeline.workerHosts);
  say(`  stored ${scan.storedLines}, filed ${scan.filedLines}, per worker host ${JSON.stringify(scan.perHost)}`);
}

async function command(line: string): Promise<void> {
  const [verb, argument] = line.trim().split(/\s+/);
  switch (verb) {
    case undefined:
    case '':
      return;
    case 'load': {
      await client?.stop();
      client = undefined;
      const concurrency = argument === undefined ? 8 : Number(argument);
      if (concurrency > 0) client = pipeline.startClient({ prefix: `${pipeline.network.id}-load${(loads += 1)}`, concurrency, badEvery: 50 });
      say(concurrency > 0 ? `  ${concurrency} clients sending through both gateways` : '  load stopped');
      return;
    }
    case 'status':
      return status();
    case 'kill':
      await rabbit.kill9(nodeNumbered(argument));
      return say(`  node ${argument} killed`);
    case 'start':
      await rabbit.start(nodeNumbered(argument));
      return say(`  node ${argument} running`);
    case 'cut':
      await hostNamed(argument).linkDown();
      return say(`  ${argument} unplugged`);
    case 'plug':
      await hostNamed(argument).linkUp();
      return say(`  ${argument} plugged back`);
    case 'lose':
      await hostNamed(argument).destroy();
      return say(`  ${argument} is gone`);
    case 'quit':
    case 'exit':
      return shutdown(0);
    default:
      say(`  unknown command ${verb}`);
  }
}

// One command at a time, in the order typed.
let queue = Promise.resolve();
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  queue = queue.then(() => command(line)).catch((error: unknown) => say(`  ${(error as Error).message}`));
});
input.on('close', () => say('stdin closed: running until Ctrl-C or SIGTERM'));
