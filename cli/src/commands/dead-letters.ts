/**
 * `telemetry dead-letters list|replay`: operator commands on the dead-letter
 * queue (SPEC 3), configured like the apps (AMQP_URL and the topology
 * variables). They need broker credentials: never expose them publicly.
 */
import type { ChannelModel } from 'amqplib';
import { connectFirst } from '@telemetry/shared/amqp/broker-list';
import type { Command } from 'commander';
import { topologyEnvShape, topologyFromEnv, type Topology } from '@telemetry/shared/amqp/topology';
import { ConfigError, parseEnv } from '@telemetry/shared/config/env';
import { z } from 'zod';
import { DeadLetterError, peekDeadLetters, replayDeadLetters, type DeadLetterSummary } from '../dead-letters/queue.js';
import { integerOption, redactUrl } from '../options.js';
import { UsageError } from '../usage-error.js';
import { writeOrWait } from './io.js';

interface ListOptions {
  limit?: string;
  json?: boolean;
}

interface ReplayOptions {
  limit?: string;
}

const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIMIT = 10_000_000;

export function registerDeadLetters(program: Command): void {
  const deadLetters = program
    .command('dead-letters')
    .description('Inspect or replay the dead-letter queue (operator command: needs AMQP_URL and the topology variables)');
  deadLetters
    .command('list')
    .description('Show the messages in the dead-letter queue and leave them there')
    .option('--limit <n>', `show at most n messages (default ${DEFAULT_LIST_LIMIT})`)
    .option('--json', 'print one JSON document {queue, total, messages: [...]}')
    .action(async (options: ListOptions) => {
      const limit = integerOption('--limit', options.limit, DEFAULT_LIST_LIMIT, 1, MAX_LIMIT);
      process.exitCode = await withBroker(async (connection, topology) => {
        const { total, messages } = await peekDeadLetters(connection, topology, limit);
        await printList(topology.deadLetterQueue, total, messages, options.json === true);
      });
    });
  deadLetters
    .command('replay')
    .description('Move messages from the dead-letter queue back to the persist queue with a fresh set of retries')
    .option('--limit <n>', 'move at most n messages (default: all those present at the start)')
    .action(async (options: ReplayOptions) => {
      const limit = integerOption('--limit', options.limit, MAX_LIMIT, 1, MAX_LIMIT);
      process.exitCode = await withBroker(async (connection, topology) => {
        const { moved, remaining } = await replayDeadLetters(connection, topology, limit);
        await writeOrWait(
          process.stdout,
          `moved ${moved} message(s) from ${topology.deadLetterQueue} to ${topology.persistQueue}; ${remaining} left in the dead-letter queue\n`,
        );
      });
    });
}

function brokerSettings(): { url: string; topology: Topology } {
  try {
    const env = parseEnv(z.object(topologyEnvShape), process.env);
    return { url: env.AMQP_URL, topology: topologyFromEnv(env) };
  } catch (error) {
    // A bad variable is the operator's input, like a bad option: exit 2.
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** Connects, runs `task`, closes; resolves to the exit code (1 when the broker fails us). */
async function withBroker(task: (connection: ChannelModel, topology: Topology) => Promise<void>): Promise<number> {
  const { url, topology } = brokerSettings();
  let connection: ChannelModel;
  try {
    // A broker list (a cluster's nodes): the first that answers.
    ({ connection } = await connectFirst(url, {
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: 'telemetry-cli dead-letters' },
    }));
  } catch (error) {
    const brokers = url.split(',').map((entry) => redactUrl(entry.trim())).join(',');
    await fail(`cannot connect to RabbitMQ at ${brokers}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  // Without a listener a connection error would crash the process; the pending operation reports it.
  connection.on('error', () => undefined);
  try {
    await task(connection, topology);
    return 0;
  } catch (error) {
    if (!(error instanceof DeadLetterError)) throw error;
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    await fail(`${error.message}${cause}`);
    return 1;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function fail(message: string): Promise<void> {
  await writeOrWait(process.stderr, `telemetry dead-letters: ${message}\n`);
}

/** One line per message; tabs and newlines in free text become spaces so columns stay columns. */
async function printList(queue: string, total: number, messages: readonly DeadLetterSummary[], json: boolean): Promise<void> {
  if (json) {
    await writeOrWait(process.stdout, `${JSON.stringify({ queue, total, messages })}\n`);
    return;
  }
  const flat = (value: string): string => value.replace(/[\t\r\n]+/g, ' ');
  const lines = [
    `${queue}: ${total} message(s)${messages.length < total ? `, showing the first ${messages.length}` : ''}`,
    ...(messages.length > 0 ? ['docIds\tsubmissions\tattempts\tdead-lettered-at\tbytes\treason'] : []),
    ...messages.map((m) => [flat(docIdsColumn(m)), m.submissions, m.attempts, m.deadLetteredAt, m.bytes, flat(reasonColumn(m))].join('\t')),
  ];
  await writeOrWait(process.stdout, `${lines.join('\n')}\n`);
}

/** The docIds shown, comma-separated, with how many more the message holds. */
function docIdsColumn(m: DeadLetterSummary): string {
  const more = m.submissions - m.docIds.length;
  return `${m.docIds.join(',') || '-'}${more > 0 ? ` (+${more} more)` : ''}`;
}

/** The reason; for a message the codec cannot read, why (it is still replayed as is). */
function reasonColumn(m: DeadLetterSummary): string {
  return m.decodeError === '' ? m.reason : `${m.reason}${m.reason === '' ? '' : '; '}unreadable message: ${m.decodeError}`;
}
