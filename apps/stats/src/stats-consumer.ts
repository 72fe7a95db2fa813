/**
 * Reads `telemetry.stats` and counts each submission per minute and URL
 * dimension value, before (in parallel with) persistence. A message is one
 * gateway batch in the wire codec's stats view (metadata, empty bodies); it
 * becomes one item holding its counter entries, weighted by its metadata
 * bytes, so a batch is bounded by messages and by bytes. A batch is
 * aggregated and written in one Redis round trip per minute, then acked.
 * While Redis is away nothing is acked (the queue is bounded and drops its
 * oldest, so ingestion never waits for stats).
 *
 * Memory: a message is decoded as it arrives and dropped; only its counter
 * entries and delivery tag wait for Redis. So the STATS_PREFETCH unacked
 * messages cost their entries (metadata-sized), never their content, even
 * when a message carries bodies (an older gateway, a misrouted persist
 * message): the broker's window is counted in messages only (RabbitMQ has
 * no prefetch size), so the bytes are bounded by not holding them.
 */
import type { ConsumeMessage } from 'amqplib';
import { ACK, BatchingConsumer, type PreparedItem, type Settlement } from '@telemetry/shared/amqp/batching-consumer';
import type { Topology } from '@telemetry/shared/amqp/topology';
import { decodeMessage, type Submission } from '@telemetry/shared/amqp/wire-codec';
import type { BatchLimits } from '@telemetry/shared/batching/batcher';
import type { DimensionSchema } from '@telemetry/shared/dimensions/schema';
import { TransientError } from '@telemetry/shared/errors';
import type { CountEntry, RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { genericStatsValues, urlStatsValues } from '@telemetry/shared/stats/dimensions';
import type { Logger } from 'pino';

/**
 * Batches handled at once: one in its Redis round trip while the next one's
 * script runs hides the round-trip latency; more would only add memory.
 */
const STATS_CONCURRENT_BATCHES = 2;

export interface StatsConsumerOptions {
  readonly url: string;
  readonly topology: Topology;
  /** Unacknowledged messages the broker hands out. */
  readonly prefetch: number;
  /** A batch closes at `maxSize` messages, `maxBytes` of message content, or `maxWaitMs` after its first message. */
  readonly batch: BatchLimits;
  readonly schema: DimensionSchema;
  readonly store: RedisCounterStore;
  /**
   * Whether the store's Redis connection is up (e.g. `redis.status === 'ready'`).
   * While it is not, a batch is not even sent: ioredis would queue the write
   * offline and, although the call times out and the batch is retried, still
   * run it on reconnect, counting the batch twice.
   */
  readonly isStoreReady?: () => boolean;
  readonly logger: Logger;
  /** Called with the number of submissions counted and the receive time of the oldest, once their batch is in Redis. */
  readonly onCounted?: (count: number, oldestReceivedAtMs: number) => void;
}

/** Redis did not take a batch's counts: the consumer retries it with backoff, acking nothing meanwhile. */
class CounterStoreUnavailableError extends TransientError {
  override readonly name = 'CounterStoreUnavailableError';
}

export class StatsConsumer {
  private readonly consumer: BatchingConsumer<CountEntry[]>;

  constructor(private readonly options: StatsConsumerOptions) {
    this.consumer = new BatchingConsumer<CountEntry[]>({
      url: options.url,
      topology: options.topology,
      queue: options.topology.statsQueue,
      prefetch: options.prefetch,
      batch: options.batch,
      maxConcurrentBatches: STATS_CONCURRENT_BATCHES,
      logger: options.logger,
      connectionName: `telemetry-stats pid ${process.pid}`,
      // A message whose framing is broken throws here and is rejected: the
      // stats queue has no dead-letter exchange, so it is dropped (stats are
      // best effort; the persist copy is what the workers file).
      prepare: (message) => this.prepare(message),
      handle: (items) => this.handle(items),
      // Decoding is cheap and the entries are smaller than the message: never let raw messages queue behind a stuck batch.
      prepareOnArrival: true,
    });
  }

  start(): void {
    this.consumer.start();
  }

  isConnected(): boolean {
    return this.consumer.isConnected();
  }

  waitUntilConnected(timeoutMs: number): Promise<void> {
    return this.consumer.waitUntilConnected(timeoutMs);
  }

  /** Stops consuming, records what was delivered (if Redis takes it), returns the rest to the queue. */
  stop(): Promise<void> {
    return this.consumer.stop();
  }

  private prepare(message: ConsumeMessage): PreparedItem<CountEntry[]>[] {
    const { entries, metadataBytes } = messageCounts(this.options.schema, message);
    // Nothing to count (an empty batch): no item, the consumer acks it at once.
    return entries.length === 0 ? [] : [{ item: entries, bytes: metadataBytes }];
  }

  private async handle(items: CountEntry[][]): Promise<Settlement[]> {
    const entries = items.flat();
    if (this.options.isStoreReady?.() === false) throw new CounterStoreUnavailableError('Redis is not connected');
    try {
      await this.options.store.record(entries);
    } catch (error) {
      throw new CounterStoreUnavailableError(`Redis did not take ${entries.length} count(s): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    let oldest = Infinity;
    for (const entry of entries) oldest = Math.min(oldest, entry.atMs);
    this.options.onCounted?.(entries.length, oldest);
    return items.map(() => ACK);
  }
}

/**
 * The counter entries of one stats message: one 'received' entry per
 * submission, at its receive minute, with its URL dimensions and body size
 * (a generic-form submission's namespace and docType: its channel is in the
 * body, which the stats view does not carry; the workers count it persisted).
 * Submissions the codec calls invalid (no docId, no receive time) are counted
 * too, with their path's dimensions when the path had them: the gateway
 * accepted them, and "received" counts what clients sent. Throws
 * MalformedMessageError when the framing itself is broken.
 */
export function messageEntries(schema: DimensionSchema, message: Parameters<typeof decodeMessage>[0]): CountEntry[] {
  return messageCounts(schema, message).entries;
}

/**
 * A message's entries and its size without bodies: the weight of its item,
 * so a message that carries bodies is batched as its stats view would be
 * (the bodies are not held: the entries reference none of the content).
 */
function messageCounts(schema: DimensionSchema, message: Parameters<typeof decodeMessage>[0]): { entries: CountEntry[]; metadataBytes: number } {
  const { submissions, invalid } = decodeMessage(message);
  const all = [...submissions, ...invalid.map(({ submission }) => submission)];
  let bodyBytes = 0;
  for (const submission of all) bodyBytes += submission.body.length;
  return { entries: all.map((submission) => submissionEntry(schema, submission)), metadataBytes: message.content.length - bodyBytes };
}

function submissionEntry(schema: DimensionSchema, submission: Submission): CountEntry {
  return {
    atMs: submission.receivedAtMs,
    kind: 'received',
    // URL values, so percent-decoded once (urlStatsValues, genericStatsValues) before the schema's mapping.
    values: submission.generic ? genericStatsValues(submission.generic) : urlStatsValues(schema, submission.urlDimensions),
    count: 1,
    // The stats view carries no body: bodyBytes keeps the size the gateway received.
    bytes: submission.bodyBytes,
  };
}
