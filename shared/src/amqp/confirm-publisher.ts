/**
 * Publishing with publisher confirms: `publish` resolves only once RabbitMQ
 * has taken responsibility for the message (persistent message, durable
 * queues). It fails fast, never buffers without bound:
 * - BrokerUnavailableError when there is no channel, the broker nacks, the
 *   channel dies before confirming, or the confirm takes too long;
 * - PublishBackpressureError when `maxInFlight` publishes already wait.
 * The gateway turns both into 503 + Retry-After.
 *
 * A channel that gets nothing but nacks to one destination (exchange and
 * routing key) for `STALE_AFTER_MS` is given up: its
 * connection is closed, so the owner's AmqpConnection reconnects (to the next
 * broker of the list) and attaches a fresh channel. Seen on RabbitMQ 3.10: a
 * channel whose first publish to a quorum queue comes while the queue's
 * record still names the leader that just died asks that dead node, is
 * refused (reject_publish), and asks it again for every later publish, until
 * that node is back; a new channel reads the new leader (test/cluster).
 */
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import type { Logger } from 'pino';
import { TransientError } from '../errors.js';

/** Nacks only, at least this many and for at least this long: the channel is stale. */
const STALE_NACKS = 5;
const STALE_AFTER_MS = 500;

export class BrokerUnavailableError extends TransientError {
  override readonly name = 'BrokerUnavailableError';
}

export class PublishBackpressureError extends TransientError {
  override readonly name = 'PublishBackpressureError';
}

export interface ConfirmPublisherOptions {
  readonly maxInFlight: number;
  readonly confirmTimeoutMs: number;
  /** Says when a stale channel's connection is closed. */
  readonly logger?: Logger;
}

export class ConfirmPublisher {
  private channel: ConfirmChannel | undefined;
  private connection: ChannelModel | undefined;
  private inFlightCount = 0;
  /** Per exchange and routing key (one queue may be stale, another not): nacks since the last ack, and when the first came. */
  private readonly nacks = new Map<string, { count: number; since: number }>();

  constructor(private readonly options: ConfirmPublisherOptions) {}

  /** Opens the confirm channel on a (re)established connection. */
  async attach(connection: ChannelModel): Promise<ConfirmChannel> {
    this.connection = connection;
    this.nacks.clear();
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => {
      // The close event follows; the connection logs the cause.
    });
    channel.once('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    this.channel = channel;
    return channel;
  }

  isReady(): boolean {
    return this.channel !== undefined;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  async publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    const channel = this.channel;
    if (!channel) throw new BrokerUnavailableError('not connected to RabbitMQ');
    if (this.inFlightCount >= this.options.maxInFlight) {
      throw new PublishBackpressureError(`${this.inFlightCount} publishes already wait for a confirm`);
    }
    this.inFlightCount += 1;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new BrokerUnavailableError(`no confirm within ${this.options.confirmTimeoutMs} ms`)),
          this.options.confirmTimeoutMs,
        );
        try {
          // The write buffer may be full (publish returns false); the confirm
          // callback still fires, and the in-flight bound limits memory.
          channel.publish(exchange, routingKey, content, options, (error: unknown) => {
            clearTimeout(timer);
            this.confirmed(channel, `${exchange} ${routingKey}`, !error);
            if (error) reject(new BrokerUnavailableError('RabbitMQ did not confirm the message', { cause: error }));
            else resolve();
          });
        } catch (error) {
          clearTimeout(timer);
          reject(new BrokerUnavailableError('publish failed', { cause: error }));
        }
      });
    } finally {
      this.inFlightCount -= 1;
    }
  }

  /** Counts acks and nacks of `channel` by destination; gives up its connection when one destination only nacks (see above). */
  private confirmed(channel: ConfirmChannel, destination: string, acked: boolean): void {
    if (channel !== this.channel) return;
    if (acked) {
      this.nacks.delete(destination);
      return;
    }
    const now = Date.now();
    const run = this.nacks.get(destination) ?? { count: 0, since: now };
    run.count += 1;
    this.nacks.set(destination, run);
    if (run.count < STALE_NACKS || now - run.since < STALE_AFTER_MS) return;
    this.options.logger?.warn({ destination, nacks: run.count, forMs: now - run.since }, 'RabbitMQ refuses every publish to this destination on this channel: reconnecting');
    this.channel = undefined;
    this.nacks.clear();
    void this.connection?.close().catch(() => undefined);
  }

  /** Waits for every outstanding confirm (graceful shutdown). */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlightCount > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }
}
