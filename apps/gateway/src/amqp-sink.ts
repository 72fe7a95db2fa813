/**
 * Publishes accepted submissions to RabbitMQ in batches (SPEC 3): the
 * submissions accepted within a short window are framed by the wire codec
 * into ONE persistent message (the broker's cost is per message), published
 * with a confirm; each submission's promise settles with that confirm, so
 * every 200 still means "the broker has it". A nack, a lost channel or a
 * confirm timeout rejects every submission of the message (503 +
 * Retry-After). The stats queue gets a second message with the metadata only.
 *
 * Memory is bounded by bytes: submissions waiting in the open batch or for
 * a confirm may hold at most `maxInFlightBytes`; past it a submission is
 * refused at once (PublishBackpressureError → 503).
 */
import { randomBytes } from 'node:crypto';
import { AmqpConnection } from '@telemetry/shared/amqp/connection';
import { ConfirmPublisher, PublishBackpressureError } from '@telemetry/shared/amqp/confirm-publisher';
import { assertTopology, PERSIST_ROUTING_KEY, STATS_ROUTING_KEY, type Topology } from '@telemetry/shared/amqp/topology';
import { batchPublishOptions, encodeBothViews, type Submission } from '@telemetry/shared/amqp/wire-codec';
import { Batcher, type BatchLimits } from '@telemetry/shared/batching/batcher';
import type { Logger } from 'pino';
import type { GatewayMetrics } from './metrics.js';
import type { SubmissionSink } from './submission-sink.js';

export interface AmqpSinkOptions {
  readonly url: string;
  readonly topology: Topology;
  readonly maxInFlight: number;
  readonly maxInFlightBytes: number;
  readonly confirmTimeoutMs: number;
  readonly batch: BatchLimits;
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
}

interface Waiting {
  readonly submission: Submission;
  resolve(): void;
  reject(error: unknown): void;
}

export class AmqpSubmissionSink implements SubmissionSink {
  private readonly publisher: ConfirmPublisher;
  private readonly connection: AmqpConnection;
  private readonly batcher: Batcher<Waiting>;
  private readonly idPrefix = `${randomBytes(4).toString('hex')}-${process.pid}-`;
  private sequence = 0;
  private inFlightBytes = 0;
  private readonly flushes = new Set<Promise<void>>();

  constructor(private readonly options: AmqpSinkOptions) {
    this.publisher = new ConfirmPublisher({ maxInFlight: options.maxInFlight, confirmTimeoutMs: options.confirmTimeoutMs, logger: options.logger });
    options.metrics?.maxInFlightPublishes.set(options.maxInFlight);
    options.metrics?.maxInFlightBytes.set(options.maxInFlightBytes);
    this.batcher = new Batcher(options.batch, (items, bytes) => this.track(this.publishBatch(items, bytes)));
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

  publish(submission: Submission): Promise<void> {
    const bytes = submission.body.length;
    if (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.options.maxInFlightBytes) {
      return Promise.reject(new PublishBackpressureError(`${this.inFlightBytes} bytes already wait for a confirm`));
    }
    this.inFlightBytes += bytes;
    this.options.metrics?.inFlightBytes.set(this.inFlightBytes);
    return new Promise<void>((resolve, reject) => this.batcher.add({ submission, resolve, reject }, bytes));
  }

  /** Flushes the open batch, waits for outstanding confirms (at most `drainTimeoutMs`), then closes. */
  async close(drainTimeoutMs: number): Promise<void> {
    this.batcher.flushNow();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainTimeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.flushes]), deadline]);
    await this.publisher.close();
    await this.connection.close();
  }

  private track(flush: Promise<void>): void {
    this.flushes.add(flush);
    void flush.finally(() => this.flushes.delete(flush));
  }

  private async publishBatch(items: Waiting[], bytes: number): Promise<void> {
    const submissions = items.map((item) => item.submission);
    const messageId = this.idPrefix + String(this.sequence++);
    const now = Date.now();
    const metrics = this.options.metrics;
    const stopTimer = metrics?.publishSeconds.startTimer();
    metrics?.batchSubmissions.observe(items.length);
    try {
      const views = encodeBothViews(submissions);
      const persisted = this.publisher.publish(this.options.topology.exchange, PERSIST_ROUTING_KEY, views.full, batchPublishOptions(messageId, now));
      // Stats are best effort (their queue drops its oldest anyway): a refused
      // stats message costs counts, never a submission.
      this.publisher
        .publish(this.options.topology.exchange, STATS_ROUTING_KEY, views.stats, { ...batchPublishOptions(messageId, now), persistent: false })
        .catch(() => metrics?.statsMessagesDropped.inc());
      await persisted;
      for (const item of items) item.resolve();
    } catch (error) {
      for (const item of items) item.reject(error);
    } finally {
      stopTimer?.();
      this.inFlightBytes -= bytes;
      metrics?.inFlightBytes.set(this.inFlightBytes);
      metrics?.inFlightPublishes.set(this.publisher.inFlight);
    }
  }
}
