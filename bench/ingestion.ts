/**
 * Ingestion throughput of the gateway (200 = confirmed by RabbitMQ) with the
 * stats app running, then with it stopped (issue 4: stopping stats must slow
 * nothing, and the stats queue must stay within its bound), against a bare
 * node:http server that reads the body and answers 200 (the baseline), all
 * in the same run with the same autocannon load.
 */
import os from 'node:os';
import amqp from 'amqplib';
import type { BenchResult } from './harness.js';
import { bareHttpRate, benchPingBody, submitRate } from './load.js';
import { AMQP_URL, benchStack, startApp, waitForHttp } from './stack.js';

const PHASE_SECONDS = Number(process.env.BENCH_PHASE_SECONDS ?? 60);
const CONNECTIONS = 50;
const STATS_MAX_LENGTH = 50_000;
const BODY = benchPingBody({ simpleMeasurements: { uptime: 123, main: 45 } });
const load = (url: string, seconds: number) => submitRate(url, { seconds, connections: CONNECTIONS, body: BODY });

export async function benchIngestion(): Promise<BenchResult> {
  const stack = await benchStack('ingest', { WORKERS: '1', GATEWAY_PROCESSES: String(os.availableParallelism()) }, { statsQueueMaxLength: STATS_MAX_LENGTH });
  const { env, port, statsPort, topology } = stack;

  // Baseline: a bare node:http server in its own process would be fairer for CPU,
  // but both run under the same load generator on the same cores.
  const baseline = await bareHttpRate({ seconds: Math.min(PHASE_SECONDS, 20), connections: CONNECTIONS, body: BODY });

  const gateway = startApp('gateway', env);
  const workers = startApp('workers', env);
  const stats = startApp('stats', env);
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  try {
    await waitForHttp(`http://127.0.0.1:${port}/ready`);
    await waitForHttp(`http://127.0.0.1:${statsPort}/ready`);
    const withStats = await load(`http://127.0.0.1:${port}`, PHASE_SECONDS);
    await stats.stop();
    const withoutStats = await load(`http://127.0.0.1:${port}`, PHASE_SECONDS);
    const statsDepth = (await channel.checkQueue(topology.statsQueue)).messageCount;
    const ratio = withoutStats.rate / withStats.rate;
    const markdown = [
      `autocannon, ${CONNECTIONS} connections, ${BODY.length}-byte JSON bodies, unique docIds; gateway on ${env.GATEWAY_PROCESSES} processes, 1 worker, everything on this machine. ${PHASE_SECONDS} s per phase.`,
      '',
      '| phase | 2xx/s | non-2xx | errors |',
      '| --- | ---: | ---: | ---: |',
      `| baseline: bare node:http (read body, 200) | ${baseline.rate.toFixed(0)} | ${baseline.non2xx} | ${baseline.errors} |`,
      `| gateway, stats app running | ${withStats.rate.toFixed(0)} | ${withStats.non2xx} | ${withStats.errors} |`,
      `| gateway, stats app stopped | ${withoutStats.rate.toFixed(0)} | ${withoutStats.non2xx} | ${withoutStats.errors} |`,
      '',
      `Gateway (stats running) / bare node:http: **${(withStats.rate / baseline.rate).toFixed(2)}**. ` +
        `Stopped / running: **${ratio.toFixed(2)}** (≥ 0.95 means stopping stats slows nothing). ` +
        `Stats queue depth after the stopped phase: ${statsDepth} (bound ${STATS_MAX_LENGTH}).`,
    ].join('\n');
    return { name: 'Ingestion throughput with and without the stats app', markdown, targetMet: ratio >= 0.95 && statsDepth <= STATS_MAX_LENGTH };
  } finally {
    await Promise.all([gateway.stop(), workers.stop(), stats.stop()]);
    await connection.close();
    await stack.cleanup();
  }
}
