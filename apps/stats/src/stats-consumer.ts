/**
 * Reads `telemetry.stats` and counts each submission per minute and URL
 * dimension value, before (in parallel with) persistence. Batches are
 * aggregated and written in one Redis round trip per minute, then acked
 * with one multiple-ack; while Redis is away nothing is acked (the queue
 * is bounded and drops its oldest, so ingestion never waits for stats).
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { AmqpConnection } from '@telemetry/shared/amqp/connection';
import { urlDimensionsFromPath } from '@telemetry/shared/amqp/submission-message';
import { assertTopology, type Topology } from '@telemetry/shared/amqp/topology';
import type { DimensionSchema } from '@telemetry/shared/dimensions/schema';
import type { CountEntry, RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { statsValues } from '@telemetry/shared/stats/dimensions';
import type { Logger } from 'pino';

export interface StatsConsumerOptions {
  readonly url: string;
  readonly topology: Topology;
  readonly prefetch: number;
  readonly batchSize: number;
  readonly batchMaxWaitMs: number;
  readonly schema: DimensionSchema;
  readonly store: RedisCounterStore;
  readonly logger: Logger;
  readonly onCounted?: (count: number) => void;
}

export class StatsConsumer {
  private readonly connection: AmqpConnection;
  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  private pending: ConsumeMessage[] = [];
  private timer: NodeJS.Timeout | undefined;
  private acked: Promise<void> = Promise.resolve();

  constructor(private readonly options: StatsConsumerOptions) {
    this.connection = new AmqpConnection({
      url: options.url,
      logger: options.logger,
      connectionName: `telemetry-stats pid ${process.pid}`,
      onConnected: (connection) => this.attach(connection),
      onDisconnected: () => {
        // Unacked deliveries of the dead channel come back on the next one.
        this.channel = undefined;
        this.pending = [];
      },
    });
  }

  start(): void {
    this.connection.start();
  }

  isConnected(): boolean {
    return this.connection.isConnected() && this.channel !== undefined;
  }

  waitUntilConnected(timeoutMs: number): Promise<void> {
    return this.connection.waitUntilConnected(timeoutMs);
  }

  async stop(): Promise<void> {
    if (this.channel && this.consumerTag) await this.channel.cancel(this.consumerTag).catch(() => undefined);
    await this.flush();
    await this.connection.close();
  }

  private async attach(connection: ChannelModel): Promise<void> {
    const channel = await connection.createChannel();
    channel.on('error', (error: Error) => this.options.logger.warn({ err: error.message }, 'stats channel error'));
    await assertTopology(channel, this.options.topology);
    await channel.prefetch(this.options.prefetch);
    this.channel = channel;
    const { consumerTag } = await channel.consume(this.options.topology.statsQueue, (message) => {
      if (message) this.receive(channel, message);
    });
    this.consumerTag = consumerTag;
  }

  private receive(channel: Channel, message: ConsumeMessage): void {
    if (channel !== this.channel) return;
    this.pending.push(message);
    if (this.pending.length >= this.options.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.batchMaxWaitMs);
  }

  /**
   * Starts recording the pending batch at once (several batches may be in
   * Redis round trips together) but acknowledges batches strictly in order,
   * so a multiple-ack never covers a batch that is not counted yet.
   */
  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const channel = this.channel;
    const batch = this.pending;
    this.pending = [];
    if (!channel || batch.length === 0) return this.acked;
    const recorded = this.record(channel, batch);
    this.acked = this.acked.then(async () => {
      if (!(await recorded) || this.channel !== channel) return; // redelivered on the next channel
      const last = batch[batch.length - 1];
      if (last) channel.ack(last, true);
      this.options.onCounted?.(batch.length);
    });
    return this.acked;
  }

  /** Records a batch, retrying while Redis is away; false when the channel died meanwhile. */
  private async record(channel: Channel, batch: ConsumeMessage[]): Promise<boolean> {
    const entries = batch.map((message) => this.entryOf(message));
    let backoffMs = 200;
    for (;;) {
      try {
        await this.options.store.record(entries);
        return true;
      } catch (error) {
        if (this.channel !== channel) return false;
        this.options.logger.warn({ err: error instanceof Error ? error.message : String(error), backoffMs }, 'Redis did not take the counts; retrying');
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(10_000, backoffMs * 2);
      }
    }
  }

  private entryOf(message: ConsumeMessage): CountEntry {
    return receivedEntry(this.options.schema, message);
  }
}

/** The counter entry of one submission message: its minute, URL dimensions and size. */
export function receivedEntry(schema: DimensionSchema, message: Pick<ConsumeMessage, 'content' | 'properties'>): CountEntry {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const path = typeof headers.path === 'string' ? headers.path : '';
  const receivedAtMs = Number(headers.receivedAtMs);
  return {
    atMs: Number.isFinite(receivedAtMs) ? receivedAtMs : Date.now(),
    kind: 'received',
    values: statsValues(schema, urlDimensionsFromPath(path)),
    count: 1,
    bytes: message.content.length,
  };
}
