/**
 * Operator access to the dead-letter queue (SPEC 3): look at what the workers
 * gave up on, or RabbitMQ dead-lettered itself (the persist queue's delivery
 * limit), and move it back to the persist queue once the cause is fixed.
 * Messages are read through the wire codec, batches and the earlier
 * one-submission format alike; replay moves their content unchanged.
 *
 * Both operations take messages with `basic.get` unacknowledged. A message
 * the broker has delivered but not seen acknowledged is never lost: if this
 * process dies, RabbitMQ puts it back when the channel closes.
 */
import type { Channel, ChannelModel, GetMessage, Options } from 'amqplib';
import type { Topology } from '@telemetry/shared/amqp/topology';
import { decodeMessage, MalformedMessageError } from '@telemetry/shared/amqp/wire-codec';
import { ATTEMPTS_HEADER, DEAD_LETTER_REASON_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER } from '@telemetry/shared/amqp/headers';

/**
 * Dropped on replay so the message starts over with a full set of retries.
 * RabbitMQ's own history goes too: its dead-letter record (x-death, set by
 * the retry queue's TTL round trips or the persist queue's delivery limit)
 * and the quorum queue's delivery count describe the failed run, not the new
 * one (a kept x-delivery-count would bring the message nearer its limit).
 */
const RUN_HEADERS = [
  ATTEMPTS_HEADER,
  LAST_ERROR_HEADER,
  DEAD_LETTER_REASON_HEADER,
  DEAD_LETTERED_AT_HEADER,
  'x-delivery-count',
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
];

/** The broker refused or lost something; the command exits 1 (not a usage error). */
export class DeadLetterError extends Error {
  override readonly name = 'DeadLetterError';
}

/** DocIds listed per message: a batch may carry hundreds, the summary is for a person. */
const DOC_IDS_SHOWN = 5;

export interface DeadLetterSummary {
  /** The first submission's docId and path ('' when the message has none). */
  readonly docId: string;
  readonly path: string;
  readonly messageId: string;
  /** Submissions in the message (a gateway batch or a worker's re-publication carries several). */
  readonly submissions: number;
  /** The first DOC_IDS_SHOWN docIds. */
  readonly docIds: readonly string[];
  /** The workers' reason, or RabbitMQ's when the broker dead-lettered it itself (e.g. the delivery limit). */
  readonly reason: string;
  readonly deadLetteredAt: string;
  readonly attempts: number;
  readonly lastError: string;
  /** Message size as stored: the submissions' bodies as received (often gzip) and their metadata. */
  readonly bytes: number;
  /** Why the content could not be read ('' when it could); such a message still replays as is. */
  readonly decodeError: string;
}

/** A header or property as text: AMQP long strings may arrive as Buffers; anything else is not ours. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** What RabbitMQ's dead-letter reasons mean here (https://www.rabbitmq.com/docs/dlx). */
const BROKER_REASONS: Readonly<Record<string, string>> = {
  delivery_limit: 'delivery limit passed (the message kept failing, e.g. killed its worker)',
  rejected: 'rejected by a consumer (it could not be read or handled)',
  expired: 'expired (message TTL)',
  maxlen: 'queue length limit',
};

interface BrokerDeath {
  readonly reason: string;
  readonly queue: string;
  readonly at: string;
}

/** The latest of RabbitMQ's dead-letter records (x-death lists the newest first), if any. */
function latestDeath(headers: Record<string, unknown>): BrokerDeath | undefined {
  const deaths = headers['x-death'];
  const first: unknown = Array.isArray(deaths) ? deaths[0] : undefined;
  if (typeof first !== 'object' || first === null) return undefined;
  const death = first as Record<string, unknown>;
  return { reason: text(death.reason), queue: text(death.queue), at: amqpTimestamp(death.time) };
}

/** An AMQP timestamp (seconds; amqplib decodes table values as {'!': 'timestamp', value}) as ISO text. */
function amqpTimestamp(value: unknown): string {
  const seconds = typeof value === 'object' && value !== null && 'value' in value ? value.value : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : '';
}

function brokerReason(death: BrokerDeath): string {
  return `RabbitMQ: ${BROKER_REASONS[death.reason] ?? `${death.reason || 'unknown reason'} in ${death.queue || 'an unknown queue'}`}`;
}

/** The submissions' docIds and paths as the codec reads them (either format); the framing error instead when broken. */
function contentOf(message: GetMessage): { docIds: string[]; firstPath: string; decodeError: string } {
  try {
    const { submissions, invalid } = decodeMessage(message);
    const all = [...submissions, ...invalid.map((entry) => entry.submission)];
    return { docIds: all.map((s) => s.docId), firstPath: all[0]?.path ?? '', decodeError: '' };
  } catch (error) {
    if (!(error instanceof MalformedMessageError)) throw error;
    return { docIds: [], firstPath: '', decodeError: error.message };
  }
}

