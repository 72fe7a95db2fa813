/**
 * deploy/observability/ (the Grafana dashboard and the Prometheus alerting
 * rules) against the real apps: the rules pass promtool (when Debian's
 * prometheus package is installed: scripts/ensure-deploy-tools.sh), and
 * every metric a rule or a panel names is in the live /metrics of a stack of
 * the real apps, clustered (gateway ×2, workers ×2, stats) against the real
 * RabbitMQ and Redis; RabbitMQ's own metrics are the only exception, listed
 * in EXTERNAL_METRICS. The same stack shows /metrics on each app's metrics
 * port only (404 on the public ports), answering in under 100 ms, and the
 * Dockerflow endpoints of the running apps.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApp, type AppProcess } from './support/app-process.js';
import { REPO_ROOT } from './support/fixtures.js';
import { startHgServer, type HgServer } from './support/hg-server.js';
import { freePort } from './support/ports.js';
import { exposedNames, metricNames } from './support/promql.js';
import { createTestEnvironment, REDIS_URL, topologyEnv, waitFor, type TestEnvironment } from './support/services.js';

const DIR = path.join(REPO_ROOT, 'deploy', 'observability');
const RULES_FILE = path.join(DIR, 'alerts.yaml');
const DASHBOARD_FILE = path.join(DIR, 'grafana-dashboard.json');

/** Metrics the dashboard and rules read from RabbitMQ's rabbitmq_prometheus plugin (/metrics/per-object), not from our apps. */
const EXTERNAL_METRICS = new Set(['rabbitmq_queue_messages_ready', 'rabbitmq_queue_messages_unacked', 'rabbitmq_queue_messages', 'rabbitmq_queue_consumers']);

const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Panel {
  type: string;
  title: string;
  id: number;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const rules = ((yaml.load(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: Rule[] }[] }).groups ?? []).flatMap((group) => group.rules);
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { title: string; uid: string; panels: Panel[] };
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const promtool = spawnSync('promtool', ['--version']).status === 0;

describe('deploy/observability files', () => {
  it('has alerting rules with a severity and a summary, and a dashboard whose panels each query something', () => {
    expect(rules.length).toBeGreaterThanOrEqual(14);
    for (const rule of rules) {
      expect(rule.alert, rule.expr).toMatch(/^Telemetry[A-Za-z0-9]+$/);
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
    }
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    expect(dashboard.uid).toBe('telemetry-pipeline');
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels.filter((p) => p.type !== 'row')) expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
  });

  it('reads the metric names of an expression (the check below relies on it)', () => {
    const expr = 'histogram_quantile(0.99, sum by (le, stage) (rate(a_bucket{queue="b_c"}[5m] offset 1d))) > on (app) group_left () label_replace(vector(1e3), "app", "d", "", "") and c_total * 2';
    expect([...metricNames(expr)].sort()).toEqual(['a_bucket', 'c_total']);
    expect([...metricNames('sum(rate(x_total[$__rate_interval])) / sum(y)')].sort()).toEqual(['x_total', 'y']);
  });

  it.skipIf(!promtool)('pass `promtool check rules` and the rule unit tests (`promtool test rules`)', () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    expect(execFileSync('promtool', ['test', 'rules', path.join(DIR, 'alerts.test.yaml')], { encoding: 'utf8', cwd: DIR })).toMatch(/SUCCESS/);
  });
});

const PING_PATH = 'saved-session/Firefox/23.0.1/release/20130814063812';
const PING = JSON.stringify({
  ver: 2,
  info: { reason: 'saved-session', appName: 'Firefox', appVersion: '23.0.1', appUpdateChannel: 'release', appBuildID: '20130814063812' },
  simpleMeasurements: { uptime: 1 },
});
const GOOD_PINGS = 6;
/** Filed as bad_json by the workers. */
const BAD_JSON = '{"ver": 1,';

