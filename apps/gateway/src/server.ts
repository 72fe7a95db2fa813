/**
 * One gateway process: the Hono app on a node:http server, the RabbitMQ sink,
 * and graceful shutdown (stop accepting, finish in-flight confirms, exit 0).
 */
import type { Server } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { AmqpSubmissionSink } from './amqp-sink.js';
import { createGatewayApp } from './app.js';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';

export interface RunningGateway {
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly sink: AmqpSubmissionSink;
  stop(): Promise<void>;
}

export interface StartGatewayOptions {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
  /** Cluster-wide metrics text (set by the cluster worker). */
  readonly metricsText?: () => Promise<string>;
  /** Serve /metrics on config.metricsPort from this process (false in cluster workers: the primary does). */
  readonly serveMetricsPort?: boolean;
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createGatewayMetrics();
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
    ...(options.metricsText ? { metricsText: options.metricsText } : {}),
  });
  const server = await listen(app, config.port, config.host, config);
  let metricsServer: ServerType | undefined;
  if (config.metricsPort !== undefined && (options.serveMetricsPort ?? true)) {
    metricsServer = await listen(metricsApp(() => metrics.registry.metrics(), metrics.registry.contentType), config.metricsPort, config.metricsHost, config);
  }
  const port = addressPort(server);
  logger.info({ port, metricsPort: metricsServer ? addressPort(metricsServer) : undefined }, 'gateway listening');

  return {
    port,
    metricsPort: metricsServer ? addressPort(metricsServer) : undefined,
    sink,
    async stop() {
      logger.info('gateway stopping: no new connections, finishing in-flight requests');
      await closeServer(server, config.shutdownTimeoutMs);
      if (metricsServer) await closeServer(metricsServer, 1_000);
      await sink.close(config.shutdownTimeoutMs);
      logger.info('gateway stopped');
    },
  };
}

export function metricsApp(metricsText: () => Promise<string>, contentType: string): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => c.text(await metricsText(), 200, { 'Content-Type': contentType }));
  return app;
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

async function closeServer(server: ServerType, timeoutMs: number): Promise<void> {
  const http = server as Server;
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
