/**
 * The one batching consumer (the workers' persist queue, the stats queue):
 *
 *   message ─prepare─▶ items ─Batcher {maxSize, maxBytes, maxWaitMs}─▶ batch ─handle─▶ one settlement per item
 *
 * - `prepare` runs once per message, in arrival order, one at a time; it turns
 *   a message into weighted items (the workers convert here, so a batch is
 *   bounded by converted bytes). While a closed batch waits for a handler,
 *   preparing pauses: at most one batch handled per `maxConcurrentBatches`,
 *   one waiting and one filling are in memory, whatever arrives. With
 *   `prepareOnArrival` it never pauses (items smaller than their message).
 * - Once prepared, a message is dropped: only its delivery tag is kept for
 *   settling it, so what it carried is held only as far as its items hold it.
 * - `handle` runs at most `maxConcurrentBatches` batches at once; preparing
 *   the next batch overlaps them (the workers convert batch N+1 while batch N
 *   is written, fsynced and marked done).
 * - A message is settled when all its items are: acked (one multiple-ack
 *   when nothing older is outstanding), requeued, or rejected (the queue's
 *   dead-letter exchange takes it). An item may be handled again `later`.
 * - A handler's TransientError retries the batch with backoff (nothing is
 *   acked meanwhile; the prefetch bounds what the broker hands out); any
 *   other error rejects the batch's messages rather than loop.
 * - A lost channel voids its deliveries (the broker redelivers them); the
 *   connection comes back by itself.
 */
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import type { Logger } from 'pino';
import { Batcher, type BatchLimits } from '../batching/batcher.js';
import { TransientError } from '../errors.js';
import { AmqpConnection } from './connection.js';
import { assertTopology, type Topology } from './topology.js';

export interface PreparedItem<Item> {
  readonly item: Item;
  /** The item's weight against `batch.maxBytes`. */
  readonly bytes: number;
}

export type Settlement = { readonly kind: 'ack' } | { readonly kind: 'requeue' } | { readonly kind: 'reject' } | { readonly kind: 'later'; readonly afterMs: number };

export const ACK: Settlement = { kind: 'ack' };
export const REQUEUE: Settlement = { kind: 'requeue' };
const REJECT: Settlement = { kind: 'reject' };

export interface BatchingConsumerOptions<Item> {
  readonly url: string;
  readonly topology: Topology;
  readonly queue: string;
  readonly prefetch: number;
  readonly batch: BatchLimits;
  readonly maxConcurrentBatches: number;
  readonly logger: Logger;
  readonly connectionName: string;
  readonly prepare: (message: ConsumeMessage) => Promise<PreparedItem<Item>[]> | PreparedItem<Item>[];
  readonly handle: (items: Item[]) => Promise<Settlement[]>;
  /** Called after every (re)connect with the new connection (e.g. to open a publishing channel). */
  readonly onConnected?: (connection: ChannelModel) => Promise<void>;
  readonly onTransientFailure?: (error: TransientError) => void;
  /**
   * Prepare every message as it arrives instead of pausing while a closed
   * batch waits for a handler (default: pause). For a cheap `prepare` whose
   * items hold less than the message (the stats consumer keeps counter
   * entries, never the content): raw messages then never pile up while the
   * handlers are stuck (e.g. retrying), and the prefetch bounds the items.
   */
  readonly prepareOnArrival?: boolean;
}

/** Everything tied to one channel; a reconnect starts a new one (old delivery tags are void). */
interface ChannelState {
  readonly channel: ConfirmChannel;
  /** Unsettled messages by delivery tag (ascending: tags only grow on a channel). */
  readonly outstanding: Map<number, Tracked>;
  consumerTag: string | undefined;
  closed: boolean;
}

interface Tracked {
  readonly state: ChannelState;
  readonly deliveryTag: number;
  /** Until prepared; then dropped (settling needs the tag only), so a big content is not held by its acking. */
  message: ConsumeMessage | undefined;
  remaining: number;
  outcome: 'ack' | 'requeue' | 'reject';
}

interface Entry<Item> {
  readonly tracked: Tracked;
  readonly item: Item;
  readonly bytes: number;
}

const OUTCOME_RANK = { ack: 0, requeue: 1, reject: 2 } as const;

export class BatchingConsumer<Item> {
  private readonly connection: AmqpConnection;
  private readonly batcher: Batcher<Entry<Item>>;
  private state: ChannelState | undefined;
  private readonly toPrepare: Tracked[] = [];
  private readonly closedBatches: Entry<Item>[][] = [];
  private preparing = false;
  private running = 0;
  private stopping = false;
  private readonly laterTimers = new Map<NodeJS.Timeout, Entry<Item>>();
  private idleWaiters: (() => void)[] = [];
  private readonly backoffWakers = new Set<() => void>();

