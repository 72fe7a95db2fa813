/**
 * The cluster harness's client host: Firefox-like submitters sending through
 * every gateway. Each submission has its own docId and is sent until it is
 * answered 200 (Firefox keeps a ping until the server took it): after a 5xx
 * or a network error (timeout included) the same docId and body are sent
 * again after a short backoff, through the next gateway (as a load balancer
 * would). Like a load balancer's health checks, a gateway that gave a network
 * error is left out until its `/__lbheartbeat__` answers again (probed every
 * `--probe-ms`). A 4xx is final. Every finished attempt is one JSON line on stdout:
 *
 *   {"id": docId, "g": gateway index, "s": status (0: network error), "t0": started ms, "t1": ended ms}
 *
 * SIGTERM stops new submissions; those in hand are still sent until
 * accepted (at most 60 more attempts each), then the process exits 0.
 *
 *   node --import tsx test/cluster/client.ts --gateways URL,URL --prefix P [--concurrency 6] [--pause-ms 0]
 *        [--bad-every 0] [--timeout-ms 5000] [--probe-ms 1000]
 */
import { parseArgs } from 'node:util';
import { classicPing } from '../support/classic-ping.js';

const { values } = parseArgs({
  options: {
    gateways: { type: 'string' },
    prefix: { type: 'string' },
    concurrency: { type: 'string', default: '6' },
    'pause-ms': { type: 'string', default: '0' },
    'bad-every': { type: 'string', default: '0' },
    'timeout-ms': { type: 'string', default: '5000' },
    'probe-ms': { type: 'string', default: '1000' },
  },
});
const gateways = (values.gateways ?? '').split(',').filter((url) => url !== '');
const prefix = values.prefix ?? '';
if (gateways.length === 0 || prefix === '') {
  process.stderr.write('usage: client.ts --gateways URL[,URL…] --prefix PREFIX [--concurrency N] [--pause-ms MS] [--bad-every N] [--timeout-ms MS] [--probe-ms MS]\n');
  process.exit(2);
}
const concurrency = Number(values.concurrency);
const pauseMs = Number(values['pause-ms']);
const badEvery = Number(values['bad-every']);
const timeoutMs = Number(values['timeout-ms']);
const probeMs = Number(values['probe-ms']);
/** A body no worker can convert: filed as `bad_json`. */
const BAD_JSON = '{"ver": 1,';

let running = true;
let next = 0;
let turn = 0;
const down = new Set<number>();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The next gateway in turn that is not left out (any, when all are). */
function pickGateway(): number {
  for (let i = 0; i < gateways.length; i += 1) {
    const g = (turn + i) % gateways.length;
    if (!down.has(g)) {
      turn = g + 1;
      return g;
    }
  }
  turn += 1;
  return turn % gateways.length;
}

/** Leaves gateway `g` out until its health check answers. */
function markDown(g: number): void {
  if (down.has(g)) return;
  down.add(g);
  void (async () => {
    for (;;) {
      await sleep(probeMs);
      const ok = await fetch(`${gateways[g]}/__lbheartbeat__`, { signal: AbortSignal.timeout(probeMs) }).then(
        async (r) => (await r.arrayBuffer(), r.ok),
        () => false,
      );
      if (ok) break;
    }
    down.delete(g);
  })();
}

async function send(g: number, docId: string, body: string): Promise<number> {
  try {
    const response = await fetch(`${gateways[g]}/submit/telemetry/${docId}`, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

async function submitter(): Promise<void> {
  while (running) {
    const n = next++;
    const docId = `${prefix}-${n}`;
    const body = badEvery > 0 && n % badEvery === badEvery - 1 ? BAD_JSON : classicPing(n);
    for (let attempt = 0; running || attempt < 60; attempt += 1) {
      const g = pickGateway();
      const t0 = Date.now();
      const status = await send(g, docId, body);
      process.stdout.write(`${JSON.stringify({ id: docId, g, s: status, t0, t1: Date.now() })}\n`);
      if (status >= 200 && status < 500) break;
      if (status === 0) markDown(g);
      await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)));
    }
    if (pauseMs > 0) await sleep(pauseMs);
  }
}

process.once('SIGTERM', () => {
  running = false;
});
await Promise.all(Array.from({ length: concurrency }, () => submitter()));
// Health checks of a gateway that never came back would keep the process alive.
process.exit(0);
