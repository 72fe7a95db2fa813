/**
 * The ingest path end to end, every rate beside a baseline measured in the
 * same run (`npm run bench -- ingest-path`):
 *
 *   baseline A: a bare node:http server in its own process (reads the body, answers 200);
 *   1. gateway alone (GATEWAY_PROCESSES default = cores, nothing consuming): ≥ 0.15 × A, p99 ≤ 20 ms;
 *   2. whole stack consuming (gateway + WORKERS=2 + stats, as `npm start`): ≥ 0.10 × A, p99 ≤ 25 ms;
 *   baseline B: a naive loop on one core over the real 2013 Firefox 23 ping (gunzip, JSON.parse, JSON.stringify);
 *   3. workers alone (WORKERS=2) on copies of the real ping preloaded in the persist queue: ≥ 1.5 × B;
 *   4. end to end on the real ping (gzip bodies through the gateway until stored): ≥ 1.2 × B;
 *   and the stats queue as a classic and as a quorum queue (confirmed publishes, consumed back).
 *
 * HTTP load: wrk (scripts/ensure-bench-tools.sh installs it), 50 connections,
 * 2 KiB JSON bodies, a unique docId per request (bench/wrk/submit.lua).
 * BENCH_PHASE_SECONDS (default 20) sets the HTTP phases' length,
 * BENCH_WORKER_PINGS / BENCH_E2E_PINGS the ping counts of phases 3 and 4;
 * BENCH_INGEST_PHASES=bare,gateway,stack,naive,workers,e2e,stats-queue runs
 * only some (for debugging: such a partial run is reported but not appended).
 */
import { randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import amqp, { type ConfirmChannel } from 'amqplib';
import { assertTopology } from '@telemetry/shared/amqp/topology';
import { batchPublishOptions, encodeBatch, urlDimensionsFromPath, type Submission } from '@telemetry/shared/amqp/wire-codec';
import { silentLogger } from '@telemetry/shared/logger';
import { createRedis } from '@telemetry/shared/redis';
import { freePort } from '../test/support/ports.js';
import { machineDescription, type BenchResult } from './harness.js';
import { firefoxPingBody, seedRevisionCache } from './load.js';
import { naiveLoopRate, realFirefoxPing } from './naive-loop.js';
import { AMQP_URL, benchStack, startApp, waitForHttp, type AppProcess, type BenchStack } from './stack.js';
import { ensureBenchTools, runWrk, startBareHttp, startWrk, type WrkLoad, type WrkResult } from './wrk.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PHASE_SECONDS = Number(process.env.BENCH_PHASE_SECONDS ?? 20);
const WARMUP_SECONDS = 3;
const CONNECTIONS = 50;
const WRK_THREADS = 2;
const BODY_BYTES = 2048;
const NAIVE_MS = 5_000;
const WORKERS = 2;
const WORKER_PINGS = Number(process.env.BENCH_WORKER_PINGS ?? 20_000);
const E2E_PINGS = Number(process.env.BENCH_E2E_PINGS ?? 10_000);
/** Real pings per preloaded message: 50 × 18 KB stays under the gateway's PUBLISH_BATCH_MAX_BYTES (1 MiB). */
const PINGS_PER_MESSAGE = 50;
const STATS_MESSAGES = 20_000;
/** Submissions per stats message: about what one gateway batch holds at a few thousand req/s per process. */
const STATS_SUBMISSIONS_PER_MESSAGE = 10;
const REVISION = 'a55c55edf302';
/** Nothing listens there: the workers read Histograms.json from the seeded cache only. */
const DEAD_HG_SERVER = 'http://127.0.0.1:9';
const SUBMIT_TAIL = 'saved-session/Firefox/23.0.1/release/20130814063812';

const TARGET = {
  gatewayAlone: { ratio: 0.15, p99Ms: 20 },
  wholeStack: { ratio: 0.1, p99Ms: 25 },
  workersAlone: 1.5,
  endToEnd: 1.2,
};

const PHASES = ['bare', 'gateway', 'stack', 'naive', 'workers', 'e2e', 'stats-queue'] as const;
type Phase = (typeof PHASES)[number];

// ---------------------------------------------------------------- helpers

/** BENCH_DEBUG=1: progress of the polling loops on stderr. */
const DEBUG = process.env.BENCH_DEBUG === '1';
let lastDebugAt = 0;
function debug(what: string, value: unknown): void {
  if (!DEBUG || Date.now() - lastDebugAt < 1_000) return;
  lastDebugAt = Date.now();
  console.error(`  [${new Date().toISOString().slice(11, 23)}] ${what} ${JSON.stringify(value)}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How often the workers' metrics are read while waiting for them (the end is known to this much). */
const METRICS_POLL_MS = 500;

/** Sums of a Prometheus counter by one label's value. */
function counterByLabel(text: string, name: string, label: string): Map<string, number> {
  const sums = new Map<string, number>();
  const line = new RegExp(`^${name}\\{([^}]*)\\}\\s+(\\S+)`, 'gm');
  const labelValue = new RegExp(`(?:^|,)${label}="([^"]*)"`);
  for (const match of text.matchAll(line)) {
    const key = labelValue.exec(match[1] ?? '')?.[1] ?? '';
    sums.set(key, (sums.get(key) ?? 0) + Number(match[2]));
  }
  return sums;
}

