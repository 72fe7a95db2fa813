/**
 * One RabbitMQ connection that comes back by itself: on loss it reconnects
 * with exponential backoff and calls `onConnected` again (declare topology,
 * open channels, resume consuming). Everything else asks `isConnected()`
 * and fails fast while the broker is away (the gateway answers 503).
 *
 * With several brokers (the nodes of a cluster, `broker-list.ts`) the first
 * attempt goes to the first; every failed attempt and every lost connection
 * moves on to the next, so a node that dies (or hangs: each attempt is
 * bounded by `connectTimeoutMs`) is left at once. The backoff doubles per
 * round of the whole list, not per node.
 */
import amqp, { type ChannelModel } from 'amqplib';
import type { Logger } from 'pino';
import { brokerAddress, parseBrokerList } from './broker-list.js';

export interface AmqpConnectionOptions {
  /** One broker URL, or several separated by commas (AMQP_URL). */
  readonly url: string;
  readonly logger: Logger;
  /** Called after every successful (re)connect; a throw closes the connection and retries. */
  readonly onConnected: (connection: ChannelModel) => Promise<void>;
  /** Called once per loss, before reconnecting. */
  readonly onDisconnected?: () => void;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Longest TCP connect + AMQP handshake of one attempt (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Shown in the RabbitMQ management UI. */
  readonly connectionName?: string;
}

export class AmqpConnection {
  private current: ChannelModel | undefined;
  private closing = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly brokers: readonly string[];
  /** Index in `brokers` of the current connection's broker, or of the next attempt's. */
  private brokerIndex = 0;

  constructor(private readonly options: AmqpConnectionOptions) {
    this.brokers = parseBrokerList(options.url);
  }

  get connection(): ChannelModel | undefined {
    return this.current;
  }

  /** `host:port` of the broker connected to (or tried next). */
  get broker(): string {
    return brokerAddress(this.brokers[this.brokerIndex] ?? '');
  }

  isConnected(): boolean {
    return this.current !== undefined;
  }

  /** Starts connecting in the background; never throws. */
  start(): void {
    void this.connect();
  }

  /** Resolves once connected (or rejects after `timeoutMs`). */
  async waitUntilConnected(timeoutMs: number): Promise<void> {
    if (this.current) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new Error(`RabbitMQ not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const connection = this.current;
    this.current = undefined;
    if (connection) {
      try {
        await connection.close();
      } catch {
        // Already closed by the broker: nothing left to release.
      }
    }
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
    let connection: ChannelModel | undefined;
    const url = this.brokers[this.brokerIndex] ?? '';
    try {
      connection = await amqp.connect(withHeartbeat(url), {
        timeout: this.options.connectTimeoutMs ?? 5_000,
        clientProperties: { connection_name: this.options.connectionName ?? 'telemetry' },
        // amqplib leaves Nagle's algorithm on: a lone publish then waits for the
        // peer's delayed ACK (tens of ms), which caps a request/confirm gateway.
        noDelay: true,
      });
      connection.on('error', (error: Error) => this.options.logger.warn({ err: error }, 'RabbitMQ connection error'));
      let closedDuringSetUp = false;
      connection.once('close', () => {
        closedDuringSetUp = true;
        this.lost(connection);
      });
      await this.options.onConnected(connection);
      // amqplib can emit 'close' (e.g. a broker's Connection.Close read with the
      // last set-up reply) before this continuation runs: that one is lost too.
      if (closedDuringSetUp) throw new Error('connection closed while being set up');
      if (this.closing) {
        await connection.close().catch(() => undefined);
        return;
      }
      this.current = connection;
      this.attempt = 0;
      this.options.logger.info({ broker: brokerAddress(url) }, 'connected to RabbitMQ');
      for (const waiter of this.waiters) waiter();
      this.waiters.clear();
    } catch (error) {
      this.options.logger.warn({ err: error, attempt: this.attempt, broker: brokerAddress(url) }, 'RabbitMQ connect failed');
      if (connection) await connection.close().catch(() => undefined);
      this.rotate();
      this.scheduleReconnect();
    }
  }

  private lost(connection: ChannelModel | undefined): void {
    if (this.current !== connection) return;
    this.current = undefined;
    if (this.closing) return;
    this.options.logger.warn({ broker: this.broker }, 'RabbitMQ connection lost; reconnecting');
    this.rotate();
    this.options.onDisconnected?.();
    this.scheduleReconnect();
  }

  /** The next attempt goes to the next broker of the list (the same one when there is one). */
  private rotate(): void {
    this.brokerIndex = (this.brokerIndex + 1) % this.brokers.length;
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const min = this.options.minBackoffMs ?? 200;
    const max = this.options.maxBackoffMs ?? 5_000;
    // The whole list is tried at the shortest delay before any wait doubles.
    const rounds = Math.floor(this.attempt / this.brokers.length);
    const delay = Math.min(max, min * 2 ** rounds) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }
}

/**
 * A 10 s heartbeat unless the URL sets one: a broker that stalls without
 * closing the socket is noticed in ~20 s instead of amqplib's 60 s default.
 */
function withHeartbeat(url: string, seconds = 10): string {
  if (/[?&]heartbeat=/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}heartbeat=${seconds}`;
}
