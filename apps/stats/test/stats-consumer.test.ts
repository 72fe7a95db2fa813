import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { Redis } from 'ioredis';
import { assertTopology, STATS_ROUTING_KEY } from '@telemetry/shared/amqp/topology';
import { batchPublishOptions, encodeBatch, MalformedMessageError, type Submission } from '@telemetry/shared/amqp/wire-codec';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { loadDimensionSchema, type DimensionSchema } from '@telemetry/shared/dimensions/schema';
import { silentLogger } from '@telemetry/shared/logger';
import { createRedis } from '@telemetry/shared/redis';
import { MINUTE, minuteIndex, type Bucket } from '@telemetry/shared/stats/buckets';
import { RedisCounterStore, type CountEntry } from '@telemetry/shared/stats/counter-store';
import type { StatsValues } from '@telemetry/shared/stats/dimensions';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AMQP_URL, createTestEnvironment, REDIS_URL, waitFor, type TestEnvironment } from '../../../test/support/services.js';
import { startTcpProxy, targetOf, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { messageEntries, StatsConsumer, type StatsConsumerOptions } from '../src/stats-consumer.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function submission(docId: string, dimensions: [string, string, string, string, string] | undefined, bodyBytes = 1_000, receivedAtMs = T0): Submission {
  const [reason = '', appName = '', appVersion = '', appUpdateChannel = '', appBuildID = ''] = dimensions ?? [];
  const path = dimensions ? [docId, ...dimensions].join('/') : docId;
  return {
    docId,
    path,
    urlDimensions: dimensions ? { reason, appName, appVersion, appUpdateChannel, appBuildID } : undefined,
    receivedAtMs,
    clientHeaders: {},
    body: Buffer.alloc(bodyBytes, 0x61),
    bodyBytes,
  };
}

type MessageLike = Parameters<typeof messageEntries>[1];

/** A telemetry submission's stats values: its URL fields, and namespace telemetry with reason as docType and appUpdateChannel as channel. */
function telemetryValues(reason: string, appName: string, appVersion: string, appUpdateChannel: string, appBuildID: string): StatsValues {
  return { reason, appName, appVersion, appUpdateChannel, appBuildID, namespace: 'telemetry', docType: reason, channel: appUpdateChannel };
}

/** A stats-queue message as the gateway publishes it: the stats view (no bodies). */
function statsMessage(submissions: Submission[]): MessageLike {
  const options = batchPublishOptions('m-1', T0);
  const headers = options.headers as Record<string, unknown>;
  return { content: encodeBatch(submissions, 'stats'), properties: { headers, messageId: options.messageId, contentType: options.contentType, contentEncoding: undefined } };
}

const RELEASE: [string, string, string, string, string] = ['saved-session', 'Firefox', '23.0.1', 'release', '20130814063812'];

