/**
 * The gateway as a Hono app, built by a factory so tests drive it in process
 * with `app.request()`; `server.ts` binds it to a port.
 */
import { Hono, type Context } from 'hono';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { systemClock, type Clock } from '@telemetry/shared/clock';
import { dockerflowApp } from '@telemetry/shared/http/dockerflow';
import { rabbitmqCheck } from '@telemetry/shared/http/health-checks';
import { requestDuration } from '@telemetry/shared/http/request-duration';
import { clientAddress } from './client-ip.js';
import { HttpError } from './http-error.js';
import { RateLimiter } from './rate-limit.js';
import type { GatewayMetrics } from './metrics.js';
import { incomingRequest, targetPath } from './incoming.js';
import { createSubmitHandler, SUBMIT_ROOT } from './routes/submit.js';
import type { SubmissionSink } from './submission-sink.js';

export interface GatewayDependencies {
  readonly config: GatewayConfig;
  readonly sink: SubmissionSink;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  /** Time source of the rate limiter. */
  readonly clock?: Clock;
  readonly remoteAddress?: (c: Context) => string | undefined;
}

export function createGatewayApp(deps: GatewayDependencies): Hono {
  const { config, metrics, logger } = deps;
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof HttpError) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
      return c.text(error.message, error.status as 400);
    }
    logger.error({ err: error, path: c.req.path }, 'unhandled gateway error');
    return c.text('Internal server error', 500);
  });
  app.notFound((c) => c.text('Not found', 404));
  app.use(requestDuration(metrics.httpSeconds));

  // Count every submission answer by status (after onError has mapped it).
  app.use('/submit/*', async (c, next) => {
    await next();
    metrics.responses.inc({ status: String(c.res.status) });
  });

  // Limits that apply before routing: an over-long path (414) and an
  // over-long header value (431) are refused whatever the route.
  app.use(async (c, next) => {
    const request = incomingRequest(c);
    const path = targetPath(request.target);
    if (Buffer.byteLength(path) > config.maxPathBytes) {
      if (config.oversizeStatus === 202 && path.startsWith(SUBMIT_ROOT)) return c.text('Discarded: too large', 202);
      throw new HttpError(414, `Path over ${config.maxPathBytes} bytes`);
    }
    for (const value of request.headerValues()) {
      // Characters are at most 3 bytes each in UTF-8: measure only values that could be over.
      if (value.length * 3 > config.maxHeaderBytes && Buffer.byteLength(value) > config.maxHeaderBytes) {
        throw new HttpError(431, `A header value is over ${config.maxHeaderBytes} bytes`);
      }
    }
    await next();
    return undefined;
  });

  app.get('/status', (c) => c.text('OK'));
  app.get('/ready', (c) => (deps.sink.isReady() ? c.text('Ready') : c.text('Not connected to RabbitMQ', 503)));
  // Dockerflow; /metrics is on METRICS_PORT only (main.ts), never here.
  app.route('/', dockerflowApp({ checks: { rabbitmq: rabbitmqCheck(config.amqpUrl, config.heartbeatTimeoutMs) }, version: config.version, timeoutMs: config.heartbeatTimeoutMs }));
  for (const path of ['/status', '/ready']) {
    app.all(path, (c) => c.text('Method not allowed', 405, { Allow: 'GET, HEAD' }));
  }

  if (config.rateLimit) {
    const limiter = new RateLimiter(config.rateLimit.perSecond, config.rateLimit.burst, deps.clock ?? systemClock, config.rateLimit.maxMemoryBytes);
    const remoteAddress = deps.remoteAddress ?? (() => undefined);
    app.use('/submit/*', async (c: Context, next) => {
      const decision = limiter.take(clientAddress(c, config.trustedProxyHops, remoteAddress) ?? 'unknown');
      if (!decision.allowed) {
        throw new HttpError(429, 'Too many requests from this address', { 'Retry-After': String(decision.retryAfterSeconds) });
      }
      await next();
    });
  }

  const submit = createSubmitHandler({
    config,
    sink: deps.sink,
    metrics,
    nowMs: deps.nowMs ?? Date.now,
    remoteAddress: deps.remoteAddress ?? (() => undefined),
  });
  // Both forms, telemetry and generic (/submit/{namespace}/…): which one, and whether it is well formed, the path as sent decides.
  app.on(['POST', 'PUT'], `${SUBMIT_ROOT}*`, submit);
  app.all(`${SUBMIT_ROOT}*`, (c) => c.text('Method not allowed', 405, { Allow: 'POST, PUT' }));
  return app;
}
