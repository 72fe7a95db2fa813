/**
 * Capacity for planning (issue 7, docs/OPERATIONS.md): what one process of
 * each part sustains on this machine, each beside a baseline from the same run.
 *
 * 1. Broker: persistent 1 KiB messages published with confirms by bare
 *    amqplib into the pipeline's topology (the exchange, routed to the
 *    durable persist queue and, as a second message, to the stats queue, as
 *    the gateway publishes a batch), 500 in flight: the ceiling of the
 *    gateway's publish path, per message (a message carries a whole batch).
 * 2. Gateway: one process (GATEWAY_PROCESSES=1), nothing consuming, autocannon;
 *    baseline: a bare node:http server answering 200 after the body.
 * 3. Workers: the persist queue preloaded with copies of the real 2013 ping
 *    (unique docIds) in batch messages as the gateway frames them under load;
 *    WORKERS=1, then 2 on a fresh load: pings persisted per second (decode,
 *    validate, convert, write + fsync, dedup in Redis), read from the
 *    workers' own counters (a message holds many pings, so the queue depth
 *    drops long before they are done).
 * 4. Redis: memory per dedup key, from the keys the workers left.
 * 5. Storage: bytes per ping of the real 2013 stored files with each codec.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import amqp, { type Channel, type ConfirmChannel } from 'amqplib';
import { assertTopology, PERSIST_ROUTING_KEY, STATS_ROUTING_KEY } from '@telemetry/shared/amqp/topology';
import { batchPublishOptions, encodeBatch, type Submission } from '@telemetry/shared/amqp/wire-codec';
import { silentLogger } from '@telemetry/shared/logger';
import { createRedis } from '@telemetry/shared/redis';
import { coverMinutes, minuteIndex } from '@telemetry/shared/stats/buckets';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { readRecordLines } from '@telemetry/shared/storage/index';
import { compressFileAtomically } from '@telemetry/shared/storage/compress-file';
import { fixturePath } from '../test/support/fixtures.js';
import type { BenchResult } from './harness.js';
import { bareHttpRate, benchPingBody, seedRevisionCache, submitRate } from './load.js';
import { AMQP_URL, benchStack, startApp, waitForHttp } from './stack.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const LOAD_SECONDS = Number(process.env.BENCH_CAPACITY_SECONDS ?? 20);
const BROKER_MESSAGES = 40_000;
const WORKER_PINGS = Number(process.env.BENCH_WORKER_PINGS ?? 20_000);
const REVISION = 'a55c55edf302';
const GATEWAY_LOAD = { seconds: LOAD_SECONDS, connections: 50, body: benchPingBody() };
/** The gateway's default batch limits (PUBLISH_BATCH_MAX_SIZE, PUBLISH_BATCH_MAX_BYTES): a full batch under load. */
const GATEWAY_BATCH = { maxSize: 500, maxBytes: 1024 * 1024 };

/** Persist + stats message pairs per second (the persist one persistent and confirmed, 1 KiB) into the pipeline's topology. */
async function brokerRate(): Promise<number> {
  const stack = await benchStack('capacity-broker');
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  await assertTopology(channel, stack.topology);
  const body = Buffer.from(GATEWAY_LOAD.body);
  try {
    const started = performance.now();
    for (let i = 0; i < BROKER_MESSAGES; i += 500) {
      await Promise.all(
        Array.from(
          { length: 500 },
          (_, j) =>
            new Promise<void>((resolve, reject) => {
              const options = batchPublishOptions(String(i + j), Date.now());
              // The gateway's pair: the persist message (confirmed) and the non-persistent stats one.
              channel.publish(stack.topology.exchange, STATS_ROUTING_KEY, body, { ...options, persistent: false });
              channel.publish(stack.topology.exchange, PERSIST_ROUTING_KEY, body, options, (error) => (error ? reject(error as Error) : resolve()));
            }),
        ),
      );
    }
    return BROKER_MESSAGES / ((performance.now() - started) / 1000);
  } finally {
    await connection.close();
    await stack.cleanup();
  }
}

