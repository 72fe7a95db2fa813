import { AmqpConnection } from '@telemetry/shared/amqp/connection';
import { ConfirmPublisher } from '@telemetry/shared/amqp/confirm-publisher';
import { encodeSubmission, type Submission } from '@telemetry/shared/amqp/submission-message';
import { assertTopology, type Topology } from '@telemetry/shared/amqp/topology';
import type { Logger } from 'pino';
import type { GatewayMetrics } from './metrics.js';
import type { SubmissionSink } from './submission-sink.js';

export interface AmqpSinkOptions {
  readonly url: string;
  readonly topology: Topology;
  readonly maxInFlight: number;
  readonly confirmTimeoutMs: number;
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
}

/** Publishes submissions to the exchange with confirms, reconnecting by itself. */
export class AmqpSubmissionSink implements SubmissionSink {
  private readonly publisher: ConfirmPublisher;
  private readonly connection: AmqpConnection;

  constructor(private readonly options: AmqpSinkOptions) {
    this.publisher = new ConfirmPublisher({ maxInFlight: options.maxInFlight, confirmTimeoutMs: options.confirmTimeoutMs });
    this.connection = new AmqpConnection({
      url: options.url,
      logger: options.logger,
      connectionName: `telemetry-gateway pid ${process.pid}`,
      onConnected: async (connection) => {
        const channel = await this.publisher.attach(connection);
        await assertTopology(channel, options.topology);
        // A channel closed by the broker (e.g. a failed declare) leaves the
        // connection up: close it too, so the reconnect loop starts over.
        channel.once('close', () => {
          if (this.connection.isConnected()) void connection.close().catch(() => undefined);
        });
        options.metrics?.brokerConnected.set(1);
      },
      onDisconnected: () => options.metrics?.brokerConnected.set(0),
    });
  }

  start(): void {
    this.connection.start();
  }

  waitUntilConnected(timeoutMs: number): Promise<void> {
    return this.connection.waitUntilConnected(timeoutMs);
  }

  isReady(): boolean {
    return this.connection.isConnected() && this.publisher.isReady();
  }

  async publish(submission: Submission): Promise<void> {
    const { content, options } = encodeSubmission(submission);
    this.options.metrics?.inFlightPublishes.set(this.publisher.inFlight + 1);
    try {
      await this.publisher.publish(this.options.topology.exchange, '', content, options);
    } finally {
      this.options.metrics?.inFlightPublishes.set(this.publisher.inFlight);
    }
  }

  /** Waits for outstanding confirms, then closes. */
  async close(drainTimeoutMs: number): Promise<void> {
    await this.publisher.drain(drainTimeoutMs);
    await this.publisher.close();
    await this.connection.close();
  }
}
