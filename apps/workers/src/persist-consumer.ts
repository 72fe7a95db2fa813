/**
 * The worker's transport: `telemetry.persist` through the shared
 * BatchingConsumer. Each message is read by the wire codec into units as it
 * arrives, weighted by what they will decode to (so batches are bounded by
 * count AND bytes); a batch goes through the domain stages (decode → claim →
 * convert → persist → route, `processBatch`), and the decisions they return
 * are carried out here: acks, holds, deferrals, retry and dead-letter
 * messages (published with confirms and a timeout through ConfirmPublisher).
 */
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { ConfirmPublisher } from '@telemetry/shared/amqp/confirm-publisher';
import { ACK, BatchingConsumer, REQUEUE, type PreparedItem, type Settlement } from '@telemetry/shared/amqp/batching-consumer';
import { ATTEMPTS_HEADER, DEAD_LETTER_REASON_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER } from '@telemetry/shared/amqp/headers';
import type { Topology } from '@telemetry/shared/amqp/topology';
import { batchPublishOptions, decodeMessage, encodeBatch, MalformedMessageError, type Submission } from '@telemetry/shared/amqp/wire-codec';
import type { BatchLimits } from '@telemetry/shared/batching/batcher';
import { TransientError } from '@telemetry/shared/errors';
import type { Logger } from 'pino';
import { suspectId } from './poison.js';
import { estimateDecodedBytes } from '@telemetry/shared/conversion/decode-body';
import { invalidOutcome } from './stages/decode.js';
import type { BatchResult } from './stages/process-batch.js';
import type { Unit, UnitDecision } from './stages/unit.js';

export interface PersistConsumerOptions {
  readonly url: string;
  readonly topology: Topology;
  readonly prefetch: number;
  readonly batch: BatchLimits;
  readonly holdRecheckMs: number;
  readonly confirmTimeoutMs: number;
  readonly maxUncompressedBytes: number;
  readonly poisonLimit: number;
  readonly logger: Logger;
  readonly connectionName: string;
  /** Deaths of workers while converting each suspect (see poison.ts). */
  readonly deathCounts: (ids: readonly string[]) => Promise<number[]>;
  readonly process: (units: Unit[]) => Promise<BatchResult>;
  readonly onResult?: (result: BatchResult) => void;
  readonly onTransientFailure?: (error: TransientError) => void;
}

export class PersistConsumer {
  private readonly consumer: BatchingConsumer<Unit>;
  private readonly publisher: ConfirmPublisher;

  constructor(private readonly options: PersistConsumerOptions) {
    this.publisher = new ConfirmPublisher({ maxInFlight: 1_000, confirmTimeoutMs: options.confirmTimeoutMs, logger: options.logger });
    this.consumer = new BatchingConsumer<Unit>({
      url: options.url,
      topology: options.topology,
      queue: options.topology.persistQueue,
      prefetch: options.prefetch,
      batch: options.batch,
      // Two batches at once: one converting while the other is written, fsynced and marked done.
      maxConcurrentBatches: 2,
      logger: options.logger,
      connectionName: options.connectionName,
      prepare: (message) => this.prepare(message),
      handle: (units) => this.handle(units),
      onConnected: async (connection: ChannelModel) => {
        await this.publisher.attach(connection);
      },
      ...(options.onTransientFailure ? { onTransientFailure: options.onTransientFailure } : {}),
    });
  }

  start(): void {
    this.consumer.start();
  }

  waitUntilConnected(timeoutMs: number): Promise<void> {
    return this.consumer.waitUntilConnected(timeoutMs);
  }

  isConnected(): boolean {
    return this.consumer.isConnected() && this.publisher.isReady();
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.publisher.close();
  }

  /** A message's submissions as units, weighted by what they decode to; poison suspects decided here. */
  private async prepare(message: ConsumeMessage): Promise<PreparedItem<Unit>[]> {
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    const attempts = Number(headers[ATTEMPTS_HEADER] ?? 0) || 0;
    const suspect = message.fields.redelivered || Number(headers['x-delivery-count'] ?? 0) > 0;
    let decoded;
    try {
      decoded = decodeMessage(message);
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      return [this.prepared(malformed(message, error.message, attempts))];
    }
    const units: Unit[] = decoded.invalid.map(({ submission, reason }) => ({
      submission,
      attempts,
      suspectId: undefined,
      decoded: invalidOutcome(submission, reason),
    }));
    const ids = decoded.submissions.map(suspectId);
    // Only a message delivered before can have killed a worker: the others cost no lookup.
    const deaths = suspect ? await this.options.deathCounts(ids).catch(() => ids.map(() => 0)) : [];
    for (const [i, submission] of decoded.submissions.entries()) {
      const died = deaths[i] ?? 0;
      units.push({
        submission,
        attempts,
        suspectId: ids[i],
        decoded:
          died >= this.options.poisonLimit
            ? { kind: 'deadLetter', reason: `its worker process died ${died} times while converting it (POISON_LIMIT ${this.options.poisonLimit})` }
            : { kind: 'pending' },
      });
    }
    return units.map((unit) => this.prepared(unit));
  }

