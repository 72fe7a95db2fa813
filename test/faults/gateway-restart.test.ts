/**
 * SPEC 9: a gateway restart loses nothing. Clients that retry like Firefox
 * (same docId, only on 5xx and network errors) keep submitting while the
 * gateway process gets SIGTERM (graceful: in-flight confirms finish, exit 0)
 * and a new one starts on the same port. Every docId finally answered 200 is
 * stored exactly once (retries of an unconfirmed copy are deduplicated).
 * Also with SIGKILL while batch messages wait for their confirms: a
 * submission framed into a message the broker took but never answered is
 * retried by its client and deduplicated by the workers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allPresent, classicPing, figures, printSummary, scanOccurrences, sleep } from '../support/faults.js';
import { REPO_ROOT } from '../support/fixtures.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { topologyEnv, waitFor } from '../support/services.js';
import { freePort } from '../support/ports.js';

function startGatewayProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'apps/gateway/src/main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', GATEWAY_PROCESSES: '1', HOST: '127.0.0.1', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** One client: sends distinct docIds, each retried on 5xx and network errors like Firefox. */
async function firefoxLikeClient(baseUrl: string, prefix: string, running: () => boolean, out: { accepted: string[]; retries: number }): Promise<void> {
  for (let n = 0; running(); n += 1) {
    const docId = `${prefix}-${n}`;
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const status = await fetch(`${baseUrl}/submit/telemetry/${docId}`, { method: 'POST', body: classicPing(n), signal: AbortSignal.timeout(10_000) }).then(
        async (r) => (await r.arrayBuffer(), r.status),
        () => 0,
      );
      if (status === 200) {
        out.accepted.push(docId);
        break;
      }
      if (status !== 0 && status < 500) throw new Error(`${docId}: final ${status}`);
      out.retries += 1;
      await sleep(50);
    }
  }
}

describe('gateway restart under load', () => {
  let p: TestPipeline | undefined;
  let gateway: ChildProcess | undefined;
  afterEach(async () => {
    if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL');
    await p?.stop();
    p = undefined;
  });

  /**
   * Firefox-like clients submit through a gateway process; once `count` are
   * accepted it is stopped with `signal` and a new one started on the same
   * port; `count` more accepted, then everything accepted must be stored once.
   */
  async function restartUnderLoad(label: string, options: { signal: NodeJS.Signals; clients: number; count: number; env?: Record<string, string> }) {
    p = await startTestPipeline(label);
    const pipeline = p;
    const port = await freePort();
    const env = { ...topologyEnv(pipeline.env.topology), PORT: String(port), ...options.env };
    const baseUrl = `http://127.0.0.1:${port}`;
    const ready = async () => (await fetch(`${baseUrl}/ready`).then((r) => r.status, () => 0)) === 200;

    gateway = startGatewayProcess(env);
    await waitFor('gateway ready', ready, 30_000);
    const out = { accepted: [] as string[], retries: 0 };
    let running = true;
    const clients = Array.from({ length: options.clients }, (_, i) => firefoxLikeClient(baseUrl, `${label}-${i}`, () => running, out));

    await waitFor(`${options.count} accepted`, () => out.accepted.length >= options.count, 20_000);
    const first = gateway;
    first.kill(options.signal);
    const [exitCode] = (await once(first, 'exit')) as [number | null];
    const retriesBefore = out.retries;
    gateway = startGatewayProcess(env);
    await waitFor('restarted gateway ready', ready, 30_000);
    const acceptedAtRestart = out.accepted.length;
    await waitFor(`${options.count} more accepted`, () => out.accepted.length >= acceptedAtRestart + options.count, 20_000);
    running = false;
    await Promise.all(clients);

    await waitFor('everything accepted stored', () => allPresent(out.accepted, pipeline.storageDir, pipeline.errorsDir), 30_000);
    const f = figures(out.accepted, await scanOccurrences(pipeline.storageDir, pipeline.errorsDir));
    return { exitCode, f, retriesAfterStop: out.retries - retriesBefore };
  }

  it('loses nothing answered 200 and stores each docId once', async () => {
    const { exitCode, f, retriesAfterStop } = await restartUnderLoad('restart', { signal: 'SIGTERM', clients: 4, count: 100 });
    printSummary('gateway restart', f, { retriesDuringRestart: retriesAfterStop });
    expect(exitCode).toBe(0);
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
    expect(retriesAfterStop).toBeGreaterThan(0); // the restart really interrupted clients
  });

  it('killed with SIGKILL with batches in flight, loses nothing answered 200 and stores each docId once', async () => {
    // A longer linger keeps batches open and in flight at any moment of the kill.
    const { f, retriesAfterStop } = await restartUnderLoad('gwkill', { signal: 'SIGKILL', clients: 8, count: 200, env: { PUBLISH_BATCH_MAX_WAIT: '20ms' } });
    printSummary('gateway SIGKILL with batches in flight', f, { retriesAfterKill: retriesAfterStop });
    expect(f.lost).toEqual([]);
    expect(f.duplicates).toEqual([]);
    expect(retriesAfterStop).toBeGreaterThan(0);
  });
});
