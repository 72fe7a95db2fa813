/**
 * A worker's own HTTP port (METRICS_PORT + slot): /status for liveness,
 * /ready while it consumes, /metrics counting what it finished. Compose and
 * Kubernetes probe these.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
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
  afterEach(async () => {
    await pipeline?.stop();
    pipeline = undefined;
  });

  it('answers /status, /ready and /metrics on METRICS_PORT + slot', async () => {
    const port = await freePort();
    pipeline = await startTestPipeline('worker-health', { workers: 0, workerEnv: { METRICS_PORT: String(port - 1), METRICS_HOST: '127.0.0.1' } });
    await pipeline.startWorker(1); // slot 1: listens on METRICS_PORT + 1
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/status`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect([ready.status, await ready.text()]).toEqual([200, 'Ready']);

    expect((await pipeline.submit(`${randomUUID()}/${PATH}`, BODY)).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let metrics = '';
    while (Date.now() < deadline && !/telemetry_worker_messages_total\{outcome="stored"\} 1\b/.test(metrics)) {
      metrics = await (await fetch(`${base}/metrics`)).text();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(metrics).toMatch(/telemetry_worker_messages_total\{outcome="stored"\} 1\b/);
  });
});
