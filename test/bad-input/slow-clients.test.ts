/**
 * Slow and broken clients over real TCP: headers sent byte by byte past
 * HEADERS_TIMEOUT, a body that never finishes, over-large headers and
 * garbage instead of HTTP. Each is cut off with an HTTP error or a closed
 * socket, and the gateway keeps answering everyone else.
 */
import { silentLogger } from '@telemetry/shared/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../apps/gateway/src/config.js';
import { startGateway, type RunningGateway } from '../../apps/gateway/src/server.js';
import { createTestEnvironment, topologyEnv, type TestEnvironment } from '../support/services.js';
import { rawClient } from '../support/raw-client.js';


describe('slow and broken clients', () => {
  let env: TestEnvironment;
  let gateway: RunningGateway;
  beforeAll(async () => {
    env = await createTestEnvironment('slow');
    gateway = await startGateway({
      config: parseGatewayConfig({ ...topologyEnv(env.topology), PORT: '0', HOST: '127.0.0.1', GATEWAY_PROCESSES: '1', HEADERS_TIMEOUT: '1s', REQUEST_TIMEOUT: '2s' }),
      logger: silentLogger,
    });
    await gateway.sink.waitUntilConnected(10_000);
  });
  afterAll(async () => {
    await gateway.stop();
    await env.cleanup();
  });

  const healthy = async () => (await fetch(`http://127.0.0.1:${gateway.port}/status`)).status === 200;

  it('cuts off a client that sends its headers byte by byte past HEADERS_TIMEOUT', async () => {
    const request = 'POST /submit/telemetry/slow-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nUser-Agent: ' + 'a'.repeat(60) + '\r\n\r\n{}';
    const pending = rawClient(gateway.port, request.split(''), 100);
    expect(await healthy()).toBe(true); // others are served meanwhile
    const { response, closedAfterMs } = await pending;
    expect(closedAfterMs).toBeLessThan(5_000);
    expect(response === '' || response.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('cuts off a body that never finishes after REQUEST_TIMEOUT', async () => {
    const { response, closedAfterMs } = await rawClient(
      gateway.port,
      ['POST /submit/telemetry/slow-2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n', 'x'.repeat(100)],
      200,
    );
    expect(closedAfterMs).toBeLessThan(6_000);
    expect(response.startsWith('HTTP/1.1 200')).toBe(false);
    expect(await env.queueDepth(env.topology.persistQueue)).toBe(0);
  });

  it('refuses huge headers and garbage, and keeps serving', async () => {
    const huge = await rawClient(gateway.port, [`GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(200_000)}\r\n\r\n`], 0);
    expect(huge.response.startsWith('HTTP/1.1 431')).toBe(true);
    const garbage = await rawClient(gateway.port, ['\u0000\u0001NOT HTTP AT ALL\r\n\r\n'], 0);
    expect(garbage.response.startsWith('HTTP/1.1 400')).toBe(true);
    expect(await healthy()).toBe(true);
  });
});