  private prepared(unit: Unit): PreparedItem<Unit> {
    const { body, contentEncoding } = unit.submission;
    return { item: unit, bytes: body.length + estimateDecodedBytes(body, { contentEncoding, maxUncompressedBytes: this.options.maxUncompressedBytes }) };
  }

  /** The domain stages, then their decisions carried out. */
  private async handle(units: Unit[]): Promise<Settlement[]> {
    let decisions: UnitDecision[];
    try {
      const result = await this.options.process(units);
      this.options.onResult?.(result);
      decisions = result.decisions;
    } catch (error) {
      if (error instanceof TransientError) throw error; // the consumer retries the batch with backoff
      // Not transient (a bug, an invariant broken): retrying now would loop. Park the
      // units in the dead-letter queue with the reason, for replay after a fix.
      this.options.logger.error({ err: error, units: units.length }, 'batch failed unexpectedly; dead-lettering it');
      decisions = units.map(() => ({ kind: 'deadLetter', reason: `internal error: ${String(error)}` }));
    }
    return this.carryOut(units, decisions);
  }

  private async carryOut(units: readonly Unit[], decisions: readonly UnitDecision[]): Promise<Settlement[]> {
    const settlements: Settlement[] = [];
    const retries = new Map<number, { indexes: number[]; reason: string }>();
    const routed: Promise<void>[] = [];
    for (const [index, decision] of decisions.entries()) {
      const unit = units[index] as Unit;
      switch (decision.kind) {
        case 'stored':
        case 'filed':
        case 'duplicate':
          settlements[index] = ACK;
          break;
        case 'hold':
          settlements[index] = { kind: 'later', afterMs: this.options.holdRecheckMs };
          break;
        case 'defer':
          settlements[index] = { kind: 'later', afterMs: 0 };
          break;
        case 'retry': {
          const group = retries.get(unit.attempts) ?? { indexes: [], reason: decision.reason };
          group.indexes.push(index);
          retries.set(unit.attempts, group);
          break;
        }
        case 'deadLetter':
          routed.push(
            this.route([index], units, this.options.topology.deadLetterQueue, {
              [ATTEMPTS_HEADER]: unit.attempts + 1,
              [DEAD_LETTER_REASON_HEADER]: decision.reason.slice(0, 1000),
              [DEAD_LETTERED_AT_HEADER]: new Date().toISOString(),
            }, settlements),
          );
          break;
      }
    }
    for (const [attempts, group] of retries) {
      routed.push(
        this.route(group.indexes, units, this.options.topology.retryQueue, { [ATTEMPTS_HEADER]: attempts + 1, [LAST_ERROR_HEADER]: group.reason.slice(0, 500) }, settlements),
      );
    }
    await Promise.all(routed);
    return settlements;
  }

  /** Publishes the units as one message to `queue` (confirmed): then they are acked, else requeued. */
  private async route(indexes: readonly number[], units: readonly Unit[], queue: string, headers: Record<string, string | number>, settlements: Settlement[]): Promise<void> {
    const submissions = indexes.map((i) => (units[i] as Unit).submission);
    const now = Date.now();
    try {
      await this.publisher.publish('', queue, encodeBatch(submissions), batchPublishOptions(`${this.options.connectionName}-${now}-${indexes[0]}`, now, headers));
      for (const i of indexes) settlements[i] = ACK;
    } catch (error) {
      this.options.logger.warn({ err: error, queue }, 'could not route submissions; returning their message to the queue');
      for (const i of indexes) settlements[i] = REQUEUE;
    }
  }
}

/** A message whose framing is broken: its whole content is filed as `invalid_path`. */
function malformed(message: ConsumeMessage, reason: string, attempts: number): Unit {
  const raw: unknown = message.properties.messageId;
  const submission: Submission = {
    docId: typeof raw === 'string' ? raw : '',
    path: '',
    receivedAtMs: Date.now(),
    clientHeaders: {},
    body: message.content,
    bodyBytes: message.content.length,
  };
  return { submission, attempts, suspectId: undefined, decoded: invalidOutcome(submission, reason) };
}