async function waitForDepth(channel: Channel, queue: string, done: (depth: number) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done((await channel.checkQueue(queue)).messageCount)) {
    if (Date.now() > deadline) throw new Error(`${queue} did not reach the expected depth within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Average Redis memory (bytes, MEMORY USAGE) of up to 500 dedup keys under `prefix`, and how many there are. */
async function dedupKeyBytes(prefix: string): Promise<{ keys: number; bytesPerKey: number }> {
  const redis = createRedis(REDIS_URL, silentLogger);
  try {
    // Binary keys (prefix + 16-byte digest): scanned and measured as Buffers, never as text.
    const keys: Buffer[] = [];
    for await (const batch of redis.scanBufferStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<Buffer[]>) keys.push(...batch);
    const sample = keys.slice(0, 500);
    const sizes = await Promise.all(sample.map((key) => redis.memory('USAGE', key)));
    const total = sizes.reduce<number>((sum, size) => sum + (typeof size === 'number' ? size : 0), 0);
    return { keys: keys.length, bytesPerKey: sample.length === 0 ? 0 : total / sample.length };
  } finally {
    redis.disconnect();
  }
}

/** Pings the workers have finished (persisted or filed), from their realtime counters since `sinceMs`. */
async function finishedPings(store: RedisCounterStore, sinceMs: number): Promise<number> {
  const totals = await store.totals(coverMinutes(minuteIndex(sinceMs), minuteIndex(Date.now()), { openEnd: true }));
  return totals.persisted + Object.values(totals.errors).reduce((a, b) => a + b, 0);
}

async function waitForFinished(store: RedisCounterStore, sinceMs: number, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await finishedPings(store, sinceMs)) < count) {
    if (Date.now() > deadline) throw new Error(`the workers did not finish ${count} pings within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Preloads the persist queue with `count` copies of the real ping (unique docIds), in full gateway batches. */
async function preloadPings(channel: ConfirmChannel, queue: string, realPing: Buffer, count: number): Promise<void> {
  const perMessage = Math.max(1, Math.min(GATEWAY_BATCH.maxSize, Math.floor(GATEWAY_BATCH.maxBytes / realPing.length)));
  const receivedAtMs = Date.UTC(2013, 8, 10);
  const ping = (): Submission => {
    // Firefox's docIds are UUIDs: the dedup keys below get their real size.
    const docId = randomUUID();
    return {
      docId,
      path: `${docId}/saved-session/Firefox/23.0.1/release/20130814063812`,
      urlDimensions: { reason: 'saved-session', appName: 'Firefox', appVersion: '23.0.1', appUpdateChannel: 'release', appBuildID: '20130814063812' },
      receivedAtMs,
      contentEncoding: 'gzip',
      clientHeaders: {},
      body: realPing,
      bodyBytes: realPing.length,
    };
  };
  for (let sent = 0; sent < count; ) {
    const inFlight: Promise<void>[] = [];
    for (let m = 0; m < 20 && sent < count; m += 1) {
      const submissions = Array.from({ length: Math.min(perMessage, count - sent) }, ping);
      sent += submissions.length;
      // Straight to the persist queue (default exchange): the workers cannot tell.
      const options = batchPublishOptions(`preload-${sent}`, Date.now());
      inFlight.push(new Promise<void>((resolve, reject) => channel.sendToQueue(queue, encodeBatch(submissions, 'full'), options, (error) => (error ? reject(error as Error) : resolve()))));
    }
    await Promise.all(inFlight);
  }
}

/** Pings/s persisted by the workers app with `processes` worker processes, from a preloaded queue. */
async function workersRate(processes: number, realPing: Buffer, afterDrain?: (env: Record<string, string>) => Promise<void>): Promise<number> {
  const stack = await benchStack(`capacity-w${processes}`, { WORKERS: String(processes), HG_SERVER: 'http://127.0.0.1:9' });
  await seedRevisionCache(stack.env.REVISION_CACHE_DIR ?? '', REVISION);
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  const redis = createRedis(REDIS_URL, silentLogger);
  const counters = new RedisCounterStore(redis, { prefix: stack.env.STATS_PREFIX ?? '', retentionMs: 3_600_000, detailRetentionMs: 3_600_000, maxValuesPerHour: 1_000 });
  let workers: ReturnType<typeof startApp> | undefined;
  try {
    await assertTopology(channel, stack.topology);
    const loadedAt = Date.now();
    await preloadPings(channel, stack.topology.persistQueue, realPing, WORKER_PINGS);
    const messages = (await channel.checkQueue(stack.topology.persistQueue)).messageCount;
    workers = startApp('workers', stack.env);
    await waitForDepth(channel, stack.topology.persistQueue, (depth) => depth < messages, 60_000);
    const started = performance.now();
    const alreadyDone = await finishedPings(counters, loadedAt);
    await waitForFinished(counters, loadedAt, WORKER_PINGS, 600_000);
    const rate = (WORKER_PINGS - alreadyDone) / ((performance.now() - started) / 1000);
    await afterDrain?.(stack.env);
    return rate;
  } finally {
    await workers?.stop();
    // The counters and dedup keys of this run (both under the stack's prefix).
    for (const prefix of [stack.env.STATS_PREFIX, stack.env.DEDUP_PREFIX]) {
      const keys = prefix ? await redis.keys(`${prefix}*`).catch(() => []) : [];
      if (keys.length > 0) await redis.del(...keys).catch(() => undefined);
    }
    redis.disconnect();
    await connection.close();
    await stack.cleanup();
  }
}

interface CodecRow {
  readonly codec: string;
  readonly bytes: number;
}

/**
 * Disk per stored ping: the real 2013 storage files (varied pings, unlike
 * copies of one ping) decompressed into one .log, then compressed with each
 * codec the workers offer (COMPRESSION), as the workers do it.
 */
async function storageCodecs(): Promise<{ records: number; rawBytes: number; rows: CodecRow[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-codecs-'));
  try {
    const lines: string[] = [];
    const storageRoot = fixturePath('storage');
    for (const entry of await readdir(storageRoot, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      for await (const line of readRecordLines(path.join(entry.parentPath, entry.name))) lines.push(line);
    }
    const raw = Buffer.from(lines.map((line) => `${line}\n`).join(''));
    const rows: CodecRow[] = [];
    for (const codec of ['gzip', 'zstd', 'xz'] as const) {
      const log = path.join(dir, `sample-${codec}.log`);
      await writeFile(log, raw);
      const compressed = await compressFileAtomically(log, codec);
      rows.push({ codec, bytes: (await stat(compressed)).size });
    }
    return { records: lines.length, rawBytes: raw.length, rows };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchCapacity(): Promise<BenchResult> {
  const { records } = parsePackedBuffer(await readFile(fixturePath('pings', 'telemetry1.packed')));
  const realPing = records[0]?.body;
  if (!realPing) throw new Error('telemetry1.packed has no record');

  const broker = await brokerRate();
  const bare = (await bareHttpRate(GATEWAY_LOAD)).rate;
  const stack = await benchStack('capacity-gw', { GATEWAY_PROCESSES: '1' });
  const gatewayApp = startApp('gateway', stack.env);
  let gateway: Awaited<ReturnType<typeof submitRate>>;
  try {
    await waitForHttp(`http://127.0.0.1:${stack.port}/ready`);
    gateway = await submitRate(`http://127.0.0.1:${stack.port}`, GATEWAY_LOAD);
  } finally {
    await gatewayApp.stop();
    await stack.cleanup();
  }
  let dedup = { keys: 0, bytesPerKey: 0 };
  const workers1 = await workersRate(1, realPing, async (env) => {
    // The last batch's mark-done may land just after the queue reads empty.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    dedup = await dedupKeyBytes(env.DEDUP_PREFIX ?? '');
  });
  const workers2 = await workersRate(2, realPing);
  const codecs = await storageCodecs();
  const perRecord = (bytes: number) => (bytes / codecs.records / 1024).toFixed(1);

  const markdown = [
    `Rates of one process of each part on this machine (2 cores shared by the load generator, RabbitMQ and Redis). Gateway load: autocannon, 50 connections, ${LOAD_SECONDS} s, ${GATEWAY_LOAD.body.length}-byte bodies. Workers: ${WORKER_PINGS} copies of the real 2013 ping (${realPing.length} bytes gzip'd, revision ${REVISION}) preloaded in the persist queue, in batch messages of up to ${GATEWAY_BATCH.maxSize} pings / ${GATEWAY_BATCH.maxBytes} bytes (the gateway's defaults).`,
    '',
    '| what | rate | × baseline |',
    '| --- | ---: | ---: |',
    `| baseline: bare node:http, 1 process (read body, 200) | ${bare.toFixed(0)} req/s | 1.00 |`,
    `| gateway, 1 process (200 after the broker's confirm) | ${gateway.rate.toFixed(0)} req/s (${gateway.non2xx} non-2xx, ${gateway.errors} errors) | ${(gateway.rate / bare).toFixed(2)} |`,
    `| broker: bare amqplib publishes into the topology as the gateway does (a confirmed persistent 1 KiB persist message + a stats message), 500 in flight | ${broker.toFixed(0)} pairs/s (each one gateway batch) | — |`,
    `| workers, 1 process (real pings persisted) | ${workers1.toFixed(0)} pings/s | — |`,
    `| workers, 2 processes | ${workers2.toFixed(0)} pings/s | ${(workers2 / workers1).toFixed(2)} × 1 process |`,
    '',
    `Redis memory per deduplicated document (MEMORY USAGE of ${Math.min(500, dedup.keys)} of the ${dedup.keys} dedup keys the 1-process run left: prefix + 16-byte digest of docId and decoded body): ${dedup.bytesPerKey.toFixed(0)} bytes, i.e. ${((dedup.bytesPerKey * 1e6) / 2 ** 20).toFixed(0)} MiB per million pings received within DEDUP_TTL.`,
    '',
    `Stored size per ping (${codecs.records} real 2013 pings from fixtures/storage, ${(codecs.rawBytes / 2 ** 20).toFixed(2)} MiB as .log): uncompressed ${perRecord(codecs.rawBytes)} KiB.`,
    '',
    '| COMPRESSION | KiB per ping | ratio |',
    '| --- | ---: | ---: |',
    ...codecs.rows.map((row) => `| ${row.codec} | ${perRecord(row.bytes)} | ${(codecs.rawBytes / row.bytes).toFixed(1)}× |`),
  ].join('\n');
  // A planning measurement: the "target" is only that every part ran without errors.
  return { name: 'Capacity per process (planning figures)', markdown, targetMet: gateway.non2xx === 0 && gateway.errors === 0 && workers1 > 0 && workers2 > 0 };
}
