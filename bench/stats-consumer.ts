/**
 * How many submissions per second one stats consumer counts (issue 4 target:
 * >= 50,000/s). The stats queue of a private topology is filled with
 * realistic messages: gateway batches of SUBMISSIONS_PER_MESSAGE submissions
 * in the wire codec's stats view (metadata only; URL dimensions spread over
 * channels, versions and build ids; 1 KiB bodies as received). Then, in the
 * same run, a bare consumer that only acknowledges (the baseline: what
 * RabbitMQ delivers to one process) and the real StatsConsumer (decode,
 * aggregate, one Redis script per minute, acks) with the app's default
 * prefetch and batch limits each drain the same messages.
 */
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { assertTopology, deleteTopology, prefixedTopology, STATS_ROUTING_KEY, type Topology } from '@telemetry/shared/amqp/topology';
import { batchPublishOptions, encodeBatch, type Submission } from '@telemetry/shared/amqp/wire-codec';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { silentLogger } from '@telemetry/shared/logger';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { parseStatsConfig } from '../apps/stats/src/config.js';
import { messageEntries, StatsConsumer } from '../apps/stats/src/stats-consumer.js';
import type { BenchResult } from './harness.js';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SUBMISSIONS_PER_MESSAGE = Number(process.env.BENCH_STATS_BATCH ?? 100);
const MESSAGES = Math.ceil(Number(process.env.BENCH_STATS_SUBMISSIONS ?? 100_000) / SUBMISSIONS_PER_MESSAGE);
const SUBMISSIONS = MESSAGES * SUBMISSIONS_PER_MESSAGE;
const BODY_BYTES = 1024;
const TARGET_PER_SECOND = 50_000;
const CHANNELS = ['release', 'beta', 'nightly', 'aurora'];
/** The stats app's defaults (prefetch, batch limits): the bench measures what runs. */
const DEFAULTS = parseStatsConfig({});

function submission(i: number): Submission {
  const docId = `doc-${i}`;
  const dimensions = { reason: 'saved-session', appName: 'Firefox', appVersion: `${20 + (i % 9)}.0`, appUpdateChannel: CHANNELS[i % 4] ?? 'release', appBuildID: `2013${String(i % 97).padStart(4, '0')}` };
  return {
    docId,
    path: [docId, dimensions.reason, dimensions.appName, dimensions.appVersion, dimensions.appUpdateChannel, dimensions.appBuildID].join('/'),
    urlDimensions: dimensions,
    receivedAtMs: Date.now(),
    clientHeaders: { 'user-agent': 'Mozilla/5.0 (Windows NT 6.1; rv:23.0) Gecko/20100101 Firefox/23.0' },
    body: Buffer.alloc(0),
    bodyBytes: BODY_BYTES,
  };
}

/** The content of stats message `m`, as the gateway frames it. */
function messageContent(m: number): Buffer {
  return encodeBatch(
    Array.from({ length: SUBMISSIONS_PER_MESSAGE }, (_, j) => submission(m * SUBMISSIONS_PER_MESSAGE + j)),
    'stats',
  );
}

/** The counting core alone (decode, entries, aggregation, Redis), batches of the default size, no broker. */
async function countingCore(submissions: number, redis: Redis, prefix: string): Promise<number> {
  const schema = await loadDimensionSchema(DEFAULT_SCHEMA_FILE);
  const store = new RedisCounterStore(redis, { prefix, retentionMs: 3_600_000, detailRetentionMs: 3_600_000, maxValuesPerHour: 1_000 });
  const options = batchPublishOptions('core', Date.now());
  const messages = Array.from({ length: DEFAULTS.batch.maxSize }, (_, m) => ({
    content: messageContent(m),
    properties: { headers: options.headers as Record<string, unknown>, messageId: options.messageId, contentType: options.contentType, contentEncoding: undefined },
  }));
  const perBatch = messages.length * SUBMISSIONS_PER_MESSAGE;
  const start = performance.now();
  for (let done = 0; done < submissions; done += perBatch) {
    await store.record(messages.flatMap((m) => messageEntries(schema, m)));
  }
  return submissions / ((performance.now() - start) / 1000);
}

