/**
 * Consumes `telemetry.persist` with a prefetch, gathers deliveries into
 * batches (BATCH_SIZE or BATCH_MAX_WAIT, whichever first), processes one
 * batch at a time and acknowledges after the batch is durable, with one
 * multiple-ack when nothing older is still outstanding. A transient failure
 * (disk full, Redis down) stops acknowledging: the batch is retried with
 * backoff until it goes through; the broker keeps the rest (prefetch bound).
 */
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { AmqpConnection } from '@telemetry/shared/amqp/connection';
import { assertTopology, type Topology } from '@telemetry/shared/amqp/topology';
import { TransientError } from '@telemetry/shared/errors';
import type { Logger } from 'pino';
import type { BatchOutcome, Delivery, RetryRouter } from './batch.js';
import { ATTEMPTS_HEADER, DEAD_LETTER_REASON_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER } from '@telemetry/shared/amqp/headers';
import { republishOptions, toDelivery } from './deliveries.js';

export interface PersistConsumerOptions {
  readonly url: string;
  readonly topology: Topology;
  readonly prefetch: number;
  readonly batchSize: number;
  readonly batchMaxWaitMs: number;
  readonly holdRecheckMs: number;
  readonly logger: Logger;
  readonly connectionName: string;
  readonly process: (deliveries: Delivery[], retries: RetryRouter) => Promise<BatchOutcome>;
  readonly onOutcome?: (outcome: BatchOutcome) => void;
  readonly onTransientFailure?: (error: TransientError) => void;
}

/** Everything tied to one channel; a reconnect starts a new one (old tags are void). */
interface ChannelState {
  readonly channel: ConfirmChannel;
  readonly messages: Map<number, ConsumeMessage>;
  consumerTag: string | undefined;
  closed: boolean;
}

interface Pending {
  readonly state: ChannelState;
  readonly delivery: Delivery;
}

