/**
 * The stats consumer's memory is bounded by what it counts, not by what its
 * messages carry (issue 15): with Redis unreachable nothing is acked, so the
 * whole prefetch window of messages is held; each carries bodies here (a full
 * view, as an older gateway or a misrouted persist message would send), and
 * the consumer's process (a child, measured after gc) must hold far less than
 * prefetch × message size. Then Redis comes back and every submission is
 * counted exactly once. Real RabbitMQ, real Redis (through a proxy to cut).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { Redis } from 'ioredis';
import { assertTopology, STATS_ROUTING_KEY } from '@telemetry/shared/amqp/topology';
import { batchPublishOptions, encodeBatch, type Submission } from '@telemetry/shared/amqp/wire-codec';
import { HOUR, minuteIndex } from '@telemetry/shared/stats/buckets';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AMQP_URL, createTestEnvironment, REDIS_URL, waitFor, type TestEnvironment } from '../../../test/support/services.js';
import { startTcpProxy, targetOf, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import type { ChildCommand, ChildMemory, ChildReply } from './support/held-memory-child.js';

const MESSAGES = 400;
const PREFETCH = 400;
const SUBMISSIONS_PER_MESSAGE = 2;
const BODY_BYTES = 128 * 1024;
/** What holding every delivered message would cost: 100 MiB. */
const WINDOW_BYTES = PREFETCH * SUBMISSIONS_PER_MESSAGE * BODY_BYTES;
const MiB = 2 ** 20;

/** The child's replies, in order, as they come. */
class Child {
  private readonly replies: ChildReply[] = [];
  private waiters: (() => void)[] = [];
  readonly exited: Promise<unknown>;

  constructor(readonly process: ChildProcess) {
    process.on('message', (reply: ChildReply) => {
      this.replies.push(reply);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.exited = once(process, 'exit');
  }

  async next<T extends ChildReply['type']>(type: T, timeoutMs = 30_000): Promise<Extract<ChildReply, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.replies.findIndex((reply) => reply.type === type);
      if (index >= 0) return this.replies.splice(index, 1)[0] as Extract<ChildReply, { type: T }>;
      if (Date.now() > deadline) throw new Error(`no ${type} from the child within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  send(command: ChildCommand): void {
    this.process.send(command);
  }

  async memory(): Promise<ChildMemory> {
    this.send({ type: 'measure' });
    return this.next('memory');
  }
}

/** heapUsed plus memory outside the heap (Buffers are there): what message contents would take. */
const held = (m: ChildMemory) => m.heapUsed + m.external;

describe('StatsConsumer memory while Redis is away (real RabbitMQ and Redis)', () => {
  let env: TestEnvironment;
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let proxy: TcpProxy;
  let direct: Redis;
  let child: Child | undefined;

  beforeEach(async () => {
    // A classic queue: the same deliveries, less broker disk work for the 100 MiB sent.
    env = await createTestEnvironment('stats-memory', { statsQueueType: 'classic' });
    connection = await amqp.connect(AMQP_URL);
    channel = await connection.createConfirmChannel();
    await assertTopology(channel, env.topology);
    proxy = await startTcpProxy(targetOf(REDIS_URL, 6379));
    direct = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    if (child && child.process.exitCode === null) {
      child.process.kill('SIGKILL');
      await child.exited;
    }
    child = undefined;
    direct.disconnect();
    await proxy.close();
    await connection.close().catch(() => undefined);
    await env.cleanup();
  });

  function submission(n: number, body: Buffer): Submission {
    const dimensions = { reason: 'main', appName: 'Firefox', appVersion: '140.0', appUpdateChannel: 'release', appBuildID: '20260101000000' };
    const docId = `doc-${n}`;
    return { docId, path: [docId, ...Object.values(dimensions)].join('/'), urlDimensions: dimensions, receivedAtMs: Date.now(), clientHeaders: {}, body, bodyBytes: body.length };
  }

  async function publishWithBodies(): Promise<void> {
    const body = Buffer.alloc(BODY_BYTES, 0x7b);
    let n = 0;
    for (let m = 0; m < MESSAGES; m += 1) {
      const submissions = Array.from({ length: SUBMISSIONS_PER_MESSAGE }, () => submission((n += 1), body));
      channel.publish(env.topology.exchange, STATS_ROUTING_KEY, encodeBatch(submissions, 'full'), batchPublishOptions(`m-${m}`, Date.now()));
      if (m % 50 === 49) await channel.waitForConfirms();
    }
    await channel.waitForConfirms();
  }

  async function counted(): Promise<{ received: number; bytes: number }> {
    const store = new RedisCounterStore(direct, { prefix: `${env.prefix}stats`, retentionMs: 3_600_000, detailRetentionMs: 3_600_000, maxValuesPerHour: 100 });
    // The hour buckets of this hour and the previous one: a run may straddle an hour.
    const hour = Math.floor(minuteIndex(Date.now()) / 60);
    const { received, bytes } = await store.totals([hour - 1, hour].map((index) => ({ resolution: HOUR, index })));
    return { received, bytes };
  }

  it('holds far less than prefetch × message size, then counts every submission once when Redis is back', async () => {
    proxy.cut();
    const script = path.join(import.meta.dirname, 'support', 'held-memory-child.ts');
    child = new Child(
      fork(script, [], {
        execArgv: ['--expose-gc', '--import', 'tsx'],
        env: { ...process.env, TOPOLOGY: JSON.stringify(env.topology), AMQP_URL, REDIS_URL: proxy.urlFor(REDIS_URL), STATS_PREFIX: `${env.prefix}stats`, PREFETCH: String(PREFETCH) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await child.next('ready');
    const before = await child.memory();

    await publishWithBodies();
    // Every message handed to the consumer (none ready in the queue), none acked (Redis is cut).
    await waitFor('all delivered', async () => (await env.queueDepth(env.topology.statsQueue)) === 0, 30_000);
    // Let the last deliveries cross the socket and the consumer retry a few times.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = await child.memory();
    const again = await child.memory();
    const growth = Math.max(held(after), held(again)) - held(before);
    const mib = (bytes: number) => (bytes / MiB).toFixed(1);
    console.log(
      `stats consumer, ${MESSAGES} messages × ${(SUBMISSIONS_PER_MESSAGE * BODY_BYTES) / 1024} KiB held unacked: ` +
        `heapUsed ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB, external ${mib(before.external)} → ${mib(after.external)} MiB, ` +
        `rss ${mib(before.rss)} → ${mib(after.rss)} MiB; growth ${mib(growth)} MiB of a ${WINDOW_BYTES / MiB} MiB window`,
    );
    expect(growth).toBeLessThan(WINDOW_BYTES / 10);
    expect((await counted()).received).toBe(0);

    proxy.restore();
    const total = MESSAGES * SUBMISSIONS_PER_MESSAGE;
    // Redis reconnects within 5 s; the batches retry on their backoff (doubling up to 30 s).
    await waitFor('counted after Redis came back', async () => (await counted()).received >= total, 90_000);
    child.send({ type: 'stop' });
    await child.next('stopped');
    // Stopping returns what is not acked to the queue: nothing is, and nothing was counted twice.
    expect(await env.queueDepth(env.topology.statsQueue)).toBe(0);
    expect(await counted()).toEqual({ received: total, bytes: total * BODY_BYTES });
  }, 180_000);
});
