/**
 * Real RabbitMQ and Redis on loopback for integration tests, with unique
 * names per test (queue/exchange prefix, Redis key prefix) and clean-up.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { deleteTopology, prefixedTopology, type Topology } from '@telemetry/shared/amqp/topology';
import { decodeMessage } from '@telemetry/shared/amqp/wire-codec';

export const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(label: string): string {
  return `test-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export interface TestEnvironment {
  readonly prefix: string;
  readonly topology: Topology;
  readonly redisPrefix: string;
  readonly dir: string;
  /** Messages currently in a queue of this test's topology. */
  queueDepth(queue: string): Promise<number>;
  /**
   * Submissions in the ready messages of a queue (a message carries several):
   * taken unacknowledged, decoded, and handed back in their place.
   */
  queuedSubmissions(queue: string): Promise<number>;
  cleanup(): Promise<void>;
}

/** A unique topology, Redis key prefix and temp directory; `cleanup` removes all three. */
export async function createTestEnvironment(label: string, overrides: Partial<Topology> = {}): Promise<TestEnvironment> {
  const prefix = `${uniqueName(label)}.`;
  const topology = prefixedTopology(prefix, overrides);
  const dir = await mkdtemp(path.join(os.tmpdir(), `${label}-`));
  const redisPrefix = `${prefix}dedup:`;
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  return {
    prefix,
    topology,
    redisPrefix,
    dir,
    async queueDepth(queue) {
      const checkChannel = await connection.createChannel();
      try {
        return (await checkChannel.checkQueue(queue)).messageCount;
      } finally {
        await checkChannel.close().catch(() => undefined);
      }
    },
    async queuedSubmissions(queue) {
      const peekChannel = await connection.createChannel();
      try {
        let count = 0;
        for (;;) {
          const message = await peekChannel.get(queue, { noAck: false });
          if (message === false) break;
          const decoded = decodeMessage(message);
          count += decoded.submissions.length + decoded.invalid.length;
        }
        peekChannel.nackAll(true);
        return count;
      } finally {
        await peekChannel.close().catch(() => undefined);
      }
    },
    async cleanup() {
      await deleteTopology(channel, topology).catch(() => undefined);
      await connection.close().catch(() => undefined);
      const redis = new Redis(REDIS_URL);
      try {
        await deleteKeys(redis, prefix);
      } finally {
        redis.disconnect();
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes every Redis key starting with `prefix` (a test's unique prefix: KEYS is fine at test sizes). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** Polls `check` until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The environment variables that point an app at `topology`. */
export function topologyEnv(topology: Topology): Record<string, string> {
  return {
    AMQP_URL,
    AMQP_EXCHANGE: topology.exchange,
    PERSIST_QUEUE: topology.persistQueue,
    STATS_QUEUE: topology.statsQueue,
    STATS_QUEUE_MAX_LENGTH: String(topology.statsQueueMaxLength),
    STATS_QUEUE_TYPE: topology.statsQueueType,
    PERSIST_DELIVERY_LIMIT: String(topology.persistDeliveryLimit),
    RETRY_QUEUE: topology.retryQueue,
    RETRY_DELAY: `${topology.retryDelayMs}ms`,
    DEAD_LETTER_QUEUE: topology.deadLetterQueue,
  };
}