describe('messageEntries (the entries of one stats message)', () => {
  let schema: DimensionSchema;
  beforeAll(async () => {
    schema = await loadDimensionSchema(DEFAULT_SCHEMA_FILE);
  });

  it('gives one received entry per submission, with its minute, dimensions and the body size the gateway saw', () => {
    const message = statsMessage([
      submission('a', RELEASE, 1_234, T0 + 5),
      submission('b', ['saved-session', 'Firefox', '24.0', 'weird-channel', '20131029030201'], 10, T0 + 61_000),
      submission('c', undefined, 7),
    ]);
    expect(messageEntries(schema, message)).toEqual<CountEntry[]>([
      { atMs: T0 + 5, kind: 'received', count: 1, bytes: 1_234, values: telemetryValues('saved-session', 'Firefox', '23.0.1', 'release', '20130814063812') },
      // Values outside the schema's allowed ones count as OTHER.
      { atMs: T0 + 61_000, kind: 'received', count: 1, bytes: 10, values: telemetryValues('saved-session', 'Firefox', '24.0', 'OTHER', '20131029030201') },
      // A path without the dimensions (docId only) counts under UNKNOWN.
      { atMs: T0, kind: 'received', count: 1, bytes: 7, values: telemetryValues('UNKNOWN', 'UNKNOWN', 'UNKNOWN', 'UNKNOWN', 'UNKNOWN') },
    ]);
  });

  it('counts a generic-form (Glean) submission by namespace and docType only: its channel is in the body', () => {
    const glean: Submission = {
      docId: '8f2bb6a4-5b7e-4d8c-9a1e-2f6c3d4b5a69',
      path: 'firefox-desktop/baseline/1/8f2bb6a4-5b7e-4d8c-9a1e-2f6c3d4b5a69',
      generic: { namespace: 'firefox-desktop', docType: 'baseline', docVersion: '1' },
      receivedAtMs: T0 + 7,
      clientHeaders: {},
      body: Buffer.alloc(0),
      bodyBytes: 321,
    };
    expect(messageEntries(schema, statsMessage([glean, submission('t', RELEASE, 5)]))).toEqual<CountEntry[]>([
      { atMs: T0 + 7, kind: 'received', count: 1, bytes: 321, values: { namespace: 'firefox-desktop', docType: 'baseline' } },
      { atMs: T0, kind: 'received', count: 1, bytes: 5, values: telemetryValues('saved-session', 'Firefox', '23.0.1', 'release', '20130814063812') },
    ]);
  });

  it('counts submissions the codec calls invalid too, with their path dimensions', () => {
    const entries = messageEntries(schema, statsMessage([submission('', RELEASE, 42)]));
    expect(entries).toEqual([expect.objectContaining({ kind: 'received', count: 1, bytes: 42, atMs: T0, values: expect.objectContaining({ appUpdateChannel: 'release' }) as unknown })]);
  });

  it('reads messages of the earlier one-submission format (metadata in headers)', () => {
    const legacy: MessageLike = {
      content: Buffer.from('{"ver": 1}'),
      properties: { messageId: 'legacy-1', headers: { path: `legacy-1/${RELEASE.join('/')}`, receivedAtMs: T0 + 3 }, contentType: undefined, contentEncoding: undefined },
    };
    expect(messageEntries(schema, legacy)).toEqual([
      { atMs: T0 + 3, kind: 'received', count: 1, bytes: 10, values: telemetryValues('saved-session', 'Firefox', '23.0.1', 'release', '20130814063812') },
    ]);
  });

  it('percent-decodes URL values once before the schema maps them; an invalid encoding is kept as sent', () => {
    const [entry, bad] = messageEntries(
      schema,
      statsMessage([submission('a', ['saved%2Dsession', 'Fire%66ox', 'x%20y', 'rel%20ease', '%252e%252e']), submission('b', ['main', 'Firefox', '%E0%A4%A', 'release', '1'])]),
    );
    // Decoded once: `%252e` is `%2e`, not `.`; a decoded channel outside the allowed ones is still OTHER.
    expect(entry?.values).toEqual(telemetryValues('saved-session', 'Firefox', 'x y', 'OTHER', '%2e%2e'));
    expect(bad?.values).toEqual(telemetryValues('main', 'Firefox', '%E0%A4%A', 'release', '1'));
  });

  it('throws MalformedMessageError on broken framing', () => {
    const { content, properties } = statsMessage([submission('a', RELEASE)]);
    expect(() => messageEntries(schema, { content: content.subarray(0, content.length - 3), properties })).toThrow(MalformedMessageError);
  });
});

