/**
 * The RabbitMQ topology, declared in one place and used by every app (SPEC 3).
 *
 *   gateway --publish--> exchange (fanout) --+--> telemetry.persist   (workers; durable, never drops)
 *                                            +--> telemetry.stats     (stats; bounded, drops oldest)
 *   worker --transient error--> telemetry.persist.retry (TTL = retry delay)
 *                                  --dead-letters back to--> telemetry.persist
 *   worker --retries exhausted--> telemetry.dead-letter (with the reason; replayable)
 */
import type { Channel } from 'amqplib';
import { z } from 'zod';
import { durationMsField, integerField } from '../config/units.js';

export const topologyEnvShape = {
  AMQP_URL: z.string().default('amqp://guest:guest@127.0.0.1:5672'),
  AMQP_EXCHANGE: z.string().min(1).default('telemetry.submissions'),
  PERSIST_QUEUE: z.string().min(1).default('telemetry.persist'),
  STATS_QUEUE: z.string().min(1).default('telemetry.stats'),
  STATS_QUEUE_MAX_LENGTH: integerField(100_000),
  RETRY_QUEUE: z.string().min(1).default('telemetry.persist.retry'),
  RETRY_DELAY: durationMsField('30s'),
  DEAD_LETTER_QUEUE: z.string().min(1).default('telemetry.dead-letter'),
};

export interface Topology {
  readonly exchange: string;
  readonly persistQueue: string;
  readonly statsQueue: string;
  readonly statsQueueMaxLength: number;
  readonly retryQueue: string;
  readonly retryDelayMs: number;
  readonly deadLetterQueue: string;
}

type TopologyEnv = z.output<z.ZodObject<typeof topologyEnvShape>>;

export function topologyFromEnv(env: TopologyEnv): Topology {
  return {
    exchange: env.AMQP_EXCHANGE,
    persistQueue: env.PERSIST_QUEUE,
    statsQueue: env.STATS_QUEUE,
    statsQueueMaxLength: env.STATS_QUEUE_MAX_LENGTH,
    retryQueue: env.RETRY_QUEUE,
    retryDelayMs: env.RETRY_DELAY,
    deadLetterQueue: env.DEAD_LETTER_QUEUE,
  };
}

/** The default names, with every name prefixed (tests use a unique prefix each). */
export function prefixedTopology(prefix: string, overrides: Partial<Topology> = {}): Topology {
  return {
    exchange: `${prefix}telemetry.submissions`,
    persistQueue: `${prefix}telemetry.persist`,
    statsQueue: `${prefix}telemetry.stats`,
    statsQueueMaxLength: 100_000,
    retryQueue: `${prefix}telemetry.persist.retry`,
    retryDelayMs: 30_000,
    deadLetterQueue: `${prefix}telemetry.dead-letter`,
    ...overrides,
  };
}

/**
 * Declares exchange, queues and bindings; idempotent, so every app calls it
 * on every (re)connect. Queue arguments must not change between deployments
 * (RabbitMQ refuses a redeclare with other arguments): change them with a
 * policy instead.
 */
export async function assertTopology(channel: Channel, topology: Topology): Promise<void> {
  await channel.assertExchange(topology.exchange, 'fanout', { durable: true });
  await channel.assertQueue(topology.persistQueue, { durable: true });
  await channel.assertQueue(topology.statsQueue, {
    durable: true,
    arguments: { 'x-max-length': topology.statsQueueMaxLength, 'x-overflow': 'drop-head' },
  });
  await channel.assertQueue(topology.retryQueue, {
    durable: true,
    arguments: {
      'x-message-ttl': topology.retryDelayMs,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': topology.persistQueue,
    },
  });
  await channel.assertQueue(topology.deadLetterQueue, { durable: true });
  await channel.bindQueue(topology.persistQueue, topology.exchange, '');
  await channel.bindQueue(topology.statsQueue, topology.exchange, '');
}

/** Removes everything `assertTopology` declared (tests clean up after themselves). */
export async function deleteTopology(channel: Channel, topology: Topology): Promise<void> {
  for (const queue of [topology.persistQueue, topology.statsQueue, topology.retryQueue, topology.deadLetterQueue]) {
    await channel.deleteQueue(queue);
  }
  await channel.deleteExchange(topology.exchange);
}