/** Every sample of a metric summed (any labels, or none). */
function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'gm'))) sum += Number(match[1]);
  return sum;
}

/** CPU and GC seconds of the workers so far (their default Prometheus metrics, summed by the pool primary over its processes and itself). */
async function workerCpu(metricsPort: number): Promise<{ cpuSeconds: number; gcSeconds: number }> {
  const text = await fetchText(`http://127.0.0.1:${metricsPort}/metrics`);
  return { cpuSeconds: metricSum(text, 'process_cpu_seconds_total'), gcSeconds: metricSum(text, 'nodejs_gc_duration_seconds_sum') };
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

interface WorkerOutcomes {
  stored: number;
  filed: number;
  duplicate: number;
  retried: number;
  deadLettered: number;
  /** stored + filed + duplicate + dead-lettered: finished for good. */
  finished: number;
}

/** Outcomes of all the workers (telemetry_worker_messages_total on METRICS_PORT, summed by the pool primary); undefined when it does not answer. */
async function workerOutcomes(metricsPort: number): Promise<WorkerOutcomes | undefined> {
  try {
    const text = await fetchText(`http://127.0.0.1:${metricsPort}/metrics`);
    const sums = counterByLabel(text, 'telemetry_worker_messages_total', 'outcome');
    const get = (outcome: string) => sums.get(outcome) ?? 0;
    const outcomes = { stored: get('stored'), filed: get('filed'), duplicate: get('duplicate'), retried: get('retried'), deadLettered: get('dead_lettered') };
    return { ...outcomes, finished: outcomes.stored + outcomes.filed + outcomes.duplicate + outcomes.deadLettered };
  } catch {
    return undefined;
  }
}

function assertRunning(apps: Record<string, AppProcess>): void {
  for (const [name, app] of Object.entries(apps)) {
    if (app.child.exitCode !== null || app.child.signalCode !== null) {
      throw new Error(`the ${name} app exited (code ${app.child.exitCode}, signal ${app.child.signalCode})`);
    }
  }
}

async function waitForWorkers(metricsPort: number, workers: AppProcess): Promise<void> {
  await Promise.race([
    // The pool's /ready: every one of its WORKERS processes consumes.
    waitForHttp(`http://127.0.0.1:${metricsPort}/ready`, 60_000),
    new Promise((_, reject) => workers.child.once('exit', (code) => reject(new Error(`the workers app exited (${code}) before it was ready`)))),
  ]);
}

/** Deletes the Redis keys (dedup, stats) a stack's apps wrote. */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = createRedis(REDIS_URL, silentLogger);
  try {
    // Dedup keys end in binary: scan and delete them as buffers.
    for await (const batch of redis.scanBufferStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<Buffer[]>) {
      if (batch.length > 0) await redis.unlink(...batch);
    }
  } finally {
    redis.disconnect();
  }
}

/** A bench stack whose queues, data directories and Redis keys are removed afterwards, whatever happens. */
async function withStack<T>(label: string, extraEnv: Record<string, string>, run: (stack: BenchStack) => Promise<T>): Promise<T> {
  const stack = await benchStack(label, extraEnv);
  try {
    return await run(stack);
  } finally {
    await stack.cleanup().catch((error: unknown) => console.error(`cleanup of ${label} failed:`, error));
    const redisPrefix = (stack.env.DEDUP_PREFIX ?? '').replace(/dedup:$/, '');
    if (redisPrefix.startsWith('bench-')) await deleteRedisKeys(redisPrefix).catch(() => undefined);
  }
}

