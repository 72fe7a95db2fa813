/**
 * AMQP_URL as a list of brokers: one URL, or the nodes of a RabbitMQ cluster
 * separated by commas,
 *
 *   amqp://telemetry:PASSWORD@rmq1:5672,amqp://telemetry:PASSWORD@rmq2:5672,amqp://telemetry:PASSWORD@rmq3:5672
 *
 * Each entry is a whole URL (credentials, vhost and query of its own); a
 * comma inside a password is written %2C, as any reserved character of a URL.
 * Long-lived connections (`AmqpConnection`) start with the first entry and
 * move to the next after each failed attempt or lost connection; one-shot
 * connections (the heartbeat check, `telemetry dead-letters`) take the first
 * that answers.
 */
import amqp, { type ChannelModel } from 'amqplib';
import { z } from 'zod';

/** The entries of a broker list; throws an Error naming the first bad one (credentials hidden). */
export function parseBrokerList(value: string): string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error('no broker URL (one amqp:// URL, or several separated by commas)');
  for (const entry of entries) {
    if (!/^amqps?:\/\//i.test(entry) || !URL.canParse(entry) || new URL(entry).hostname === '') {
      throw new Error(`"${redactBroker(entry)}" is not an amqp:// or amqps:// URL (several brokers: separate whole URLs with commas)`);
    }
  }
  return entries;
}

/** A zod field for AMQP_URL: the text as given, checked to be a broker list. */
export function brokerListField(defaultText: string) {
  return z
    .string()
    .default(defaultText)
    .superRefine((text, ctx) => {
      try {
        parseBrokerList(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    });
}

/** `host:port` of a broker URL, for logs and messages (never the credentials). */
export function brokerAddress(url: string): string {
  if (!URL.canParse(url)) return '(unparsable URL)';
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === 'amqps:' ? '5671' : '5672')}`;
}

/** The URL with its password replaced by `***`. */
function redactBroker(url: string): string {
  if (!URL.canParse(url)) return '(unparsable URL)';
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** amqplib's socket options used here (its types leave them `any`). */
interface SocketOptions {
  /** Longest TCP connect + AMQP handshake, in ms. */
  readonly timeout: number;
  readonly clientProperties?: Readonly<Record<string, unknown>>;
}

export interface BrokerAttempt {
  readonly url: string;
  readonly connection?: ChannelModel;
  readonly error?: Error;
}

/**
 * Opens one connection to every broker of the list at once (each bounded by
 * `options.timeout`) and reports each outcome, in list order; the caller
 * closes the connections it got.
 */
export async function connectEach(list: string, options: SocketOptions): Promise<BrokerAttempt[]> {
  return Promise.all(
    parseBrokerList(list).map((url) =>
      amqp.connect(url, options).then(
        (connection): BrokerAttempt => {
          connection.on('error', () => undefined);
          return { url, connection };
        },
        (error: unknown): BrokerAttempt => ({ url, error: error instanceof Error ? error : new Error(String(error)) }),
      ),
    ),
  );
}

/**
 * A connection to the first broker of the list that accepts one, tried in
 * order; when none does, an Error listing each broker (no credentials) and
 * why, with the first broker's error as its cause.
 */
export async function connectFirst(list: string, options: SocketOptions): Promise<{ connection: ChannelModel; url: string }> {
  const failures: { url: string; error: unknown }[] = [];
  for (const url of parseBrokerList(list)) {
    try {
      return { connection: await amqp.connect(url, options), url };
    } catch (error) {
      failures.push({ url, error });
    }
  }
  const reasons = failures.map(({ url, error }) => `${brokerAddress(url)}: ${error instanceof Error ? error.message : String(error)}`);
  throw new Error(failures.length === 1 ? (reasons[0] ?? '') : `no broker answered (${reasons.join('; ')})`, { cause: failures[0]?.error });
}
