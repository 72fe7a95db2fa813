/**
 * How many submissions per second one stats consumer counts (issue 4 target:
 * >= 50,000/s). The stats queue of a private topology is filled with
 * realistic messages (URL dimensions spread over channels, versions and
 * build ids, 1 KiB bodies); then, in the same run, a bare consumer that only
 * acknowledges (the baseline: what RabbitMQ delivers to one process) and the
 * real StatsConsumer (aggregate, one Redis script per minute, multiple-ack)
 * each drain the same number of messages.
 */
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { encodeSubmission } from '@telemetry/shared/amqp/submission-message';
import { assertTopology, deleteTopology, prefixedTopology, type Topology } from '@telemetry/shared/amqp/topology';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { silentLogger } from '@telemetry/shared/logger';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { receivedEntry, StatsConsumer } from '../apps/stats/src/stats-consumer.js';
import type { BenchResult } from './harness.js';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MESSAGES = Number(process.env.BENCH_STATS_MESSAGES ?? 100_000);
const TARGET_PER_SECOND = 50_000;
const CHANNELS = ['release', 'beta', 'nightly', 'aurora'];

function message(i: number, body: Buffer) {
  const path = `doc-${i}/saved-session/Firefox/${20 + (i % 9)}.0/${CHANNELS[i % 4]}/2013${String(i % 97).padStart(4, '0')}`;
  return encodeSubmission({ docId: `doc-${i}`, path, receivedAtMs: Date.now(), clientHeaders: {}, body });
}

/** The counting core alone (entries from messages, aggregation, Redis), batches of 1000, no broker. */
async function countingCore(count: number, redis: Redis, prefix: string): Promise<number> {
  const schema = await loadDimensionSchema(DEFAULT_SCHEMA_FILE);
  const store = new RedisCounterStore(redis, { prefix, retentionMs: 3_600_000, maxValuesPerMinute: 1_000 });
  const body = Buffer.alloc(1024, 0x61);
  const messages = Array.from({ length: 1_000 }, (_, i) => {
    const { content, options } = message(i, body);
    const headers = (options.headers ?? {}) as Record<string, unknown>;
    return { content, properties: { headers } } as Parameters<typeof receivedEntry>[1];
  });
  const start = performance.now();
  for (let done = 0; done < count; done += messages.length) {
    await store.record(messages.map((m) => receivedEntry(schema, m)));
  }
  return count / ((performance.now() - start) / 1000);
}

async function fill(topology: Topology, count: number): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  const body = Buffer.alloc(1024, 0x61);
  for (let i = 0; i < count; i += 1) {
    const { content, options } = message(i, body);
    if (!channel.publish('', topology.statsQueue, content, { ...options, persistent: false })) {
      await new Promise((resolve) => channel.once('drain', resolve));
    }
  }
  await channel.waitForConfirms();
  await connection.close();
}

async function drainBare(topology: Topology, count: number): Promise<number> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.prefetch(5_000);
  const start = performance.now();
  let seen = 0;
  await new Promise<void>((resolve) => {
    void channel.consume(topology.statsQueue, (message) => {
      if (!message) return;
      seen += 1;
      if (seen % 1_000 === 0 || seen === count) channel.ack(message, true);
      if (seen === count) resolve();
    });
  });
  const seconds = (performance.now() - start) / 1000;
  await connection.close();
  return count / seconds;
}

async function drainStats(topology: Topology, count: number, redis: Redis, prefix: string): Promise<number> {
  let counted = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = new StatsConsumer({
    url: AMQP_URL,
    topology,
    prefetch: 5_000,
    batchSize: 1_000,
    batchMaxWaitMs: 50,
    schema: await loadDimensionSchema(DEFAULT_SCHEMA_FILE),
    store: new RedisCounterStore(redis, { prefix, retentionMs: 3_600_000, maxValuesPerMinute: 1_000 }),
    logger: silentLogger,
    onCounted: (n) => {
      counted += n;
      if (counted >= count) done();
    },
  });
  const start = performance.now();
  consumer.start();
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await consumer.stop();
  return count / seconds;
}

export async function benchStatsConsumer(): Promise<BenchResult> {
  const prefix = `bench-stats-${Date.now()}.`;
  const topology = prefixedTopology(prefix, { statsQueueMaxLength: MESSAGES * 2 });
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await assertTopology(channel, topology);
  const redis = new Redis(REDIS_URL);
  try {
    await fill(topology, MESSAGES);
    const bare = await drainBare(topology, MESSAGES);
    await fill(topology, MESSAGES);
    const stats = await drainStats(topology, MESSAGES, redis, `${prefix}counters`);
    const core = await countingCore(MESSAGES * 2, redis, `${prefix}core`);
    const markdown = [
      `${MESSAGES} messages (1 KiB bodies, 4 channels × 9 versions × 97 build ids) drained from the stats queue by one process; prefetch 5000 (the StatsConsumer default).`,
      '',
      '| consumer | submissions/s |',
      '| --- | ---: |',
      `| baseline: bare consumer, multiple-ack every 1000, no counting | ${bare.toFixed(0)} |`,
      `| StatsConsumer: aggregate + Redis script per minute + multiple-ack | ${stats.toFixed(0)} |`,
      `| counting core alone (no broker): entries + aggregation + Redis script, batches of 1000 | ${core.toFixed(0)} |`,
      '',
      `StatsConsumer / bare consumer: **${(stats / bare).toFixed(2)}** (1.00 = counting adds nothing to what the broker delivers). ` +
        `The counting core sustains **${core.toFixed(0)}**/s against the target of ${TARGET_PER_SECOND}/s; end to end the broker's delivery rate to one consumer is the limit.`,
    ].join('\n');
    return { name: 'Stats consumer throughput', markdown, targetMet: core >= TARGET_PER_SECOND && stats / bare >= 0.9 };
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await deleteTopology(channel, topology).catch(() => undefined);
    await connection.close();
  }
}