async function stopAll(apps: readonly AppProcess[]): Promise<void> {
  await Promise.all(apps.map((app) => app.stop()));
}

function realPingSubmission(body: Buffer, receivedAtMs: number): Submission {
  // Firefox's docIds are UUIDs: the dedup keys get their real size.
  const docId = randomUUID();
  const submitPath = `${docId}/${SUBMIT_TAIL}`;
  return { docId, path: submitPath, urlDimensions: urlDimensionsFromPath(submitPath), receivedAtMs, contentEncoding: 'gzip', clientHeaders: {}, body, bodyBytes: body.length };
}

/** Publishes `messages` with confirms to the default exchange (routing key = queue), `window` unconfirmed at most. */
async function publishConfirmed(channel: ConfirmChannel, queue: string, count: number, window: number, message: (i: number) => Buffer, persistent = true): Promise<void> {
  for (let i = 0; i < count; i += window) {
    await Promise.all(
      Array.from(
        { length: Math.min(window, count - i) },
        (_, j) =>
          new Promise<void>((resolve, reject) => {
            channel.sendToQueue(queue, message(i + j), { ...batchPublishOptions(randomUUID(), Date.now()), persistent }, (error) => (error ? reject(error as Error) : resolve()));
          }),
      ),
    );
  }
}

// ---------------------------------------------------------------- phases

interface HttpPhase {
  readonly wrk: WrkResult;
  readonly processes: string;
}

interface BodyFiles {
  readonly json: string;
  readonly realPingGzip: string;
  readonly runTag: string;
}

function httpLoad(url: string, seconds: number, files: BodyFiles, idPrefix: string): WrkLoad {
  return { url, seconds, connections: CONNECTIONS, threads: WRK_THREADS, bodyFile: files.json, idPrefix: `${files.runTag}-${idPrefix}` };
}

/** Warm-up, then the measured wrk phase; `answered` counts the responses < 400 of both. */
async function measureHttp(url: string, files: BodyFiles, label: string): Promise<{ wrk: WrkResult; answered: number }> {
  const warmup = await runWrk(httpLoad(url, WARMUP_SECONDS, files, `${label}w`));
  const wrk = await runWrk(httpLoad(url, PHASE_SECONDS, files, label));
  return { wrk, answered: warmup.ok + wrk.ok };
}

async function bareBaseline(files: BodyFiles): Promise<WrkResult> {
  const bare = await startBareHttp();
  try {
    return (await measureHttp(bare.url, files, 'bare')).wrk;
  } finally {
    await bare.stop();
  }
}

async function gatewayAlone(files: BodyFiles): Promise<HttpPhase & { persistDepth: number }> {
  return withStack('ingest-path-gw', {}, async (stack) => {
    const gateway = startApp('gateway', stack.env);
    try {
      await waitForHttp(`http://127.0.0.1:${stack.port}/ready`);
      const { wrk } = await measureHttp(`http://127.0.0.1:${stack.port}`, files, 'gw');
      assertRunning({ gateway });
      const connection = await amqp.connect(AMQP_URL);
      try {
        const channel = await connection.createChannel();
        const persistDepth = (await channel.checkQueue(stack.topology.persistQueue)).messageCount;
        return { wrk, processes: stack.env.GATEWAY_PROCESSES ?? String(os.availableParallelism()), persistDepth };
      } finally {
        await connection.close();
      }
    } finally {
      await gateway.stop();
    }
  });
}

interface StackPhase extends HttpPhase {
  /** Persist queue messages (batches) at the end of the load. */
  readonly persistDepth: number;
  /** Answered < 400 as wrk saw it (warm-up included; requests in flight when wrk stopped are not counted). */
  readonly accepted: number;
  readonly stored: number | undefined;
}