export function summarize(message: GetMessage): DeadLetterSummary {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const { docIds, firstPath, decodeError } = contentOf(message);
  const death = latestDeath(headers);
  const ours = text(headers[DEAD_LETTER_REASON_HEADER]);
  return {
    docId: docIds[0] ?? '',
    path: firstPath,
    messageId: text(message.properties.messageId as unknown),
    submissions: docIds.length,
    docIds: docIds.slice(0, DOC_IDS_SHOWN),
    reason: ours !== '' || death === undefined ? ours : brokerReason(death),
    deadLetteredAt: text(headers[DEAD_LETTERED_AT_HEADER]) || (death?.at ?? ''),
    attempts: Number(headers[ATTEMPTS_HEADER] ?? 0) || 0,
    lastError: text(headers[LAST_ERROR_HEADER]),
    bytes: message.content.length,
    decodeError,
  };
}

/** The message as first published: same content and properties, without the failed run's headers. */
export function freshPublishOptions(message: GetMessage): Options.Publish {
  const { properties } = message;
  const headers = { ...((properties.headers ?? {}) as Record<string, unknown>) };
  for (const name of RUN_HEADERS) delete headers[name];
  return {
    persistent: true,
    // Unroutable (persist queue deleted meanwhile) must come back as an error, not vanish.
    mandatory: true,
    ...(typeof properties.messageId === 'string' ? { messageId: properties.messageId } : {}),
    ...(typeof properties.timestamp === 'number' ? { timestamp: properties.timestamp } : {}),
    ...(typeof properties.contentType === 'string' ? { contentType: properties.contentType } : {}),
    ...(typeof properties.contentEncoding === 'string' ? { contentEncoding: properties.contentEncoding } : {}),
    ...(typeof properties.type === 'string' ? { type: properties.type } : {}),
    headers,
  };
}

/** Messages ready in `queue`; a DeadLetterError naming the variable when the queue does not exist. */
async function readyCount(connection: ChannelModel, queue: string, variable: string): Promise<number> {
  // checkQueue on a missing queue closes its channel (404): use a throwaway one.
  const channel = await connection.createChannel();
  channel.on('error', () => undefined); // the rejected checkQueue below reports it
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } catch (error) {
    throw new DeadLetterError(`queue "${queue}" does not exist (${variable}; have the workers run?)`, { cause: error });
  } finally {
    await channel.close().catch(() => undefined);
  }
}

async function getUpTo(channel: Channel, queue: string, count: number): Promise<GetMessage[]> {
  const messages: GetMessage[] = [];
  while (messages.length < count) {
    const message = await channel.get(queue, { noAck: false });
    if (message === false) break;
    messages.push(message);
  }
  return messages;
}

/** Requeues every unacknowledged message of the channel, in its place. */
function giveBack(channel: Channel): void {
  try {
    channel.nackAll(true);
  } catch {
    // The channel is already closed: the broker has requeued them itself.
  }
}

/**
 * The first `limit` messages, left in the queue: they are taken unacknowledged
 * and handed back with a nack + requeue, which returns them to their place
 * (RabbitMQ sets their `redelivered` flag; nothing else changes).
 */
export async function peekDeadLetters(
  connection: ChannelModel,
  topology: Topology,
  limit: number,
): Promise<{ total: number; messages: DeadLetterSummary[] }> {
  const total = await readyCount(connection, topology.deadLetterQueue, 'DEAD_LETTER_QUEUE');
  const channel = await connection.createChannel();
  channel.on('error', () => undefined); // a failing get rejects and reports it
  try {
    const messages = await getUpTo(channel, topology.deadLetterQueue, Math.min(limit, total));
    giveBack(channel);
    return { total, messages: messages.map(summarize) };
  } finally {
    await channel.close().catch(() => undefined);
  }
}

const REPLAY_BATCH = 100;

/**
 * Moves up to `limit` messages to the persist queue, in batches: publish with
 * confirms to the default exchange (routing key = persist queue), and ack the
 * dead-letter copies only once every publish of the batch is confirmed. A
 * crash in between leaves a message in both queues, never in neither; the
 * workers' docId deduplication absorbs that copy. At most the count found at
 * the start is moved, so messages that fail again meanwhile are not looped.
 */
export async function replayDeadLetters(
  connection: ChannelModel,
  topology: Topology,
  limit: number,
): Promise<{ moved: number; remaining: number }> {
  await readyCount(connection, topology.persistQueue, 'PERSIST_QUEUE');
  const total = await readyCount(connection, topology.deadLetterQueue, 'DEAD_LETTER_QUEUE');
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined); // a failing get or confirm rejects and reports it
  let returned = 0;
  channel.on('return', () => (returned += 1));
  let moved = 0;
  try {
    const target = Math.min(limit, total);
    while (moved < target) {
      const batch = await getUpTo(channel, topology.deadLetterQueue, Math.min(REPLAY_BATCH, target - moved));
      const last = batch.at(-1);
      if (last === undefined) break;
      for (const message of batch) channel.publish('', topology.persistQueue, message.content, freshPublishOptions(message));
      try {
        await channel.waitForConfirms();
        if (returned > 0) throw new Error(`${returned} message(s) could not be routed to "${topology.persistQueue}"`);
      } catch (error) {
        giveBack(channel);
        throw new DeadLetterError(`replay stopped after ${moved} message(s): the broker did not take the batch`, { cause: error });
      }
      channel.ack(last, true);
      moved += batch.length;
    }
  } finally {
    await channel.close().catch(() => undefined);
  }
  return { moved, remaining: await readyCount(connection, topology.deadLetterQueue, 'DEAD_LETTER_QUEUE') };
}
