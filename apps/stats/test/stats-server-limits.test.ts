/**
 * The listening stats server (startStats, real RabbitMQ and Redis) over raw
 * TCP: the gateway's timeouts (HEADERS_TIMEOUT, REQUEST_TIMEOUT, a 5 s
 * keep-alive) cut off slow and idle clients, and a malformed URL, a foreign
 * Host and a text/plain POST get their 4xx over real HTTP as in process.
 */
import { silentLogger } from '@telemetry/shared/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, REDIS_URL, topologyEnv, uniqueName, type TestEnvironment } from '../../../test/support/services.js';
import { parseStatsConfig } from '../src/config.js';
import { startStats, type RunningStats } from '../src/server.js';
import { rawClient } from '../../../test/support/raw-client.js';


const TOKEN = 'a-very-long-admin-token';
const AUTH = `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`;

describe('the stats server cuts off slow clients and answers bad requests with 4xx', () => {
  let env: TestEnvironment;
  let stats: RunningStats;
  beforeAll(async () => {
    env = await createTestEnvironment('stats-limits');
    const config = parseStatsConfig({
      ...topologyEnv(env.topology),
      REDIS_URL,
      STATS_PORT: '0',
      STATS_HOST: '127.0.0.1',
      STATS_PREFIX: `${env.prefix}stats`,
      BULLMQ_PREFIX: uniqueName('bull'),
      HEADERS_TIMEOUT: '1s',
      REQUEST_TIMEOUT: '2s',
      // With the token the board reads a POST's body (without it, it refuses the POST before reading).
      ADMIN_TOKEN: TOKEN,
    });
    stats = await startStats(config, silentLogger);
    await stats.consumer.waitUntilConnected(10_000);
  });
  afterAll(async () => {
    await stats.stop();
    await env.cleanup();
  });

  const healthy = async () => (await fetch(`http://127.0.0.1:${stats.port}/status`)).status === 200;

  it('closes a connection whose headers are not complete within HEADERS_TIMEOUT', async () => {
    // Half a header, then silence: Node's default would keep it for a minute or more.
    const pending = rawClient(stats.port, ['GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '], 100);
    expect(await healthy()).toBe(true); // others are served meanwhile
    const { response, closedAfterMs } = await pending;
    expect(closedAfterMs).toBeLessThan(4_000);
    expect(response === '' || response.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('closes a connection whose body does not arrive within REQUEST_TIMEOUT', async () => {
    const { response, closedAfterMs } = await rawClient(
      stats.port,
      [`POST /admin/queues/api/queues/x/add HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`, '{"na'],
      200,
    );
    // Cut at REQUEST_TIMEOUT (2 s, checked every 500 ms), not answered before.
    expect(closedAfterMs).toBeGreaterThanOrEqual(1_900);
    expect(closedAfterMs).toBeLessThan(5_000);
    expect(response.startsWith('HTTP/1.1 200')).toBe(false);
  });

  it('closes an idle keep-alive connection after 5 s', async () => {
    const { response, closedAfterMs } = await rawClient(stats.port, ['GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'], 0, 10_000);
    expect(response.startsWith('HTTP/1.1 200')).toBe(true);
    expect(closedAfterMs).toBeGreaterThanOrEqual(4_500);
    expect(closedAfterMs).toBeLessThan(8_000);
  }, 15_000);

  it('answers a malformed URL, a foreign Host and a text/plain POST with 4xx JSON over real HTTP', async () => {
    const base = `http://127.0.0.1:${stats.port}`;
    const malformed = await fetch(`${base}/data/%E0%A4%A.json`);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: 'the URL has a malformed percent-encoding' });
    expect((await fetch(`${base}/api/stats/dimensions/%E0%A4%A`)).status).toBe(400);

    const rebound = await rawClient(stats.port, ['POST /admin/queues/api/queues/x/add HTTP/1.1\r\nHost: rebound.example:8081\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}'], 0);
    expect(rebound.response).toMatch(/^HTTP\/1\.1 403/);
    const plain = await fetch(`${base}/admin/queues/api/queues/x/add`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"name":"map"}' });
    expect(plain.status).toBe(415);
    expect(await healthy()).toBe(true);
  });
});
