/**
 * Run by stats-consumer-memory.test.ts as its own process with --expose-gc,
 * so that the heap measured is the consumer's alone: a StatsConsumer on the
 * test's topology, counting into a Redis (through the test's proxy) that may
 * be unreachable. Over IPC it says `ready`, answers `measure` with its
 * memory after garbage collection, and stops on `stop`.
 */
import type { Topology } from '@telemetry/shared/amqp/topology';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { silentLogger } from '@telemetry/shared/logger';
import { createRedis } from '@telemetry/shared/redis';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { StatsConsumer } from '../../src/stats-consumer.js';

export interface ChildMemory {
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly rss: number;
}
export type ChildReply = { readonly type: 'ready' } | ({ readonly type: 'memory' } & ChildMemory) | { readonly type: 'stopped' };
export type ChildCommand = { readonly type: 'measure' } | { readonly type: 'stop' };

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const send = (reply: ChildReply) => process.send?.(reply);

const topology = JSON.parse(process.env.TOPOLOGY ?? 'null') as Topology | null;
if (!topology) throw new Error('TOPOLOGY is not set');
const redis = createRedis(process.env.REDIS_URL ?? '', silentLogger, { commandTimeoutMs: 300 });
const consumer = new StatsConsumer({
  url: process.env.AMQP_URL ?? '',
  topology,
  prefetch: Number(process.env.PREFETCH),
  batch: { maxSize: 100, maxBytes: 4 * 2 ** 20, maxWaitMs: 20 },
  schema: await loadDimensionSchema(DEFAULT_SCHEMA_FILE),
  store: new RedisCounterStore(redis, { prefix: process.env.STATS_PREFIX ?? '', retentionMs: 3_600_000, detailRetentionMs: 3_600_000, maxValuesPerHour: 100 }),
  // As apps/stats/src/server.ts wires it.
  isStoreReady: () => redis.status === 'ready',
  logger: silentLogger,
});
consumer.start();
await consumer.waitUntilConnected(10_000);
send({ type: 'ready' });

/** Memory after full collections (a few, with turns of the event loop between, so weak and finalised objects go too). */
async function measured(): Promise<ChildMemory> {
  for (let i = 0; i < 4; i += 1) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { heapUsed, external, arrayBuffers, rss } = process.memoryUsage();
  return { heapUsed, external, arrayBuffers, rss };
}

process.on('message', (command: ChildCommand) => {
  void (async () => {
    if (command.type === 'measure') {
      send({ type: 'memory', ...(await measured()) });
      return;
    }
    await consumer.stop();
    redis.disconnect();
    send({ type: 'stopped' });
    process.disconnect();
  })();
});
