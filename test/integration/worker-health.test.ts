/**
 * The workers' HTTP port (METRICS_PORT, apps/workers/src/ops.ts) for a
 * worker run alone: /status for liveness, /ready while it consumes, /metrics
 * counting what it finished (stage durations, the standard process metrics,
 * build info), and the Dockerflow endpoints checking the real RabbitMQ, Redis
 * and the free space of STORAGE_DIR and ERRORS_DIR. Compose and Kubernetes
 * probe these. (The pool primary serving its processes' metrics is tested
 * with the real apps in test/observability.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { HeartbeatReport } from '@telemetry/shared/http/dockerflow';
import { opsApp, type OpsServer } from '@telemetry/shared/http/ops-server';
import { silentLogger } from '@telemetry/shared/logger';
import { createAppRegistry } from '@telemetry/shared/metrics/registry';
import { processMetrics } from '@telemetry/shared/metrics/sources';
import { parseWorkersConfig } from '../../apps/workers/src/config.js';
import { mountWorkerHealth, startWorkerOps } from '../../apps/workers/src/ops.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { freePort } from '../support/ports.js';

const PATH = 'saved-session/Firefox/23.0.1/release/20130814063812';
const BODY = JSON.stringify({
  ver: 2,
  info: { reason: 'saved-session', appName: 'Firefox', appVersion: '23.0.1', appUpdateChannel: 'release', appBuildID: '20130814063812' },
  simpleMeasurements: { uptime: 1 },
});

describe('worker health endpoints', () => {
  let pipeline: TestPipeline | undefined;
  let ops: OpsServer | undefined;
  afterEach(async () => {
    await ops?.close();
    await pipeline?.stop();
    pipeline = undefined;
    ops = undefined;
  });

  it('answers /status, /ready, /metrics and the Dockerflow endpoints on METRICS_PORT', async () => {
    pipeline = await startTestPipeline('worker-health', { workers: 0 });
    const worker = await pipeline.startWorker(1);
    const port = await freePort();
    const config = parseWorkersConfig({ ...pipeline.workerEnv(1), METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' });
    ops = await startWorkerOps(config, silentLogger, processMetrics(worker.metrics.registry, () => worker.consumer.isConnected()));
    expect(ops?.port).toBe(port);
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/status`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect([ready.status, await ready.text()]).toEqual([200, 'Ready']);
    expect((await fetch(`${base}/__lbheartbeat__`)).status).toBe(200);
    const heartbeat = await fetch(`${base}/__heartbeat__`);
    const report = (await heartbeat.json()) as HeartbeatReport;
    expect([heartbeat.status, report.checks]).toEqual([200, { rabbitmq: 'ok', redis: 'ok', storage_dir: 'ok', errors_dir: 'ok' }]);
    expect(await (await fetch(`${base}/__version__`)).json()).toEqual(config.version);

    expect((await pipeline.submit(`${randomUUID()}/${PATH}`, BODY)).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let metrics = '';
    while (Date.now() < deadline && !/telemetry_worker_messages_total\{outcome="stored"\} 1\b/.test(metrics)) {
      metrics = await (await fetch(`${base}/metrics`)).text();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(metrics).toMatch(/telemetry_worker_messages_total\{outcome="stored"\} 1\b/);
    for (const stage of ['decode', 'claim', 'convert', 'persist', 'route']) {
      expect(metrics).toMatch(new RegExp(`telemetry_worker_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`));
    }
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(metrics).not.toMatch(/telemetry_worker_process_/);
    expect(metrics).toMatch(/^telemetry_build_info\{app="workers",.*\} 1$/m);
  });

  it('answers /__heartbeat__ 500 naming the failing checks: too little free space, Redis unreachable', async () => {
    pipeline = await startTestPipeline('worker-heartbeat', { workers: 0 });
    const config = parseWorkersConfig({ ...pipeline.workerEnv(0), HEARTBEAT_MIN_FREE_SPACE: '1000000GiB', REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const source = processMetrics(createAppRegistry('workers', { defaultMetrics: false }));
    const app = opsApp({ source, mount: (a) => mountWorkerHealth(a, config, source) });
    const heartbeat = await app.request('/__heartbeat__');
    const report = (await heartbeat.json()) as HeartbeatReport;
    expect(heartbeat.status).toBe(500);
    expect(report.checks).toEqual({ rabbitmq: 'ok', redis: 'error', storage_dir: 'error', errors_dir: 'error' });
    expect(report.details.storage_dir?.message).toMatch(/free, at least 1000000\.0 GiB wanted/);
    expect((await app.request('/__lbheartbeat__')).status).toBe(200);
  });
});
