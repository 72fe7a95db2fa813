/**
 * POST/PUT /submit/telemetry/{docId}[/{reason}/{appName}/{appVersion}/{appUpdateChannel}/{appBuildID}]
 * and the generic form POST/PUT /submit/{namespace}/{docType}/{docVersion}/{docId}
 * (which form a path is: submit-path.ts). The body is forwarded as received
 * (never parsed here); 200 only once RabbitMQ confirmed it. Every 4xx is
 * final for clients, so 4xx only for requests that can never succeed (SPEC 2).
 */
import type { Context } from 'hono';
import { FORWARDED_HEADERS, type ForwardedHeader, type Submission } from '@telemetry/shared/amqp/wire-codec';
import { TransientError } from '@telemetry/shared/errors';
import type { GatewayConfig } from '../config.js';
import { incomingRequest, targetPath, targetQuery, type IncomingRequest } from '../incoming.js';
import { clientAddress } from '../client-ip.js';
import { HttpError } from '../http-error.js';
import type { GatewayMetrics } from '../metrics.js';
import type { SubmissionSink } from '../submission-sink.js';
import { parseSubmitPath } from './submit-path.js';

export { SUBMIT_ROOT } from './submit-path.js';

export interface SubmitDependencies {
  readonly config: GatewayConfig;
  readonly sink: SubmissionSink;
  readonly metrics: GatewayMetrics;
  readonly nowMs: () => number;
  /** The peer address of the request (undefined in in-process tests). */
  readonly remoteAddress: (c: Context) => string | undefined;
}

/** Thrown for an oversize body or path when OVERSIZE_STATUS=202 (discarded, answered 202). */
class DiscardedOversize extends Error {}

export function createSubmitHandler(deps: SubmitDependencies) {
  const { config } = deps;
  const oversize = (status: 413 | 414, message: string): Error =>
    config.oversizeStatus === 202 ? new DiscardedOversize(message) : new HttpError(status, message);

  return async (c: Context): Promise<Response> => {
    try {
      return await handle(c);
    } catch (error) {
      if (error instanceof DiscardedOversize) return c.text('Discarded: too large', 202);
      throw error;
    }
  };

  async function handle(c: Context): Promise<Response> {
    const request = incomingRequest(c);
    // Routed on the normalised URL; the path as sent decides (SPEC 2): `/x/../submit/…` is not a submission path.
    const target = parseSubmitPath(targetPath(request.target), config.acceptedNamespaces);

    const body = await readBody(request, config.maxBodyBytes, oversize);
    const clientHeaders: Partial<Record<ForwardedHeader, string>> = {};
    for (const name of FORWARDED_HEADERS) {
      // X-Forwarded-For holds client addresses: kept only when the operator keeps them (STORE_CLIENT_IP).
      if (name === 'x-forwarded-for' && !config.storeClientIp) continue;
      const value = request.header(name);
      if (value !== undefined) clientHeaders[name] = value;
    }
    const submission: Submission = {
      docId: target.docId,
      path: target.path,
      urlDimensions: target.form === 'telemetry' ? target.urlDimensions : undefined,
      generic: target.form === 'generic' ? target.generic : undefined,
      receivedAtMs: deps.nowMs(),
      method: request.method,
      contentEncoding: request.header('content-encoding'),
      clientHeaders,
      clientIp: config.storeClientIp ? clientAddress(c, config.trustedProxyHops, deps.remoteAddress) : undefined,
      query: targetQuery(request.target),
      body,
      bodyBytes: body.length,
    };
    try {
      await deps.sink.publish(submission);
    } catch (error) {
      if (error instanceof TransientError) {
        throw new HttpError(503, `Service unavailable: ${error.message}`, { 'Retry-After': String(config.retryAfterSeconds) });
      }
      throw error;
    }
    deps.metrics.bodyBytes.inc(body.length);
    return c.text('OK', 200);
  }
}

/** Reads the body with a hard cap; the length checks of SPEC 2 (411, 400, 413). */
async function readBody(
  request: IncomingRequest,
  maxBytes: number,
  oversize: (status: 413, message: string) => Error,
): Promise<Buffer> {
  const lengthHeader = request.header('content-length');
  const chunked = request.header('transfer-encoding') !== undefined;
  if (lengthHeader === undefined && !chunked) throw new HttpError(411, 'Content-Length required');
  if (lengthHeader !== undefined) {
    if (!/^\d+$/.test(lengthHeader)) throw new HttpError(400, 'Invalid Content-Length');
    const declared = Number(lengthHeader);
    if (declared === 0) throw new HttpError(400, 'Empty body');
    if (declared > maxBytes) throw oversize(413, `Body over ${maxBytes} bytes`);
  }
  const body = await request.readBody(maxBytes);
  if (body === undefined) throw oversize(413, `Body over ${maxBytes} bytes`);
  if (body.length === 0) throw new HttpError(400, 'Empty body');
  return body;
}
