/**
 * Mozilla's Dockerflow endpoints as a Hono sub-app (mount it with
 * `app.route('/', dockerflowApp(…))`):
 *
 *   GET /__lbheartbeat__  200, no dependency checked (load balancers)
 *   GET /__heartbeat__    every named check run at once, each bounded by
 *                         `timeoutMs`: 200 when all pass, 500 when one fails,
 *                         JSON {status, checks: {name: "ok"|"error"}, details: {name: {status, message, durationMs}}}
 *   GET /__version__      the version.json (VersionInfo)
 *
 * Concurrent heartbeats share one run of the checks.
 */
import { Hono } from 'hono';
import type { VersionInfo } from '../config/ops.js';

/** Resolves (optionally with a detail) when the dependency is fine; rejects with the reason when not. */
export type HealthCheck = () => Promise<string | undefined>;

export interface DockerflowOptions {
  readonly checks: Readonly<Record<string, HealthCheck>>;
  readonly version: VersionInfo;
  readonly timeoutMs: number;
}

export type CheckStatus = 'ok' | 'error';

export interface CheckDetail {
  readonly status: CheckStatus;
  readonly message: string;
  readonly durationMs: number;
}

export interface HeartbeatReport {
  readonly status: CheckStatus;
  readonly checks: Record<string, CheckStatus>;
  readonly details: Record<string, CheckDetail>;
}

const DOCKERFLOW_PATHS = ['/__lbheartbeat__', '/__heartbeat__', '/__version__'] as const;

export function dockerflowApp(options: DockerflowOptions): Hono {
  const app = new Hono();
  let running: Promise<HeartbeatReport> | undefined;
  app.get('/__lbheartbeat__', (c) => c.text('OK'));
  app.get('/__heartbeat__', async (c) => {
    running ??= runChecks(options.checks, options.timeoutMs).finally(() => {
      running = undefined;
    });
    const report = await running;
    return c.json(report, report.status === 'ok' ? 200 : 500);
  });
  app.get('/__version__', (c) => c.json(options.version));
  for (const path of DOCKERFLOW_PATHS) app.all(path, (c) => c.text('Method not allowed', 405, { Allow: 'GET, HEAD' }));
  return app;
}

/** Runs every check at once, each bounded by `timeoutMs`. */
export async function runChecks(checks: Readonly<Record<string, HealthCheck>>, timeoutMs: number): Promise<HeartbeatReport> {
  const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const));
  const details = Object.fromEntries(entries);
  const checkStatuses = Object.fromEntries(entries.map(([name, detail]) => [name, detail.status]));
  return { status: entries.every(([, detail]) => detail.status === 'ok') ? 'ok' : 'error', checks: checkStatuses, details };
}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<CheckDetail> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const message = await Promise.race([check(), timeout]);
    return { status: 'ok', message: message ?? 'ok', durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'error', message: error instanceof Error ? error.message : String(error), durationMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}
