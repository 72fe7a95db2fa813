/**
 * Publishing with publisher confirms: `publish` resolves only once RabbitMQ
 * has taken responsibility for the message (persistent message, durable
 * queues). It fails fast, never buffers without bound:
 * - BrokerUnavailableError when there is no channel, the broker nacks, the
 *   channel dies before confirming, or the confirm takes too long;
 * - PublishBackpressureError when `maxInFlight` publishes already wait.
 * The gateway turns both into 503 + Retry-After.
 */
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { TransientError } from '../errors.js';

export class BrokerUnavailableError extends TransientError {
  override readonly name = 'BrokerUnavailableError';
}

export class PublishBackpressureError extends TransientError {
  override readonly name = 'PublishBackpressureError';
}

export interface ConfirmPublisherOptions {
  readonly maxInFlight: number;
  readonly confirmTimeoutMs: number;
}

export class ConfirmPublisher {
  private channel: ConfirmChannel | undefined;
  private inFlightCount = 0;

  constructor(private readonly options: ConfirmPublisherOptions) {}

  /** Opens the confirm channel on a (re)established connection. */
  async attach(connection: ChannelModel): Promise<ConfirmChannel> {
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