describe('a live stack of the real apps, clustered', () => {
  let env: TestEnvironment;
  let hg: HgServer;
  const apps: AppProcess[] = [];
  const ports = { gateway: 0, stats: 0, gatewayMetrics: 0, workersMetrics: 0, statsMetrics: 0 };
  const scrape = async (port: number): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  beforeAll(async () => {
    env = await createTestEnvironment('observability', { retryDelayMs: 500 });
    hg = await startHgServer();
    for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
    const common = {
      ...topologyEnv(env.topology),
      REDIS_URL,
      HOST: '127.0.0.1',
      STATS_HOST: '127.0.0.1',
      METRICS_HOST: '127.0.0.1',
      STORAGE_DIR: path.join(env.dir, 'storage'),
      ERRORS_DIR: path.join(env.dir, 'errors'),
      REVISION_CACHE_DIR: path.join(env.dir, 'revisions'),
      HG_SERVER: hg.url,
      DEDUP_PREFIX: env.redisPrefix,
      STATS_PREFIX: `${env.prefix}stats`,
      STATS_BATCH_MAX_WAIT: '20ms',
      STATS_DATA_DIR: path.join(env.dir, 'dashboard-data'),
      WORKER_HOST_ID: `obs_${randomUUID().slice(0, 8)}`,
      BATCH_MAX_WAIT: '20ms',
    };
    apps.push(
      spawnApp('gateway', { ...common, PORT: String(ports.gateway), GATEWAY_PROCESSES: '2', METRICS_PORT: String(ports.gatewayMetrics) }),
      spawnApp('workers', { ...common, WORKERS: '2', METRICS_PORT: String(ports.workersMetrics) }),
      spawnApp('stats', { ...common, STATS_PORT: String(ports.stats), METRICS_PORT: String(ports.statsMetrics) }),
    );
    const ok = (url: string) => fetch(url).then((r) => r.ok, () => false);
    await waitFor(
      'the three apps to be ready',
      async () => {
        for (const app of apps) if (app.child.exitCode !== null) throw new Error(`an app exited early:\n${app.tail()}`);
        return (await ok(`http://127.0.0.1:${ports.gateway}/ready`)) && (await ok(`http://127.0.0.1:${ports.workersMetrics}/ready`)) && (await ok(`http://127.0.0.1:${ports.stats}/ready`));
      },
      90_000,
    );
    const submit = (body: string) => fetch(`http://127.0.0.1:${ports.gateway}/submit/telemetry/${randomUUID()}/${PING_PATH}`, { method: 'POST', body });
    const answers = await Promise.all([...Array.from({ length: GOOD_PINGS }, () => submit(PING)), submit(BAD_JSON)]);
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: GOOD_PINGS + 1 }, () => 200));
    expect((await fetch(`http://127.0.0.1:${ports.stats}/api/stats/summary?window=15m`)).status).toBe(200);
    await waitFor(
      'the workers to store and file the pings, and stats to count them',
      async () => {
        const [workers, stats] = await Promise.all([scrape(ports.workersMetrics), scrape(ports.statsMetrics)]);
        return (
          new RegExp(`telemetry_worker_messages_total\\{outcome="stored"\\} ${GOOD_PINGS}\\b`).test(workers) &&
          /telemetry_worker_errors_total\{type="bad_json"\} 1\b/.test(workers) &&
          new RegExp(`telemetry_stats_counted_total ${GOOD_PINGS + 1}\\b`).test(stats)
        );
      },
      30_000,
    );
  }, 150_000);

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await hg?.close();
    await env?.cleanup();
  }, 60_000);

  it('serves /metrics on each metrics port, summed over the processes, and none on the public ports', async () => {
    const gateway = await scrape(ports.gatewayMetrics);
    // Both gateway processes answered some of the 7 submissions; the primary sums them.
    expect(gateway).toMatch(new RegExp(`^telemetry_gateway_submissions_total\\{status="200"\\} ${GOOD_PINGS + 1}$`, 'm'));
    for (const [app, port] of [['gateway', ports.gatewayMetrics], ['workers', ports.workersMetrics], ['stats', ports.statsMetrics]] as const) {
      const text = await scrape(port);
      expect(text, app).toMatch(new RegExp(`^telemetry_build_info\\{app="${app}",version="[^"]+",commit="[^"]+",node_version="${process.version}"\\} 1$`, 'm'));
      for (const standard of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
        expect(text, `${app} ${standard}`).toMatch(new RegExp(`^${standard} \\d`, 'm'));
      }
    }
    for (const port of [ports.gateway, ports.stats]) expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
  });

  it('answers /metrics in under 100 ms on every metrics port (median of 10 scrapes, after one)', async () => {
    const measured: Record<string, { median: number; max: number }> = {};
    for (const [app, port] of [['gateway', ports.gatewayMetrics], ['workers', ports.workersMetrics], ['stats', ports.statsMetrics]] as const) {
      await scrape(port);
      const times: number[] = [];
      for (let i = 0; i < 10; i += 1) {
        const started = performance.now();
        await scrape(port);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      measured[app] = { median: Math.round(times[4] ?? Infinity), max: Math.round(times[9] ?? Infinity) };
    }
    console.log(`/metrics latency (ms): ${JSON.stringify(measured)}`);
    for (const [app, { median, max }] of Object.entries(measured)) {
      expect(median, app).toBeLessThan(100);
      // Never a stalled cluster request (prom-client's own answered after 5 s).
      expect(max, app).toBeLessThan(1_000);
    }
  });

  it('names in the rules and the dashboard only metrics the apps export (or RabbitMQ, listed as external)', async () => {
    const exported = new Set<string>();
    for (const port of [ports.gatewayMetrics, ports.workersMetrics, ports.statsMetrics]) for (const name of exposedNames(await scrape(port))) exported.add(name);
    const named = new Map<string, string>();
    for (const rule of rules) for (const name of metricNames(rule.expr)) named.set(name, `rule ${rule.alert}`);
    for (const panel of panels) for (const target of panel.targets ?? []) for (const name of metricNames(target.expr)) named.set(name, `panel "${panel.title}"`);
    expect(named.size).toBeGreaterThan(20);
    const missing = [...named].filter(([name]) => !exported.has(name) && !EXTERNAL_METRICS.has(name)).map(([name, where]) => `${name} (${where})`);
    expect(missing).toEqual([]);
    // The external list holds only what is used.
    expect([...EXTERNAL_METRICS].filter((name) => !named.has(name))).toEqual([]);
  });

  it('serves the Dockerflow endpoints on the public ports (gateway, stats) and on the workers\' metrics port', async () => {
    for (const [port, checks] of [
      [ports.gateway, ['rabbitmq']],
      [ports.stats, ['rabbitmq', 'redis']],
      [ports.workersMetrics, ['rabbitmq', 'redis', 'storage_dir', 'errors_dir']],
    ] as const) {
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/__lbheartbeat__`)).status).toBe(200);
      const heartbeat = await fetch(`${base}/__heartbeat__`);
      const report = (await heartbeat.json()) as { checks: Record<string, string> };
      expect([heartbeat.status, Object.keys(report.checks)]).toEqual([200, [...checks]]);
      const version = (await (await fetch(`${base}/__version__`)).json()) as { version: string; commit: string };
      expect(typeof version.version).toBe('string');
      expect(typeof version.commit).toBe('string');
    }
  });
});
