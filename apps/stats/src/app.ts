/**
 * The stats app as a Hono app (tests drive it with `app.request()`): the
 * stats API, the SSE stream, the dashboard page and its static files, the
 * MapReduce output under /data/, /status, /ready and the Dockerflow
 * endpoints. No /metrics: main.ts serves them on METRICS_PORT.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { dockerflowApp, type DockerflowOptions } from '@telemetry/shared/http/dockerflow';
import { requestDuration, requestDurationHistogram } from '@telemetry/shared/http/request-duration';
import { BadRequest, OverBudget, Overloaded } from './errors.js';
import { LiveSummary } from './live-summary.js';
import { queryMetrics } from './query-metrics.js';
import { QueryGate, type QueryGateLimits } from './query-gate.js';
import { requestGuards, type RequestGuardOptions } from './request-guard.js';
import { statsApi } from './routes/api.js';
import type { StatsService } from './stats-service.js';

const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../public');
// The UMD build is not in chart.js's exports map: find it beside the CommonJS entry.
// `require.resolve('…')` spelled out so that the dependency check (knip) sees the package.
const require = createRequire(import.meta.url);
const CHART_JS = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js');

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(PUBLIC_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: path.join(PUBLIC_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/histograms.js': { file: path.join(PUBLIC_DIR, 'histograms.js'), type: 'text/javascript; charset=utf-8' },
  '/evolution.js': { file: path.join(PUBLIC_DIR, 'evolution.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: path.join(PUBLIC_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/vendor/chart.umd.js': { file: CHART_JS, type: 'text/javascript; charset=utf-8' },
};

export interface StatsAppDependencies {
  readonly service: StatsService;
  readonly retentionMs: number;
  readonly logger: Logger;
  /** Where the request-duration histogram goes (served on METRICS_PORT by main.ts, never here). */
  readonly registry: Registry;
  readonly isReady: () => boolean;
  /** MapReduce output directory served read-only under /data/. */
  readonly dataDir?: string;
  readonly streamIntervalMs?: number;
  /** Queries at once and waiting (past both: 503), and live streams at once (past it: 503). */
  readonly limits: { readonly queries: QueryGateLimits; readonly maxStreams: number };
  /** The Dockerflow endpoints' checks and version (none without). */
  readonly dockerflow?: DockerflowOptions;
  /** Extra routes mounted by main (e.g. the BullMQ board). */
  readonly mount?: (app: Hono) => void;
  /** Hosts state-changing and /admin requests may name (request-guard.ts); default: the loopback names only. */
  readonly hosts?: RequestGuardOptions;
}

export function createStatsApp(deps: StatsAppDependencies): Hono {
  const app = new Hono();
  const live = new LiveSummary({
    intervalMs: deps.streamIntervalMs ?? 1_000,
    maxStreams: deps.limits.maxStreams,
    compute: () => deps.service.summary({ text: '1m', ms: 60_000 }),
  });
  const metrics = queryMetrics(deps.registry, () => live.streams);
  app.onError((error, c) => {
    if (error instanceof OverBudget) metrics.refused('budget');
    if (error instanceof BadRequest) return c.json({ error: error.message }, 400);
    // hono's own answers (basic auth's 401 with WWW-Authenticate, 413): a refused request, not a bug.
    if (error instanceof HTTPException) {
      deps.logger.info({ status: error.status, path: c.req.path, method: c.req.method }, 'stats request refused');
      return error.getResponse();
    }
    if (error instanceof URIError) return c.json({ error: 'the URL has a malformed percent-encoding' }, 400);
    if (error instanceof Overloaded) {
      metrics.refused(error.limit);
      return c.json({ error: error.message }, 503, { 'Retry-After': String(error.retryAfterSeconds) });
    }
    deps.logger.error({ err: error, path: c.req.path }, 'unhandled stats error');
    return c.json({ error: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.use(requestDuration(requestDurationHistogram(deps.registry, 'telemetry_stats')));
  app.use(...requestGuards(deps.hosts ?? { listenHost: '', allowedHosts: [] }));

  app.route('/api/stats', statsApi(deps.service, { retentionMs: deps.retentionMs, gate: new QueryGate(deps.limits.queries), live }));
  app.get('/status', (c) => c.text('OK'));
  app.get('/ready', (c) => (deps.isReady() ? c.text('Ready') : c.text('Not ready', 503)));
  if (deps.dockerflow) app.route('/', dockerflowApp(deps.dockerflow));

  for (const [route, { file, type }] of Object.entries(STATIC_FILES)) {
    app.get(route, async (c) => c.body(await readFile(file), 200, { 'Content-Type': type, 'Cache-Control': 'no-cache' }));
  }
  if (deps.dataDir) {
    const root = path.resolve(deps.dataDir);
    app.get('/data/*', async (c) => {
      const relative = decodeURIComponent(c.req.path.slice('/data/'.length));
      const file = path.resolve(root, relative);
      if (!file.startsWith(root + path.sep) || !file.endsWith('.json')) return c.json({ error: 'not found' }, 404);
      const content = await readFile(file).catch(() => undefined);
      return content ? c.body(content, 200, { 'Content-Type': 'application/json' }) : c.json({ error: 'not found' }, 404);
    });
  }
  deps.mount?.(app);
  return app;
}
