/**
 * An app's metrics port (METRICS_PORT on METRICS_HOST, loopback by default):
 * /metrics from a MetricsSource, plus whatever routes the app mounts (the
 * workers put their health endpoints there: it is their only HTTP port).
 * Public ports never serve /metrics.
 */
import type { Server } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { MetricsSource } from '../metrics/sources.js';

export interface OpsServerOptions {
  readonly port: number;
  readonly host: string;
  readonly source: MetricsSource;
  /** Extra routes of this port. */
  readonly mount?: (app: Hono) => void;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export function opsApp(options: Pick<OpsServerOptions, 'source' | 'mount'>): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => c.text(await options.source.metrics(), 200, { 'Content-Type': options.source.contentType }));
  options.mount?.(app);
  return app;
}

/** Listens; rejects when the port cannot be bound (e.g. EADDRINUSE). */
function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  return new Promise((resolve, reject) => {
    const server: ServerType = serve({ fetch: opsApp(options).fetch, port: options.port, hostname: options.host }, (info) =>
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            (server as Server).close(() => done());
            (server as Server).closeAllConnections();
          }),
      }),
    );
    server.once('error', reject);
  });
}

/**
 * startOpsServer for an app's main: undefined when `port` is undefined
 * (METRICS_PORT=0); a port that cannot be bound is logged and ends the
 * process with exit code 1 (the supervisor retries with backoff).
 */
export async function startOpsServerOrExit(
  options: Omit<OpsServerOptions, 'port'> & { readonly port: number | undefined; readonly logger: Logger },
): Promise<OpsServer | undefined> {
  if (options.port === undefined) return undefined;
  try {
    const server = await startOpsServer({ ...options, port: options.port });
    options.logger.info({ metricsPort: server.port, metricsHost: options.host }, 'metrics port listening');
    return server;
  } catch (error) {
    options.logger.fatal({ err: error, metricsPort: options.port, metricsHost: options.host }, 'cannot listen on METRICS_PORT (set METRICS_PORT to a free port, or 0 for none)');
    process.exit(1);
  }
}