async function fill(topology: Topology): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  for (let m = 0; m < MESSAGES; m += 1) {
    // As the gateway publishes stats: through the exchange, not persistent.
    const options = { ...batchPublishOptions(`bench-${m}`, Date.now()), persistent: false };
    if (!channel.publish(topology.exchange, STATS_ROUTING_KEY, messageContent(m), options)) {
      await new Promise((resolve) => channel.once('drain', resolve));
    }
  }
  await channel.waitForConfirms();
  await connection.close();
}

/** Submissions/s a consumer that only acks takes from the stats queue (one multiple-ack per default batch). */
async function drainBare(topology: Topology): Promise<number> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.prefetch(DEFAULTS.prefetch);
  const start = performance.now();
  let seen = 0;
  await new Promise<void>((resolve) => {
    void channel.consume(topology.statsQueue, (message) => {
      if (!message) return;
      seen += 1;
      if (seen % DEFAULTS.batch.maxSize === 0 || seen === MESSAGES) channel.ack(message, true);
      if (seen === MESSAGES) resolve();
    });
  });
  const seconds = (performance.now() - start) / 1000;
  await connection.close();
  return SUBMISSIONS / seconds;
}

async function drainStats(topology: Topology, redis: Redis, prefix: string): Promise<number> {
  let counted = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = new StatsConsumer({
    url: AMQP_URL,
    topology,
    prefetch: DEFAULTS.prefetch,
    batch: DEFAULTS.batch,
    schema: await loadDimensionSchema(DEFAULT_SCHEMA_FILE),
    store: new RedisCounterStore(redis, { prefix, retentionMs: 3_600_000, detailRetentionMs: 3_600_000, maxValuesPerHour: 1_000 }),
    isStoreReady: () => redis.status === 'ready',
    logger: silentLogger,
    onCounted: (n) => {
      counted += n;
      if (counted >= SUBMISSIONS) done();
    },
  });
  const start = performance.now();
  consumer.start();
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await consumer.stop();
  return SUBMISSIONS / seconds;
}

export async function benchStatsConsumer(): Promise<BenchResult> {
  const prefix = `bench-stats-${Date.now()}.`;
  const topology = prefixedTopology(prefix, { statsQueueMaxLength: MESSAGES * 2 });
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await assertTopology(channel, topology);
  const redis = new Redis(REDIS_URL);
  try {
    await fill(topology);
    const bare = await drainBare(topology);
    await fill(topology);
    const stats = await drainStats(topology, redis, `${prefix}counters`);
    const core = await countingCore(SUBMISSIONS * 2, redis, `${prefix}core`);
    const { prefetch, batch } = DEFAULTS;
    const markdown = [
      `${SUBMISSIONS} submissions in ${MESSAGES} stats messages of ${SUBMISSIONS_PER_MESSAGE} (wire codec stats view; ${BODY_BYTES}-byte bodies as received; 4 channels × 9 versions × 97 build ids) drained from the stats queue by one process; ` +
        `the stats app's defaults: prefetch ${prefetch} messages, batches of ${batch.maxSize} messages / ${batch.maxBytes} bytes / ${batch.maxWaitMs} ms.`,
      '',
      '| consumer | submissions/s |',
      '| --- | ---: |',
      `| baseline: bare consumer, multiple-ack every ${batch.maxSize} messages, no decoding or counting | ${bare.toFixed(0)} |`,
      `| StatsConsumer: decode + aggregate + Redis script per minute + acks | ${stats.toFixed(0)} |`,
      `| counting core alone (no broker): decode + entries + aggregation + Redis script, batches of ${batch.maxSize} messages | ${core.toFixed(0)} |`,
      '',
      `StatsConsumer / bare consumer: **${(stats / bare).toFixed(2)}** (1.00 = counting adds nothing to what the broker delivers). ` +
        `The counting core sustains **${core.toFixed(0)}**/s against the target of ${TARGET_PER_SECOND}/s.`,
    ].join('\n');
    return { name: 'Stats consumer throughput', markdown, targetMet: core >= TARGET_PER_SECOND && stats >= TARGET_PER_SECOND };
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await deleteTopology(channel, topology).catch(() => undefined);
    await connection.close();
  }
}
