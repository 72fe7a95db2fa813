/**
 * One gateway process: the Hono app on a node:http server, the RabbitMQ sink,
 * and graceful shutdown (stop accepting, finish in-flight confirms, exit 0).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { AmqpSubmissionSink } from './amqp-sink.js';
import { createGatewayApp } from './app.js';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';

export interface RunningGateway {
  readonly port: number;
  readonly sink: AmqpSubmissionSink;
  stop(): Promise<void>;
}

export interface StartGatewayOptions {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  /** This process's metrics (main.ts serves them on METRICS_PORT, or hands them to the cluster primary). */
  readonly metrics?: GatewayMetrics;
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createGatewayMetrics({ version: config.version });
  const sink = new AmqpSubmissionSink({
    url: config.amqpUrl,
    topology: config.topology,
    maxInFlight: config.maxInFlightPublishes,
    maxInFlightBytes: config.maxInFlightBytes,
    batch: config.publishBatch,
    confirmTimeoutMs: config.confirmTimeoutMs,
    logger,
    metrics,
  });
  sink.start();
  const app = createGatewayApp({
    config,
    sink,
    metrics,
    logger,
    remoteAddress: (c) => getConnInfo(c).remote.address,
  });
  const server = await listen(app, config.port, config.host, config);
  const port = addressPort(server);
  logger.info({ port }, 'gateway listening');

  return {
    port,
    sink,
    async stop() {
      logger.info('gateway stopping: no new connections, finishing in-flight requests');
      // One budget for the whole stop (SHUTDOWN_TIMEOUT): connections first, then the confirms they wait for.
      const deadline = Date.now() + config.shutdownTimeoutMs - STOP_RESERVE_MS;
      await closeServer(server, Math.max(0, (deadline - Date.now()) * 0.6));
      await sink.close(Math.max(0, deadline - Date.now()));
      logger.info('gateway stopped');
    },
  };
}

function listen(app: Hono, port: number, hostname: string, config: GatewayConfig): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch: app.fetch,
        port,
        hostname,
        serverOptions: {
          // Above the 10 KiB path limit so over-long paths get our 414, not Node's 431.
          maxHeaderSize: Math.max(64 * 1024, config.maxPathBytes * 2),
          requestTimeout: config.requestTimeoutMs,
          headersTimeout: config.headersTimeoutMs,
          // Node checks those timeouts only this often (default 30 s): slow clients would hold sockets that long.
          connectionsCheckingInterval: Math.max(100, Math.min(1_000, config.headersTimeoutMs / 2)),
          keepAliveTimeout: 5_000,
        },
      },
      () => resolve(server),
    );
    server.once('error', reject);
  });
}

function addressPort(server: ServerType): number {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** Kept from SHUTDOWN_TIMEOUT for closing the broker connection and exiting. */
const STOP_RESERVE_MS = 500;

async function closeServer(server: ServerType, timeoutMs: number): Promise<void> {
  const http = server as Server;
  // Keep-alive clients would hold their connections (and so close()) open: once
  // stopping, each response ends its connection, and the client reconnects elsewhere.
  http.on('request', (_request: IncomingMessage, response: ServerResponse) => response.setHeader('Connection', 'close'));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      http.closeAllConnections();
      resolve();
    }, timeoutMs);
    http.close(() => {
      clearTimeout(timer);
      resolve();
    });
    http.closeIdleConnections();
  });
}