async function wholeStack(files: BodyFiles): Promise<StackPhase> {
  const metricsPort = await freePort();
  return withStack('ingest-path-stack', { HG_SERVER: DEAD_HG_SERVER }, async (stack) => {
    await seedRevisionCache(stack.env.REVISION_CACHE_DIR ?? '', REVISION);
    const gatewayUrl = `http://127.0.0.1:${stack.port}`;
    const gateway = startApp('gateway', stack.env);
    const workers = startApp('workers', { ...stack.env, WORKERS: String(WORKERS), METRICS_PORT: String(metricsPort) });
    const stats = startApp('stats', stack.env);
    try {
      await waitForHttp(`${gatewayUrl}/ready`);
      await waitForHttp(`http://127.0.0.1:${stack.statsPort}/ready`);
      await waitForWorkers(metricsPort, workers);
      const { wrk, answered: accepted } = await measureHttp(gatewayUrl, files, 'stack');
      assertRunning({ gateway, workers, stats });
      const connection = await amqp.connect(AMQP_URL);
      try {
        const channel = await connection.createChannel();
        const persistDepth = (await channel.checkQueue(stack.topology.persistQueue)).messageCount;
        const stored = (await workerOutcomes(metricsPort))?.stored;
        return { wrk, processes: stack.env.GATEWAY_PROCESSES ?? String(os.availableParallelism()), persistDepth, accepted, stored };
      } finally {
        await connection.close();
      }
    } finally {
      await stopAll([gateway, workers, stats]);
    }
  });
}

interface WorkersPhase {
  readonly rate: number;
  readonly seconds: number;
  readonly outcomes: WorkerOutcomes;
  readonly preloadSeconds: number;
  /** CPU and GC of the worker processes (not their compression processes) from readiness to the end, per ping. */
  readonly cpuMsPerPing: number;
  readonly gcMsPerPing: number;
}

async function workersAlone(realPing: Buffer): Promise<WorkersPhase> {
  const metricsPort = await freePort();
  return withStack('ingest-path-workers', { HG_SERVER: DEAD_HG_SERVER }, async (stack) => {
    await seedRevisionCache(stack.env.REVISION_CACHE_DIR ?? '', REVISION);
    const connection = await amqp.connect(AMQP_URL);
    let workers: AppProcess | undefined;
    try {
      const channel = await connection.createConfirmChannel();
      await assertTopology(channel, stack.topology);
      const preloadStart = performance.now();
      const receivedAtMs = Date.UTC(2013, 8, 10);
      const messages = Math.ceil(WORKER_PINGS / PINGS_PER_MESSAGE);
      await publishConfirmed(channel, stack.topology.persistQueue, messages, 20, (i) =>
        encodeBatch(Array.from({ length: Math.min(PINGS_PER_MESSAGE, WORKER_PINGS - i * PINGS_PER_MESSAGE) }, () => realPingSubmission(realPing, receivedAtMs)), 'full'),
      );
      const preloadSeconds = (performance.now() - preloadStart) / 1000;
      const depth = (await channel.checkQueue(stack.topology.persistQueue)).messageCount;
      if (depth !== messages) throw new Error(`preloaded ${messages} messages but the persist queue holds ${depth}`);

      const app = startApp('workers', { ...stack.env, WORKERS: String(WORKERS), METRICS_PORT: String(metricsPort) });
      workers = app;
      let ready = false;
      let startedAt: number | undefined;
      let cpuAtStart: { cpuSeconds: number; gcSeconds: number } | undefined;
      let outcomes: WorkerOutcomes | undefined;
      const deadline = Date.now() + Math.max(180_000, WORKER_PINGS * 20);
      for (;;) {
        assertRunning({ workers: app });
        if (Date.now() > deadline) throw new Error(`the workers did not finish ${WORKER_PINGS} pings in time (${JSON.stringify(outcomes)})`);
        const now = performance.now();
        ready ||= await fetch(`http://127.0.0.1:${metricsPort}/ready`).then((r) => r.ok, () => false);
        outcomes = (await workerOutcomes(metricsPort)) ?? outcomes;
        debug('workers alone', { ready, outcomes });
        // Start: every process ready, or the first ping finished if that came first.
        if (startedAt === undefined && (ready || (outcomes?.finished ?? 0) > 0)) {
          startedAt = now;
          cpuAtStart = await workerCpu(metricsPort).catch(() => undefined);
        }
        if (outcomes && outcomes.finished >= WORKER_PINGS) {
          const seconds = (performance.now() - (startedAt ?? now)) / 1000;
          const cpuAtEnd = await workerCpu(metricsPort).catch(() => undefined);
          const finished = outcomes.finished;
          const perPing = (key: 'cpuSeconds' | 'gcSeconds') => (cpuAtEnd && cpuAtStart ? ((cpuAtEnd[key] - cpuAtStart[key]) * 1000) / finished : Number.NaN);
          return { rate: outcomes.stored / seconds, seconds, outcomes, preloadSeconds, cpuMsPerPing: perPing('cpuSeconds'), gcMsPerPing: perPing('gcSeconds') };
        }
        // Each poll renders both workers' Prometheus metrics: every 100 ms cost them ~4 % of their CPU (profiled).
        await sleep(METRICS_POLL_MS);
      }
    } finally {
      await workers?.stop();
      await connection.close();
    }
  });
}

