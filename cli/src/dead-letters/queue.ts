/**
 * Operator access to the dead-letter queue (SPEC 3): look at what the workers
 * gave up on, and move it back to the persist queue once the cause is fixed.
 *
 * Both operations take messages with `basic.get` unacknowledged. A message
 * the broker has delivered but not seen acknowledged is never lost: if this
 * process dies, RabbitMQ puts it back when the channel closes.
 */
import type { Channel, ChannelModel, GetMessage, Options } from 'amqplib';
import type { Topology } from '@telemetry/shared/amqp/topology';
import { ATTEMPTS_HEADER, DEAD_LETTER_REASON_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER } from '@telemetry/shared/amqp/headers';

/**
 * The headers the workers set (apps/workers/src/deliveries.ts; the CLI does
 * not import the workers app, and the tests check both agree).
 */
export { ATTEMPTS_HEADER, DEAD_LETTER_REASON_HEADER, DEAD_LETTERED_AT_HEADER, LAST_ERROR_HEADER };

/**
 * Dropped on replay so the message starts over with a full set of retries.
 * RabbitMQ's own dead-letter history (x-death, set by the retry queue) goes
 * too: it describes the failed run, not the new one.
 */
const RUN_HEADERS = [
  ATTEMPTS_HEADER,
  LAST_ERROR_HEADER,
  DEAD_LETTER_REASON_HEADER,
  DEAD_LETTERED_AT_HEADER,
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

export interface DeadLetterSummary {
  readonly docId: string;
  readonly path: string;
  readonly reason: string;
  readonly deadLetteredAt: string;
  readonly attempts: number;
  readonly lastError: string;
  /** Body size as stored in the message (often gzip). */
  readonly bytes: number;
}

/** A header or property as text: AMQP long strings may arrive as Buffers; anything else is not ours. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

export function summarize(message: GetMessage): DeadLetterSummary {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  return {
    docId: text(message.properties.messageId as unknown),
    path: text(headers.path),
    reason: text(headers[DEAD_LETTER_REASON_HEADER]),
    deadLetteredAt: text(headers[DEAD_LETTERED_AT_HEADER]),
    attempts: Number(headers[ATTEMPTS_HEADER] ?? 0) || 0,
    lastError: text(headers[LAST_ERROR_HEADER]),
    bytes: message.content.length,
  };
}

/** The message as the gateway published it: same body and properties, without the failed run's headers. */
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
