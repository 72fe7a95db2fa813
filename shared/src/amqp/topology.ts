/**
 * The RabbitMQ topology, declared in one place and used by every app (SPEC 3).
 *
 *   gateway --batch (bodies), key "persist"--> exchange (direct) --> telemetry.persist  (quorum; never drops)
 *           --batch (metadata), key "stats"-->                   --> telemetry.stats    (quorum; bounded, drops oldest)
 *   worker --transient error--> telemetry.persist.retry (quorum, TTL = retry delay)
 *                                  --dead-letters back to--> telemetry.persist
 *   worker --retries exhausted / poison--> telemetry.dead-letter (quorum; with the reason; replayable)
 *   telemetry.persist --delivery limit passed (a message that keeps killing workers)--> telemetry.dead-letter
 *
 * Quorum queues are replicated when RabbitMQ is a cluster and work on a
 * single node; their dead-lettering is at-least-once (never lost on the way).
 * Their replicas are the broker's choice, not an argument declared here:
 * RabbitMQ 3.10 gives a new quorum queue a member on `quorum_cluster_size`
 * (3) nodes, every node of a three-node cluster (test/cluster checks it).
 * An `x-quorum-initial-group-size` argument would make every existing queue
 * refuse the redeclaration (PRECONDITION_FAILED, inequivalent arg), and it
 * only counts at creation anyway: docs/OPERATIONS.md section 2 says how to
 * grow the members when nodes are added.
 */
import type { Channel } from 'amqplib';
import { z } from 'zod';
import { durationMsField, integerField } from '../config/units.js';
import { brokerListField } from './broker-list.js';

export const topologyEnvShape = {
  /** One broker URL, or the nodes of a cluster as whole URLs separated by commas (broker-list.ts). */
  AMQP_URL: brokerListField('amqp://guest:guest@127.0.0.1:5672'),
  AMQP_EXCHANGE: z.string().min(1).default('telemetry.submissions'),
  PERSIST_QUEUE: z.string().min(1).default('telemetry.persist'),
  STATS_QUEUE: z.string().min(1).default('telemetry.stats'),
  STATS_QUEUE_MAX_LENGTH: integerField(100_000),
  /** quorum (default: measured faster than classic for stats batches, bench ingest-path in bench/RESULTS.md) or classic. */
  STATS_QUEUE_TYPE: z.enum(['classic', 'quorum']).default('quorum'),
  /** Deliveries of one persist message before RabbitMQ dead-letters it (a message that keeps killing workers). */
  PERSIST_DELIVERY_LIMIT: integerField(10, { min: 1, max: 1_000 }),
  RETRY_QUEUE: z.string().min(1).default('telemetry.persist.retry'),
  RETRY_DELAY: durationMsField('30s'),
  DEAD_LETTER_QUEUE: z.string().min(1).default('telemetry.dead-letter'),
};

export interface Topology {
  readonly exchange: string;
  readonly persistQueue: string;
  readonly statsQueue: string;
  readonly statsQueueMaxLength: number;
  readonly statsQueueType: 'classic' | 'quorum';
  readonly persistDeliveryLimit: number;
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
    statsQueueType: env.STATS_QUEUE_TYPE,
    persistDeliveryLimit: env.PERSIST_DELIVERY_LIMIT,
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
    statsQueueType: 'quorum',
    persistDeliveryLimit: 10,
    retryQueue: `${prefix}telemetry.persist.retry`,
    retryDelayMs: 30_000,
    deadLetterQueue: `${prefix}telemetry.dead-letter`,
    ...overrides,
  };
}

/** Routing keys of the exchange: the persist queue gets the bodies, the stats queue the metadata. */
export const PERSIST_ROUTING_KEY = 'persist';
export const STATS_ROUTING_KEY = 'stats';

/**
 * RabbitMQ before 3.12 keeps every quorum queue message body in memory unless
 * told otherwise: a backlog would then hit the broker's memory alarm (which
 * blocks every publisher) long before its disk fills. Later versions always
 * read bodies from the log and ignore this argument.
 */
const BODIES_ON_DISK = { 'x-max-in-memory-length': 0 };

/** Quorum queue arguments for at-least-once dead-lettering into `target` (needs reject-publish overflow). */
function deadLetterInto(target: string): Record<string, unknown> {
  return {
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': target,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
  };
}

/**
 * Declares exchange, queues and bindings; idempotent, so every app calls it
 * on every (re)connect. Queue arguments must not change between deployments
 * (RabbitMQ refuses a redeclare with other arguments, and a queue's type
 * cannot change in place): docs/OPERATIONS.md says how to move queues.
 */
export async function assertTopology(channel: Channel, topology: Topology): Promise<void> {
  await channel.assertExchange(topology.exchange, 'direct', { durable: true });
  await channel.assertQueue(topology.deadLetterQueue, { durable: true, arguments: { 'x-queue-type': 'quorum', ...BODIES_ON_DISK } });
  await channel.assertQueue(topology.persistQueue, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': topology.persistDeliveryLimit, ...BODIES_ON_DISK, ...deadLetterInto(topology.deadLetterQueue) },
  });
  await channel.assertQueue(topology.statsQueue, {
    durable: true,
    arguments: { 'x-queue-type': topology.statsQueueType, 'x-max-length': topology.statsQueueMaxLength, 'x-overflow': 'drop-head' },
  });
  await channel.assertQueue(topology.retryQueue, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-message-ttl': topology.retryDelayMs, ...BODIES_ON_DISK, ...deadLetterInto(topology.persistQueue) },
  });
  await channel.bindQueue(topology.persistQueue, topology.exchange, PERSIST_ROUTING_KEY);
  await channel.bindQueue(topology.statsQueue, topology.exchange, STATS_ROUTING_KEY);
}

/** Removes everything `assertTopology` declared (tests clean up after themselves). */
export async function deleteTopology(channel: Channel, topology: Topology): Promise<void> {
  for (const queue of [topology.persistQueue, topology.statsQueue, topology.retryQueue, topology.deadLetterQueue]) {
    await channel.deleteQueue(queue);
  }
  await channel.deleteExchange(topology.exchange);
}