interface EndToEndPhase {
  readonly rate: number;
  readonly seconds: number;
  readonly wrk: WrkResult;
  /** Answered < 400 as wrk saw it. */
  readonly accepted: number;
  readonly outcomes: WorkerOutcomes;
}

async function endToEnd(realPing: Buffer, files: BodyFiles): Promise<EndToEndPhase> {
  const metricsPort = await freePort();
  return withStack('ingest-path-e2e', { HG_SERVER: DEAD_HG_SERVER }, async (stack) => {
    await seedRevisionCache(stack.env.REVISION_CACHE_DIR ?? '', REVISION);
    const gatewayUrl = `http://127.0.0.1:${stack.port}`;
    const gateway = startApp('gateway', stack.env);
    const workers = startApp('workers', { ...stack.env, WORKERS: String(WORKERS), METRICS_PORT: String(metricsPort) });
    const stats = startApp('stats', stack.env);
    const apps = { gateway, workers, stats };
    try {
      await waitForHttp(`${gatewayUrl}/ready`);
      await waitForHttp(`http://127.0.0.1:${stack.statsPort}/ready`);
      await waitForWorkers(metricsPort, workers);
      const doneFile = path.join(stack.dir, 'wrk-threads-done');
      const started = performance.now();
      const run = startWrk({
        url: gatewayUrl,
        seconds: 600,
        connections: CONNECTIONS,
        threads: WRK_THREADS,
        bodyFile: files.realPingGzip,
        idPrefix: `${files.runTag}-e2e`,
        contentEncoding: 'gzip',
        maxRequests: E2E_PINGS,
        doneFile,
      });
      let wrkDone = false;
      run.result.then(
        () => (wrkDone = true),
        () => (wrkDone = true),
      );
      // wrk's threads stop after their share, wrk itself only at -d or SIGINT: interrupted once every thread is done.
      try {
        while (!wrkDone) {
          assertRunning(apps);
          const threadsDone = await readFile(doneFile, 'utf8').then((text) => text.split('\n').filter((line) => line !== '').length, () => 0);
          if (threadsDone >= WRK_THREADS) run.interrupt();
          await sleep(100);
        }
      } finally {
        run.interrupt();
      }
      const wrk = await run.result;
      // Stored must reach what wrk saw answered 200, plus the requests its threads left in flight when they stopped
      // (at most one per connection, answered after wrk stopped reading): done when nothing moved for SETTLE_MS.
      const SETTLE_MS = 3_000;
      const deadline = Date.now() + Math.max(180_000, E2E_PINGS * 20);
      let outcomes: WorkerOutcomes | undefined;
      let lastFinished = -1;
      let lastChangeAt = performance.now();
      for (;;) {
        assertRunning(apps);
        const now = performance.now();
        outcomes = (await workerOutcomes(metricsPort)) ?? outcomes;
        debug('end to end', { answered: wrk.ok, outcomes });
        if (outcomes && outcomes.finished !== lastFinished) {
          lastFinished = outcomes.finished;
          lastChangeAt = now;
        }
        if (outcomes && outcomes.finished >= wrk.ok && now - lastChangeAt >= SETTLE_MS) {
          const seconds = (lastChangeAt - started) / 1000;
          return { rate: outcomes.stored / seconds, seconds, wrk, accepted: wrk.ok, outcomes };
        }
        if (Date.now() > deadline) throw new Error(`the ${wrk.ok} pings answered 200 were not all stored in time (${JSON.stringify(outcomes)})`);
        await sleep(METRICS_POLL_MS);
      }
    } finally {
      await stopAll([gateway, workers, stats]);
    }
  });
}

interface QueueRates {
  readonly type: 'classic' | 'quorum';
  readonly persistent: boolean;
  readonly publish: number;
  readonly consume: number;
  readonly messageBytes: number;
}

