/**
 * A TCP proxy in front of a real service (RabbitMQ, Redis) so fault tests can
 * make it unreachable for one client without touching the shared service:
 * - `cut()`: destroy every proxied connection and refuse new ones (accepted
 *   and reset at once, as a crashed service's host would);
 * - `restore()`: forward new connections again;
 * - `dropUpstream()`: keep the connections open but silently discard what the
 *   clients send from now on (e.g. acknowledgements that never reach the
 *   broker); it lasts until the next `cut()`.
 * Listens on 127.0.0.1 on an ephemeral port.
 */
import net from 'node:net';

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's (credentials and path kept). */
  urlFor(url: string): string;
  /** Connections currently forwarded. */
  readonly openConnections: number;
  /** Connections accepted and forwarded since the start. */
  readonly forwardedConnections: number;
  /** Connections refused while cut. */
  readonly refusedConnections: number;
  readonly isCut: boolean;
  cut(): void;
  restore(): void;
  dropUpstream(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  dropUpstream: boolean;
}

/** Forwards `from` to `to` with backpressure; `drop` decides per chunk whether it is discarded. */
function forward(from: net.Socket, to: net.Socket, drop: () => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (drop() || to.destroyed) return;
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let cut = false;
  let forwarded = 0;
  let refused = 0;

  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (cut) {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    forwarded += 1;
    const upstream = net.connect(target.port, target.host);
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream, dropUpstream: false };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    forward(client, upstream, () => pair.dropUpstream);
    forward(upstream, client, () => false);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no address');
  const port = address.port;

  const destroyAll = () => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      pair.client.destroy();
      pair.upstream.destroy();
    }
  };

  return {
    host: '127.0.0.1',
    port,
    urlFor(url: string) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.href;
    },
    get openConnections() {
      return pairs.size;
    },
    get forwardedConnections() {
      return forwarded;
    },
    get refusedConnections() {
      return refused;
    },
    get isCut() {
      return cut;
    },
    cut() {
      cut = true;
      destroyAll();
    },
    restore() {
      cut = false;
    },
    dropUpstream() {
      for (const pair of pairs) pair.dropUpstream = true;
    },
    close() {
      cut = true;
      destroyAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Host and port of a service URL (amqp://, redis://). */
export function targetOf(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: parsed.port === '' ? defaultPort : Number(parsed.port) };
}