describe('StatsConsumer against the real RabbitMQ and Redis', () => {
  let env: TestEnvironment;
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let schema: DimensionSchema;
  const started: StatsConsumer[] = [];
  const clients: Redis[] = [];
  const proxies: TcpProxy[] = [];

  beforeEach(async () => {
    env = await createTestEnvironment('stats-consumer');
    schema = await loadDimensionSchema(DEFAULT_SCHEMA_FILE);
    connection = await amqp.connect(AMQP_URL);
    channel = await connection.createConfirmChannel();
    await assertTopology(channel, env.topology);
  });
  afterEach(async () => {
    for (const consumer of started.splice(0)) await consumer.stop();
    for (const client of clients.splice(0)) client.disconnect();
    for (const proxy of proxies.splice(0)) await proxy.close();
    await connection.close().catch(() => undefined);
    await env.cleanup();
  });

  const storeOn = (redis: Redis) => new RedisCounterStore(redis, { prefix: `${env.prefix}stats`, retentionMs: 3_600_000, detailRetentionMs: 3_600_000, maxValuesPerHour: 100 });
  /** This minute's and the previous one's buckets (a test may straddle a minute). */
  const recentMinutes = (): Bucket[] => {
    const minute = minuteIndex(Date.now());
    return [minute - 1, minute].map((index) => ({ resolution: MINUTE, index }));
  };

  /** A started consumer; `calls` are the store's record calls, `attempts` the batches tried (recorded or not). */
  async function startConsumer(redis: Redis, batch: StatsConsumerOptions['batch'], onCounted?: (n: number) => void) {
    const progress = { attempts: 0 };
    // As apps/stats/src/server.ts wires it.
    const isStoreReady = () => {
      progress.attempts += 1;
      return redis.status === 'ready';
    };
    const store = storeOn(redis);
    const calls: number[] = [];
    const record = store.record.bind(store);
    store.record = (entries) => {
      calls.push(entries.length);
      return record(entries);
    };
    const consumer = new StatsConsumer({ url: AMQP_URL, topology: env.topology, prefetch: 50, batch, schema, store, isStoreReady, logger: silentLogger, ...(onCounted ? { onCounted } : {}) });
    started.push(consumer);
    consumer.start();
    await consumer.waitUntilConnected(10_000);
    return { consumer, calls, progress };
  }

  async function publish(submissionsPerMessage: number[]): Promise<void> {
    let n = 0;
    for (const [m, count] of submissionsPerMessage.entries()) {
      const submissions = Array.from({ length: count }, () => submission(`doc-${(n += 1)}`, RELEASE, 100, Date.now()));
      channel.publish(env.topology.exchange, STATS_ROUTING_KEY, encodeBatch(submissions, 'stats'), batchPublishOptions(`m-${m}`, Date.now()));
    }
    await channel.waitForConfirms();
  }

  async function receivedNow(redis: Redis): Promise<{ received: number; bytes: number }> {
    const { received, bytes } = await storeOn(redis).totals(recentMinutes());
    return { received, bytes };
  }

  it('counts every submission of every batch message, acks them, and reports the count', async () => {
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    let counted = 0;
    await startConsumer(redis, { maxSize: 100, maxBytes: 4 * 2 ** 20, maxWaitMs: 20 }, (n) => (counted += n));
    await publish([3, 1, 5]);
    await waitFor('all counted', async () => (await receivedNow(redis)).received === 9);
    // bodyBytes travel in the metadata: the stats view has no bodies, the counters still get their size.
    expect((await receivedNow(redis)).bytes).toBe(900);
    await waitFor('onCounted', () => counted === 9);
    expect(await env.queueDepth(env.topology.statsQueue)).toBe(0);
  });

  it('closes a batch at STATS_BATCH_MAX_BYTES of messages', async () => {
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    // Every message alone exceeds 1 byte: each is a batch of its own, long before the 10 s linger.
    const { calls } = await startConsumer(redis, { maxSize: 100, maxBytes: 1, maxWaitMs: 10_000 });
    await publish([2, 3, 4]);
    await waitFor('all counted', async () => (await receivedNow(redis)).received === 9, 5_000);
    expect(calls).toEqual([2, 3, 4]);
  });

  it('counts a URL value percent-decoded (`x%20y` as `x y`), a bad encoding as sent', async () => {
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    let counted = 0;
    await startConsumer(redis, { maxSize: 100, maxBytes: 4 * 2 ** 20, maxWaitMs: 20 }, (n) => (counted += n));
    const now = Date.now();
    const sent = [submission('d-1', ['main', 'Firefox', 'x%20y', 'release', '1'], 10, now), submission('d-2', ['main', 'Firefox', '%E0%A4%A', 'release', '1'], 10, now)];
    channel.publish(env.topology.exchange, STATS_ROUTING_KEY, encodeBatch(sent, 'stats'), batchPublishOptions('m-decode', now));
    await channel.waitForConfirms();
    await waitFor('counted', () => counted === 2);
    const byVersion = await storeOn(redis).countsByValue('appVersion', recentMinutes(), 1_000);
    expect([...byVersion.keys()].sort()).toEqual(['%E0%A4%A', 'x y']);
    expect(byVersion.get('x y')?.received).toBe(1);
    expect(byVersion.get('%E0%A4%A')?.received).toBe(1);
  });

  it('weighs a message by its metadata: one that carries bodies is batched as its stats view', async () => {
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    // By content each 2 MiB message would be a batch of its own at 1 MiB; by metadata (~100 bytes) they fill one batch.
    const { calls } = await startConsumer(redis, { maxSize: 3, maxBytes: 2 ** 20, maxWaitMs: 10_000 });
    for (let m = 0; m < 3; m += 1) {
      const full = encodeBatch([submission(`big-${m}`, RELEASE, 2 * 2 ** 20, Date.now())], 'full');
      channel.publish(env.topology.exchange, STATS_ROUTING_KEY, full, batchPublishOptions(`m-big-${m}`, Date.now()));
    }
    await channel.waitForConfirms();
    await waitFor('all counted', async () => (await receivedNow(redis)).received === 3);
    expect(calls).toEqual([3]);
    expect((await receivedNow(redis)).bytes).toBe(3 * 2 * 2 ** 20);
  });

  it('acks nothing while Redis is away, and counts everything once it is back', async () => {
    const proxy = await startTcpProxy(targetOf(REDIS_URL, 6379));
    proxies.push(proxy);
    const redis = createRedis(proxy.urlFor(REDIS_URL), silentLogger, { commandTimeoutMs: 300 });
    const direct = new Redis(REDIS_URL);
    clients.push(redis, direct);
    await redis.ping();
    proxy.cut();
    let counted = 0;
    const { consumer, calls, progress } = await startConsumer(redis, { maxSize: 100, maxBytes: 4 * 2 ** 20, maxWaitMs: 20 }, (n) => (counted += n));
    await publish([2, 2]);
    // Retried with backoff (at least one attempt after the first), nothing sent to the dead Redis, counted or acked.
    await waitFor('a retried batch', () => progress.attempts >= 2, 10_000);
    expect(calls).toEqual([]);
    expect(counted).toBe(0);
    expect((await receivedNow(direct)).received).toBe(0);
    proxy.restore();
    await waitFor('counted after Redis came back', () => counted === 4, 20_000);
    // Exactly once: no write was left in ioredis's offline queue to run again on reconnect.
    expect((await receivedNow(direct)).received).toBe(4);
    await consumer.stop();
    expect(await env.queueDepth(env.topology.statsQueue)).toBe(0);
  });

  it('returns the uncounted messages to the queue when stopped while Redis is away', async () => {
    const proxy = await startTcpProxy(targetOf(REDIS_URL, 6379));
    proxies.push(proxy);
    const redis = createRedis(proxy.urlFor(REDIS_URL), silentLogger, { commandTimeoutMs: 300 });
    clients.push(redis);
    proxy.cut();
    const { consumer, progress } = await startConsumer(redis, { maxSize: 100, maxBytes: 4 * 2 ** 20, maxWaitMs: 20 });
    await publish([2, 3]);
    await waitFor('a failed attempt', () => progress.attempts >= 1, 10_000);
    await consumer.stop();
    // A failure treated as permanent would have rejected (dropped) them; transient ones go back.
    expect(await env.queueDepth(env.topology.statsQueue)).toBe(2);
  });
});