/** Confirmed publishes, then consumption (prefetch 1000, one ack per message), of stats-view batches in a fresh queue of `type`. */
async function statsQueueRates(type: 'classic' | 'quorum', persistent: boolean, prefix: string): Promise<QueueRates> {
  const queue = `${prefix}stats-${type}-${persistent ? 'persistent' : 'transient'}`;
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createConfirmChannel();
    // As shared/src/amqp/topology.ts declares the stats queue (the bound is above the count: nothing is dropped).
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': type, 'x-max-length': 100_000, 'x-overflow': 'drop-head' } });
    try {
      const now = Date.now();
      const content = encodeBatch(
        Array.from({ length: STATS_SUBMISSIONS_PER_MESSAGE }, () => ({ ...realPingSubmission(Buffer.alloc(0), now), bodyBytes: 18_255 })),
        'stats',
      );
      const publishStart = performance.now();
      await publishConfirmed(channel, queue, STATS_MESSAGES, 500, () => content, persistent);
      const publish = STATS_MESSAGES / ((performance.now() - publishStart) / 1000);
      const depth = (await channel.checkQueue(queue)).messageCount;
      if (depth !== STATS_MESSAGES) throw new Error(`the ${type} stats queue holds ${depth} of ${STATS_MESSAGES} messages`);

      const consumer = await connection.createChannel();
      await consumer.prefetch(1_000);
      let received = 0;
      let resolveDone: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (resolveDone = resolve));
      const consumeStart = performance.now();
      await consumer.consume(queue, (message) => {
        if (!message) return;
        consumer.ack(message);
        received += 1;
        if (received === STATS_MESSAGES) resolveDone();
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`consumed ${received} of ${STATS_MESSAGES} from the ${type} queue in 120 s`)), 120_000);
      });
      await Promise.race([done, timeout]).finally(() => clearTimeout(timer));
      const consume = STATS_MESSAGES / ((performance.now() - consumeStart) / 1000);
      await consumer.close();
      return { type, persistent, publish, consume, messageBytes: content.length };
    } finally {
      await channel.deleteQueue(queue).catch(() => undefined);
    }
  } finally {
    await connection.close();
  }
}

// ---------------------------------------------------------------- report

const fmt = (value: number, digits = 0) => value.toFixed(digits);
const ms = (value: number) => `${value.toFixed(1)} ms`;
const yesNo = (met: boolean) => (met ? 'yes' : '**no**');

