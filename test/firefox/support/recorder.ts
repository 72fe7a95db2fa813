/**
 * The gateway has no access log, so the real-Firefox suite puts this in front
 * of it: a plain HTTP reverse proxy on the veth address that forwards every
 * request unchanged (method, path and query as sent, headers, body) to the
 * gateway and its answer back, and keeps both. "Every document Firefox
 * submitted, and what the gateway answered" is then this list, not a guess.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  readonly method: string;
  /** As sent: path and query. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The gateway's status; 502 when it could not be reached. */
  readonly status: number;
  readonly at: Date;
}

export interface Recorder {
  readonly port: number;
  readonly exchanges: readonly Exchange[];
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business on each side.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

export async function startRecorder(options: { host: string; upstreamHost: string; upstreamPort: number }): Promise<Recorder> {
  const exchanges: Exchange[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', () => response.destroy());
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const record = (status: number): void => {
        exchanges.push({ method: request.method ?? '', url: request.url ?? '', headers, body, status, at: new Date() });
      };
      const upstream = http.request(
        { host: options.upstreamHost, port: options.upstreamPort, method: request.method, path: request.url, headers, agent },
        (answer) => {
          const answerChunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => answerChunks.push(chunk));
          answer.on('end', () => {
            const status = answer.statusCode ?? 0;
            record(status);
            const answerHeaders = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name) && name !== 'transfer-encoding'));
            const answerBody = Buffer.concat(answerChunks);
            response.writeHead(status, { ...answerHeaders, 'content-length': String(answerBody.length) }).end(answerBody);
          });
          answer.on('error', () => {
            record(502);
            response.destroy();
          });
        },
      );
      upstream.on('error', (error) => {
        record(502);
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end(`recorder: gateway unreachable: ${error.message}\n`);
      });
      upstream.end(body);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    exchanges,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
