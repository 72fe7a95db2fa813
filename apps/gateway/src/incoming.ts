/**
 * The request as sent, read from node:http's IncomingMessage when the app runs
 * on @hono/node-server (`c.env.incoming`), else from the web Request (tests
 * with `app.request()`). The hot path never touches `c.req.raw`: building the
 * web Request, its Headers, AbortSignal and ReadableStream was a third of the
 * gateway's CPU (profiled: bench/RESULTS.md), and its URL is normalised, while
 * SPEC 2 wants the path exactly as sent.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

export interface IncomingRequest {
  /** The request target as sent: path and query, never normalised. */
  readonly target: string;
  /** The request method as sent (`POST`, `PUT`). */
  readonly method: string;
  header(name: string): string | undefined;
  /** Every header value (for the size limit). */
  headerValues(): Iterable<string>;
  /** The body, with a hard cap: `undefined` past `maxBytes` (reading stops there). */
  readBody(maxBytes: number): Promise<Buffer | undefined>;
}

const cache = new WeakMap<Context, IncomingRequest>();

export function incomingRequest(c: Context): IncomingRequest {
  let request = cache.get(c);
  if (!request) {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    request = incoming ? fromNode(incoming) : fromWeb(c.req.raw);
    cache.set(c, request);
  }
  return request;
}

function fromNode(incoming: IncomingMessage): IncomingRequest {
  return {
    target: incoming.url ?? '/',
    method: incoming.method ?? '',
    header(name) {
      const value = incoming.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    *headerValues() {
      const raw = incoming.rawHeaders;
      for (let i = 1; i < raw.length; i += 2) yield raw[i] ?? '';
    },
    readBody(maxBytes) {
      return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let total = 0;
        const onData = (chunk: Buffer) => {
          total += chunk.length;
          if (total > maxBytes) {
            cleanup();
            incoming.resume(); // drain the rest without keeping it
            resolve(undefined);
            return;
          }
          chunks.push(chunk);
        };
        const onEnd = () => {
          cleanup();
          const [only] = chunks;
          resolve(chunks.length === 1 && only ? only : Buffer.concat(chunks, total));
        };
        const onError = (error: Error) => {
          cleanup();
          reject(error);
        };
        const cleanup = () => {
          incoming.off('data', onData);
          incoming.off('end', onEnd);
          incoming.off('error', onError);
        };
        incoming.on('data', onData);
        incoming.on('end', onEnd);
        incoming.on('error', onError);
      });
    },
  };
}

function fromWeb(request: Request): IncomingRequest {
  const url = request.url;
  const afterScheme = url.indexOf('://');
  const pathStart = afterScheme < 0 ? 0 : url.indexOf('/', afterScheme + 3);
  return {
    target: pathStart < 0 ? '/' : url.slice(pathStart),
    method: request.method,
    header: (name) => request.headers.get(name) ?? undefined,
    *headerValues() {
      for (const [, value] of request.headers) yield value;
    },
    async readBody(maxBytes) {
      if (!request.body) return Buffer.alloc(0);
      const reader = (request.body as ReadableStream<Uint8Array>).getReader();
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          await reader.cancel().catch(() => undefined);
          return undefined;
        }
        chunks.push(value);
      }
      return Buffer.concat(chunks, total);
    },
  };
}

/** The path of a request target (without query string or fragment), as sent. */
export function targetPath(target: string): string {
  let end = target.length;
  const query = target.indexOf('?');
  if (query >= 0) end = query;
  const hash = target.indexOf('#');
  if (hash >= 0 && hash < end) end = hash;
  return target.slice(0, end);
}

/** The query string of a request target (without `?` and any fragment); undefined when there is none. */
export function targetQuery(target: string): string | undefined {
  const query = target.indexOf('?');
  if (query < 0) return undefined;
  const hash = target.indexOf('#', query);
  return target.slice(query + 1, hash < 0 ? target.length : hash);
}