function selectedPhases(): Set<Phase> {
  const requested = process.env.BENCH_INGEST_PHASES?.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (!requested || requested.length === 0) return new Set(PHASES);
  const unknown = requested.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_INGEST_PHASES: unknown phase(s) ${unknown.join(', ')}; known: ${PHASES.join(', ')}`);
  const phases = new Set(requested as Phase[]);
  // The ratios need their baselines.
  if (phases.has('gateway') || phases.has('stack')) phases.add('bare');
  if (phases.has('workers') || phases.has('e2e')) phases.add('naive');
  return phases;
}

export async function benchIngestPath(): Promise<BenchResult> {
  const phases = selectedPhases();
  ensureBenchTools();
  const realPing = await realFirefoxPing();
  const runTag = `ip${Date.now().toString(36)}`;
  const bodyDir = os.tmpdir();
  const files: BodyFiles = { json: path.join(bodyDir, `${runTag}-body.json`), realPingGzip: path.join(bodyDir, `${runTag}-real-ping.json.gz`), runTag };
  const body = firefoxPingBody(BODY_BYTES);
  await writeFile(files.json, body);
  await writeFile(files.realPingGzip, realPing.body);

  const rows: string[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  let allMet = true;
  const attempt = async <T>(phase: Phase, label: string, run: () => Promise<T>): Promise<T | undefined> => {
    if (!phases.has(phase)) return undefined;
    console.log(`  ingest-path: ${label}...`);
    try {
      return await run();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`  ingest-path: ${label} failed:`, error);
      failures.push(`${label}: ${message}`);
      rows.push(`| ${label} | failed: ${message.replaceAll('|', '\\|').split('\n')[0] ?? ''} | | | | | **no** |`);
      allMet = false;
      return undefined;
    }
  };
  const httpCells = (wrk: WrkResult) => `${ms(wrk.p50Ms)} / ${ms(wrk.p99Ms)}`;
  const errorCells = (wrk: WrkResult) => `${wrk.non2xx} / ${wrk.socketErrors}`;

  try {
    // The naive loop first, with nothing else running.
    const naive = await attempt('naive', 'baseline: naive loop', () => naiveLoopRate(realPing.body, NAIVE_MS));
    const bare = await attempt('bare', 'baseline: bare node:http', () => bareBaseline(files));
    if (bare) rows.push(`| baseline: bare node:http, 1 process (reads the body, 200) | ${fmt(bare.rate)} req/s | 1.00 | ${httpCells(bare)} | ${errorCells(bare)} | — | — |`);

    const gw = await attempt('gateway', '1. gateway alone', () => gatewayAlone(files));
    if (gw && bare) {
      const ratio = gw.wrk.rate / bare.rate;
      const met = ratio >= TARGET.gatewayAlone.ratio && gw.wrk.p99Ms <= TARGET.gatewayAlone.p99Ms && gw.wrk.non2xx === 0 && gw.wrk.socketErrors === 0;
      allMet &&= met;
      rows.push(
        `| 1. gateway alone, ${gw.processes} processes, nothing consuming | ${fmt(gw.wrk.rate)} req/s | ${fmt(ratio, 2)} | ${httpCells(gw.wrk)} | ${errorCells(gw.wrk)} | ≥ ${TARGET.gatewayAlone.ratio} × bare, p99 ≤ ${TARGET.gatewayAlone.p99Ms} ms, no errors | ${yesNo(met)} |`,
      );
      notes.push(`Phase 1 left ${gw.persistDepth} messages (batches) in the persist queue (deleted afterwards).`);
    }

    const stack = await attempt('stack', '2. whole stack consuming', () => wholeStack(files));
    if (stack && bare) {
      const ratio = stack.wrk.rate / bare.rate;
      const met = ratio >= TARGET.wholeStack.ratio && stack.wrk.p99Ms <= TARGET.wholeStack.p99Ms && stack.wrk.non2xx === 0 && stack.wrk.socketErrors === 0;
      allMet &&= met;
      rows.push(
        `| 2. whole stack consuming: gateway (${stack.processes} processes) + ${WORKERS} workers + stats | ${fmt(stack.wrk.rate)} req/s | ${fmt(ratio, 2)} | ${httpCells(stack.wrk)} | ${errorCells(stack.wrk)} | ≥ ${TARGET.wholeStack.ratio} × bare, p99 ≤ ${TARGET.wholeStack.p99Ms} ms, no errors | ${yesNo(met)} |`,
      );
      const backlog =
        stack.stored === undefined
          ? 'unknown (the workers\' metrics did not answer)'
          : `${Math.max(0, stack.accepted - stack.stored)} pings (${stack.accepted} answered 200 as wrk saw them, plus up to ${CONNECTIONS} per wrk run in flight at its end; ${stack.stored} stored)`;
      notes.push(`At the end of phase 2: persist queue ${stack.persistDepth} messages (batches) ready; workers' backlog ${backlog}.`);
    }

    if (naive !== undefined) rows.push(`| baseline: naive loop, 1 core (gunzip + JSON.parse + JSON.stringify of the real ping) | ${fmt(naive)} pings/s | 1.00 | — | — | — | — |`);

    const workers = await attempt('workers', '3. workers alone', () => workersAlone(realPing.body));
    if (workers && naive !== undefined) {
      const ratio = workers.rate / naive;
      const o = workers.outcomes;
      const met = ratio >= TARGET.workersAlone && o.stored === WORKER_PINGS;
      allMet &&= met;
      rows.push(
        `| 3. workers alone, WORKERS=${WORKERS}, ${WORKER_PINGS} real pings preloaded (${PINGS_PER_MESSAGE} per message) | ${fmt(workers.rate)} pings/s | ${fmt(ratio, 2)} | — | ${o.filed} filed, ${o.duplicate} dup, ${o.deadLettered} dead-lettered | ≥ ${TARGET.workersAlone} × naive, all stored | ${yesNo(met)} |`,
      );
      notes.push(
        `Phase 3: ${o.stored} stored in ${fmt(workers.seconds, 1)} s from the workers' readiness (preload took ${fmt(workers.preloadSeconds, 1)} s). ` +
          `CPU of the worker processes: ${fmt(workers.cpuMsPerPing, 2)} ms per ping, of which GC ${fmt(workers.gcMsPerPing, 2)} ms (the naive loop: ${fmt(1000 / naive, 2)} ms per ping on its core); their compression processes come on top.`,
      );
    }

    const e2e = await attempt('e2e', '4. end to end, real ping', () => endToEnd(realPing.body, files));
    if (e2e && naive !== undefined) {
      const ratio = e2e.rate / naive;
      const o = e2e.outcomes;
      const met = ratio >= TARGET.endToEnd && e2e.wrk.non2xx === 0 && e2e.wrk.socketErrors === 0 && o.stored >= e2e.accepted && o.filed === 0;
      allMet &&= met;
      rows.push(
        `| 4. end to end: ${E2E_PINGS} real pings (gzip, ${realPing.body.length} bytes) through gateway + ${WORKERS} workers + stats until stored | ${fmt(e2e.rate)} pings/s | ${fmt(ratio, 2)} | ${httpCells(e2e.wrk)} | ${errorCells(e2e.wrk)} | ≥ ${TARGET.endToEnd} × naive, all accepted stored, no errors | ${yesNo(met)} |`,
      );
      notes.push(
        `Phase 4: ${e2e.accepted} answered 200 as wrk saw it (plus up to ${CONNECTIONS} in flight when its threads stopped), ${o.stored} stored, ${o.filed} filed, ${o.duplicate} duplicates, in ${fmt(e2e.seconds, 1)} s from the first request to the last stored (HTTP: ${fmt(e2e.wrk.rate)} req/s while wrk ran).`,
      );
    }

    const queues = await attempt('stats-queue', 'stats queue: classic vs quorum', async () => {
      const prefix = `bench-ingest-path-${Date.now()}.`;
      // Transient messages in a classic queue are what the gateway sends (stats are best effort); a quorum queue persists every message.
      return [await statsQueueRates('classic', false, prefix), await statsQueueRates('classic', true, prefix), await statsQueueRates('quorum', true, prefix)];
    });

    const header = [
      `wrk, ${WRK_THREADS} threads, ${CONNECTIONS} connections, ${Buffer.byteLength(body)}-byte Firefox-like JSON bodies (phase 4: the real 2013 ping, gzip), a unique docId per request; ` +
        `${PHASE_SECONDS} s per HTTP phase after a ${WARMUP_SECONDS} s warm-up. Everything on this machine: ${os.availableParallelism()} cores shared by wrk, RabbitMQ, Redis and the apps. ` +
        `Latency p50 / p99 as wrk measures it; non-2xx = statuses ≥ 400, errors = connect/read/write errors and timeouts.`,
      '',
      '| phase | rate | × baseline | p50 / p99 | non-2xx / errors | target | met |',
      '| --- | ---: | ---: | ---: | ---: | --- | --- |',
      ...rows,
      '',
      ...notes.flatMap((note) => [note, '']),
    ];
    if (queues) {
      const [classic, , quorum] = queues;
      header.push(
        `Stats queue, classic vs quorum (${STATS_MESSAGES} stats-view batches of ${STATS_SUBMISSIONS_PER_MESSAGE} submissions, ${classic?.messageBytes ?? 0} bytes each, x-max-length + drop-head as topology.ts declares it; publishes with confirms, 500 in flight; then consumed with prefetch 1000, one ack each):`,
        '',
        '| queue type | messages | publish msg/s | consume msg/s |',
        '| --- | --- | ---: | ---: |',
        ...queues.map((q) => `| ${q.type} | ${q.persistent ? 'persistent' : 'transient (as the gateway sends stats)'} | ${fmt(q.publish)} | ${fmt(q.consume)} |`),
        '',
        classic && quorum ? `Quorum (persistent) / classic (transient): publish ${fmt(quorum.publish / classic.publish, 2)}, consume ${fmt(quorum.consume / classic.consume, 2)}.` : '',
      );
    }
    if (header.at(-1) !== '') header.push('');
    header.push(`Machine: ${machineDescription()}`);
    const markdown = header.join('\n').trimEnd();
    const skipped = PHASES.filter((phase) => !phases.has(phase));
    if (failures.length > 0 || skipped.length > 0) {
      console.log(markdown);
      throw new Error(
        failures.length > 0
          ? `ingest-path: ${failures.length} phase(s) failed (results above, not appended): ${failures.join('; ')}`
          : `ingest-path: partial run (BENCH_INGEST_PHASES, skipped ${skipped.join(', ')}): results above, not appended`,
      );
    }
    return { name: 'Ingest path: gateway, workers and end to end against same-run baselines', markdown, targetMet: allMet };
  } finally {
    await Promise.all([rm(files.json, { force: true }), rm(files.realPingGzip, { force: true })]);
  }
}