  constructor(private readonly options: BatchingConsumerOptions<Item>) {
    this.batcher = new Batcher<Entry<Item>>(options.batch, (entries) => {
      this.closedBatches.push(entries);
      this.runHandlers();
    });
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

  /** Messages delivered and not settled yet. */
  get unsettled(): number {
    return this.state?.outstanding.size ?? 0;
  }

  /** Stops consuming, finishes what was delivered, returns what waits `later` to the queue, closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of this.backoffWakers) wake();
    const state = this.state;
    if (state?.consumerTag) await state.channel.cancel(state.consumerTag).catch(() => undefined);
    for (const [timer, entry] of this.laterTimers) {
      clearTimeout(timer);
      this.settle(entry.tracked, REQUEUE);
    }
    this.laterTimers.clear();
    this.batcher.flushNow();
    await this.idle();
    if (state && !state.closed) {
      for (const tracked of state.outstanding.values()) state.channel.nack(byTag(tracked.deliveryTag), false, true);
      state.outstanding.clear();
      await state.channel.close().catch(() => undefined);
    }
    await this.connection.close();
  }

  private async attach(connection: ChannelModel): Promise<void> {
    const channel = await connection.createConfirmChannel();
    channel.on('error', (error: Error) => this.options.logger.warn({ err: error.message, queue: this.options.queue }, 'consumer channel error'));
    await assertTopology(channel, this.options.topology);
    await channel.prefetch(this.options.prefetch);
    await this.options.onConnected?.(connection);
    const state: ChannelState = { channel, outstanding: new Map(), consumerTag: undefined, closed: false };
    channel.once('close', () => {
      state.closed = true;
      if (this.connection.isConnected()) void connection.close().catch(() => undefined);
    });
    this.state = state;
    if (this.stopping) return;
    const { consumerTag } = await channel.consume(this.options.queue, (message) => {
      if (message) this.receive(state, message);
    });
    state.consumerTag = consumerTag;
  }

  private detach(): void {
    if (this.state) this.state.closed = true;
    this.state = undefined;
    for (const wake of this.backoffWakers) wake();
    // Deliveries of the dead channel are redelivered by the broker: drop them everywhere.
    const live = (entry: Entry<Item>) => !entry.tracked.state.closed;
    const open = this.batcher.discard().filter(live);
    for (const entry of open) this.batcher.add(entry, entry.bytes);
    for (let i = this.closedBatches.length - 1; i >= 0; i -= 1) {
      const kept = (this.closedBatches[i] ?? []).filter(live);
      if (kept.length === 0) this.closedBatches.splice(i, 1);
      else this.closedBatches[i] = kept;
    }
    for (let i = this.toPrepare.length - 1; i >= 0; i -= 1) if (this.toPrepare[i]?.state.closed) this.toPrepare.splice(i, 1);
    this.notifyIdle();
  }

  private receive(state: ChannelState, message: ConsumeMessage): void {
    const tracked: Tracked = { state, deliveryTag: message.fields.deliveryTag, message, remaining: 0, outcome: 'ack' };
    state.outstanding.set(message.fields.deliveryTag, tracked);
    this.toPrepare.push(tracked);
    void this.pump();
  }

  /** Prepares messages in arrival order while no closed batch waits for a handler (whatever waits, with `prepareOnArrival`). */
  private async pump(): Promise<void> {
    if (this.preparing) return;
    this.preparing = true;
    try {
      while (this.toPrepare.length > 0 && (this.options.prepareOnArrival === true || this.closedBatches.length === 0)) {
        const tracked = this.toPrepare.shift();
        if (!tracked || tracked.state.closed) continue;
        await this.prepareOne(tracked);
      }
      // Nothing more to read for now: do not let the open batch wait out its linger when stopping.
      if (this.stopping && this.toPrepare.length === 0) this.batcher.flushNow();
    } finally {
      this.preparing = false;
      this.notifyIdle();
    }
  }

  private async prepareOne(tracked: Tracked): Promise<void> {
    const { message } = tracked;
    if (!message) return; // already prepared: a message is prepared once
    tracked.message = undefined;
    let prepared: PreparedItem<Item>[];
    try {
      prepared = await this.options.prepare(message);
    } catch (error) {
      this.options.logger.error({ err: error, queue: this.options.queue }, 'could not prepare a message; rejecting it (dead-lettered where the queue has a dead-letter exchange)');
      this.settle(tracked, REJECT);
      return;
    }
    if (tracked.state.closed) return;
    if (prepared.length === 0) {
      this.settle(tracked, ACK);
      return;
    }
    tracked.remaining = prepared.length;
    for (const { item, bytes } of prepared) this.batcher.add({ tracked, item, bytes }, bytes);
  }

  private runHandlers(): void {
    while (this.running < this.options.maxConcurrentBatches && this.closedBatches.length > 0) {
      const batch = this.closedBatches.shift() ?? [];
      this.running += 1;
      void this.handleWithRetry(batch).finally(() => {
        this.running -= 1;
        this.runHandlers();
        void this.pump();
        this.notifyIdle();
      });
    }
  }

  private async handleWithRetry(batch: Entry<Item>[]): Promise<void> {
    let backoffMs = 250;
    for (;;) {
      const live = batch.filter((entry) => !entry.tracked.state.closed);
      if (live.length === 0) return; // redelivered on the next channel
      try {
        const settlements = await this.options.handle(live.map((entry) => entry.item));
        for (const [index, entry] of live.entries()) this.apply(entry, settlements[index] ?? REQUEUE);
        return;
      } catch (error) {
        if (!(error instanceof TransientError)) {
          this.options.logger.error({ err: error, items: live.length, queue: this.options.queue }, 'batch failed unexpectedly; rejecting its messages');
          for (const entry of live) this.settle(entry.tracked, REJECT);
          return;
        }
        this.options.onTransientFailure?.(error);
        this.options.logger.warn({ err: error.message, backoffMs, queue: this.options.queue }, 'batch not handled; not acknowledging, retrying');
        if (this.stopping) {
          // No more attempts: stop() returns the messages to the queue unacknowledged.
          for (const entry of live) this.settle(entry.tracked, REQUEUE);
          return;
        }
        await this.backoff(backoffMs);
        backoffMs = Math.min(30_000, backoffMs * 2);
      }
    }
  }

  private apply(entry: Entry<Item>, settlement: Settlement): void {
    if (settlement.kind !== 'later') {
      this.settle(entry.tracked, settlement);
      return;
    }
    if (this.stopping) {
      this.settle(entry.tracked, REQUEUE);
      return;
    }
    const timer = setTimeout(() => {
      this.laterTimers.delete(timer);
      if (!entry.tracked.state.closed) this.batcher.add(entry, entry.bytes);
    }, settlement.afterMs);
    this.laterTimers.set(timer, entry);
  }

  /** One item of `tracked` is done; the message is settled with its worst outcome once all are. */
  private settle(tracked: Tracked, settlement: Settlement): void {
    if (settlement.kind === 'later') return;
    if (OUTCOME_RANK[settlement.kind] > OUTCOME_RANK[tracked.outcome]) tracked.outcome = settlement.kind;
    tracked.remaining -= 1;
    if (tracked.remaining > 0) return;
    const { state, deliveryTag } = tracked;
    if (state.closed || !state.outstanding.has(deliveryTag)) return;
    state.outstanding.delete(deliveryTag);
    switch (tracked.outcome) {
      case 'ack':
        this.ack(state, deliveryTag);
        break;
      case 'requeue':
        state.channel.nack(byTag(deliveryTag), false, true);
        break;
      case 'reject':
        state.channel.nack(byTag(deliveryTag), false, false);
        break;
    }
  }

  /** A multiple-ack when nothing older is outstanding (covers earlier acked tags too), else a single ack. */
  private ack(state: ChannelState, deliveryTag: number): void {
    const oldest = state.outstanding.keys().next();
    state.channel.ack(byTag(deliveryTag), oldest.done || oldest.value > deliveryTag);
  }

  private async backoff(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.backoffWakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.backoffWakers.add(wake);
    });
  }

  private isIdle(): boolean {
    return !this.preparing && this.running === 0 && this.closedBatches.length === 0 && this.batcher.size === 0 && this.toPrepare.length === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const waiter of this.idleWaiters.splice(0)) waiter();
  }

  private async idle(): Promise<void> {
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      void this.pump();
    });
  }
}

/**
 * The message amqplib's `ack` and `nack` are given: they read only
 * `fields.deliveryTag` (amqplib 0.10 channel_model.js), so settling needs no
 * content, properties or headers kept.
 */
function byTag(deliveryTag: number): Message {
  return { fields: { deliveryTag } } as Message;
}