export class PersistConsumer {
  private readonly connection: AmqpConnection;
  private state: ChannelState | undefined;
  private pending: Pending[] = [];
  private busy = false;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly holdTimers = new Set<NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];
  /** Ends the retry backoff of the batch in hand early (on stop or a lost channel). */
  private wakeBackoff: (() => void) | undefined;

  constructor(private readonly options: PersistConsumerOptions) {
    this.connection = new AmqpConnection({
      url: options.url,
      logger: options.logger,
      connectionName: options.connectionName,
      onConnected: (connection) => this.attach(connection),
      onDisconnected: () => this.detach(),
    });
  }

  start(): void {
    this.connection.start();
  }

  waitUntilConnected(timeoutMs: number): Promise<void> {
    return this.connection.waitUntilConnected(timeoutMs);
  }

  isConnected(): boolean {
    return this.connection.isConnected() && this.state !== undefined && !this.state.closed;
  }

  /** Stops consuming, finishes what was delivered, returns held messages to the queue, closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeBackoff?.();
    const state = this.state;
    if (state?.consumerTag) await state.channel.cancel(state.consumerTag).catch(() => undefined);
    for (const timer of this.holdTimers) clearTimeout(timer);
    this.holdTimers.clear();
    await this.drain();
    if (state && !state.closed) {
      for (const message of state.messages.values()) state.channel.nack(message, false, true);
      state.messages.clear();
      await state.channel.close().catch(() => undefined);
    }
    await this.connection.close();
  }

  private async attach(connection: ChannelModel): Promise<void> {
    const channel = await connection.createConfirmChannel();
    channel.on('error', (error: Error) => this.options.logger.warn({ err: error.message }, 'persist channel error'));
    await assertTopology(channel, this.options.topology);
    await channel.prefetch(this.options.prefetch);
    const state: ChannelState = { channel, messages: new Map(), consumerTag: undefined, closed: false };
    channel.once('close', () => {
      state.closed = true;
      if (this.connection.isConnected()) void connection.close().catch(() => undefined);
    });
    this.state = state;
    if (this.stopping) return;
    const { consumerTag } = await channel.consume(this.options.topology.persistQueue, (message) => {
      if (message) this.receive(state, message);
    });
    state.consumerTag = consumerTag;
  }

  private detach(): void {
    if (this.state) this.state.closed = true;
    this.state = undefined;
    this.wakeBackoff?.();
    // Unacknowledged deliveries of the dead channel are redelivered by the broker.
    this.pending = this.pending.filter((p) => !p.state.closed);
  }

  private receive(state: ChannelState, message: ConsumeMessage): void {
    state.messages.set(message.fields.deliveryTag, message);
    this.pending.push({ state, delivery: toDelivery(message, Date.now()) });
    this.schedule();
  }

  private schedule(): void {
    if (this.busy) return;
    if (this.pending.length >= this.options.batchSize || (this.stopping && this.pending.length > 0)) {
      void this.runBatch();
    } else if (this.pending.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.runBatch();
      }, this.options.batchMaxWaitMs);
    } else if (this.pending.length === 0) {
      for (const waiter of this.idleWaiters.splice(0)) waiter();
    }
  }

  private async drain(): Promise<void> {
    if (!this.busy && this.pending.length === 0) return;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.schedule();
    });
  }

  private async runBatch(): Promise<void> {
    if (this.busy || this.pending.length === 0) return;
    this.busy = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const state = this.pending[0]?.state;
    const batch = this.takeBatch(state);
    try {
      if (state && batch.length > 0) await this.processWithRetry(state, batch);
    } catch (error) {
      // Not transient (a bug, an invariant broken): retrying now would loop. Park the
      // batch in the dead-letter queue with the reason, for replay after a fix.
      this.options.logger.error({ err: error, messages: batch.length }, 'batch failed unexpectedly; dead-lettering it');
      if (state) await this.deadLetterBatch(state, batch, `internal error: ${String(error)}`);
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  /** Dead-letters each delivery (acked once confirmed); what cannot be routed goes back to the queue. */
  private async deadLetterBatch(state: ChannelState, batch: readonly Delivery[], reason: string): Promise<void> {
    const router = this.router(state);
    const routed: number[] = [];
    for (const delivery of batch) {
      try {
        await router.deadLetter(delivery, reason);
        routed.push(delivery.tag);
      } catch {
        const message = state.messages.get(delivery.tag);
        state.messages.delete(delivery.tag);
        if (message && !state.closed) state.channel.nack(message, false, true);
      }
    }
    if (!state.closed) this.ack(state, routed);
  }

  /** Deliveries of one channel only, so acks go to the channel that delivered them. */
  private takeBatch(state: ChannelState | undefined): Delivery[] {
    const batch: Delivery[] = [];
    const rest: Pending[] = [];
    for (const item of this.pending) {
      if (item.state === state && batch.length < this.options.batchSize) batch.push(item.delivery);
      else if (!item.state.closed) rest.push(item);
    }
    this.pending = rest;
    return batch;
  }

  private async processWithRetry(state: ChannelState, batch: Delivery[]): Promise<void> {
    let backoffMs = 250;
    for (;;) {
      if (state.closed) return; // redelivered on the next channel
      try {
        const outcome = await this.options.process(batch, this.router(state));
        this.settle(state, outcome);
        this.options.onOutcome?.(outcome);
        return;
      } catch (error) {
        if (!(error instanceof TransientError)) throw error;
        this.options.onTransientFailure?.(error);
        this.options.logger.warn({ err: error.message, backoffMs }, 'batch not persisted; not acknowledging, retrying');
        if (!this.stopping) await this.backoff(backoffMs);
        // Shutting down: no more attempts; stop() returns the batch to the queue unacknowledged.
        if (this.stopping) return;
        backoffMs = Math.min(30_000, backoffMs * 2);
      }
    }
  }

  /** Waits `ms`, or less when stop() or a lost channel wakes it. */
  private async backoff(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeBackoff = undefined;
  }

  private settle(state: ChannelState, outcome: BatchOutcome): void {
    if (state.closed) return;
    this.ack(state, outcome.ack.map((d) => d.tag));
    for (const delivery of outcome.requeue) {
      const message = state.messages.get(delivery.tag);
      state.messages.delete(delivery.tag);
      if (message) state.channel.nack(message, false, true);
    }
    if (outcome.hold.length > 0) {
      const timer = setTimeout(() => {
        this.holdTimers.delete(timer);
        if (state.closed) return;
        this.pending.unshift(...outcome.hold.map((delivery) => ({ state, delivery })));
        this.schedule();
      }, this.options.holdRecheckMs);
      this.holdTimers.add(timer);
    }
  }

  /** One multiple-ack when no older delivery is still outstanding, else one ack each. */
  private ack(state: ChannelState, tags: readonly number[]): void {
    if (tags.length === 0) return;
    const maxTag = Math.max(...tags);
    for (const tag of tags) state.messages.delete(tag);
    let olderOutstanding = false;
    for (const tag of state.messages.keys()) {
      if (tag < maxTag) {
        olderOutstanding = true;
        break;
      }
    }
    if (!olderOutstanding) {
      state.channel.ack({ fields: { deliveryTag: maxTag } } as ConsumeMessage, true);
      return;
    }
    for (const tag of tags) state.channel.ack({ fields: { deliveryTag: tag } } as ConsumeMessage, false);
  }

  private router(state: ChannelState): RetryRouter {
    const publish = (queue: string, delivery: Delivery, headers: Record<string, string | number>) =>
      new Promise<void>((resolve, reject) => {
        const message = state.messages.get(delivery.tag);
        if (!message || state.closed) {
          reject(new TransientError('channel closed'));
          return;
        }
        state.channel.publish('', queue, message.content, republishOptions(message, headers), (error: unknown) =>
          error ? reject(new TransientError('retry publish not confirmed', { cause: error })) : resolve(),
        );
      });
    const { topology } = this.options;
    return {
      retryLater: (delivery, reason) =>
        publish(topology.retryQueue, delivery, { [ATTEMPTS_HEADER]: delivery.attempts + 1, [LAST_ERROR_HEADER]: reason.slice(0, 500) }),
      deadLetter: (delivery, reason) =>
        publish(topology.deadLetterQueue, delivery, {
          [ATTEMPTS_HEADER]: delivery.attempts + 1,
          [DEAD_LETTER_REASON_HEADER]: reason.slice(0, 1000),
          [DEAD_LETTERED_AT_HEADER]: new Date().toISOString(),
        }),
    };
  }
}
