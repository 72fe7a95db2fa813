/**
 * Shared pieces of the fault tests: a steady stream of distinct submissions
 * (remembering every answer), a count of what ended up in storage and in the
 * error store, the lost/duplicate figures of SPEC 9, and the fixtures each
 * fault test starts and stops.
 */
import { afterEach } from 'vitest';
import type { RunningWorker } from '../../apps/workers/src/worker.js';
import { startTestPipeline, type TestPipeline } from './pipeline.js';
import { classicPing } from './classic-ping.js';
import { scanOccurrences, type Occurrences } from './occurrences.js';
import { startTcpProxy, targetOf, type TcpProxy } from './tcp-proxy.js';

export { classicPing } from './classic-ping.js';

/** A body that can never be converted: filed as `bad_json`. */
const BAD_JSON = '{"ver": 1,';

export interface SubmissionResult {
  readonly docId: string;
  /** HTTP status, 0 for a network error. */
  readonly status: number;
  readonly retryAfter: string | null;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface StreamOptions {
  /** docIds are `<prefix>-<n>`. */
  readonly prefix: string;
  readonly concurrency?: number;
  /** Pause of each submitter between two requests. */
  readonly pauseMs?: number;
  /** Every `badEvery`-th submission is a bad body (0: none). */
  readonly badEvery?: number;
}

/** Concurrent submitters sending distinct docIds until stopped; every answer is kept. */
export class SubmissionStream {
  readonly results: SubmissionResult[] = [];
  private next = 0;
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly options: StreamOptions,
  ) {}

  get sent(): number {
    return this.results.length;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < (this.options.concurrency ?? 4); i += 1) this.loops.push(this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Sends `count` more submissions (outside the stream's loops) and waits for the answers. */
  async sendBatch(count: number): Promise<SubmissionResult[]> {
    return Promise.all(Array.from({ length: count }, () => this.sendOne()));
  }

  /** docIds answered 200. */
  accepted(): string[] {
    return this.results.filter((r) => r.status === 200).map((r) => r.docId);
  }

  statusCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.results) counts[r.status] = (counts[r.status] ?? 0) + 1;
    return counts;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      await this.sendOne();
      if (this.options.pauseMs) await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs));
    }
  }

  private async sendOne(): Promise<SubmissionResult> {
    const n = this.next++;
    const docId = `${this.options.prefix}-${n}`;
    const bad = this.options.badEvery !== undefined && this.options.badEvery > 0 && n % this.options.badEvery === 0;
    const startedAt = Date.now();
    let status = 0;
    let retryAfter: string | null = null;
    try {
      const response = await fetch(`${this.baseUrl}/submit/telemetry/${docId}`, {
        method: 'POST',
        body: bad ? BAD_JSON : classicPing(n),
        signal: AbortSignal.timeout(20_000),
      });
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      await response.arrayBuffer();
    } catch {
      status = 0;
    }
    const result = { docId, status, retryAfter, startedAt, endedAt: Date.now() };
    this.results.push(result);
    return result;
  }
}

export { scanOccurrences, type Occurrences } from './occurrences.js';

export interface Figures {
  readonly accepted: number;
  readonly lost: string[];
  /** docIds with more than one copy. */
  readonly duplicates: string[];
  /** Extra copies in total (sum of count - 1). */
  readonly extraCopies: number;
}

export function figures(accepted: readonly string[], occurrences: Occurrences): Figures {
  const lost: string[] = [];
  const duplicates: string[] = [];
  let extraCopies = 0;
  for (const docId of accepted) {
    const copies = occurrences.count.get(docId) ?? 0;
    if (copies === 0) lost.push(docId);
    if (copies > 1) {
      duplicates.push(docId);
      extraCopies += copies - 1;
    }
  }
  return { accepted: accepted.length, lost, duplicates, extraCopies };
}

/** True once every accepted docId has at least one copy. */
export async function allPresent(accepted: readonly string[], storageDir: string, errorsDir: string): Promise<boolean> {
  const occurrences = await scanOccurrences(storageDir, errorsDir);
  return accepted.every((docId) => (occurrences.count.get(docId) ?? 0) > 0);
}

/** One line per test with the figures, so a run shows them. */
export function printSummary(test: string, f: Figures, extra: Record<string, unknown> = {}): void {
  console.log(
    `[faults] ${test}: accepted=${f.accepted} lost=${f.lost.length} duplicates=${f.duplicates.length} (extra copies ${f.extraCopies})` +
      Object.entries(extra)
        .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(''),
  );
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What a fault test starts (pipelines, TCP proxies in front of a service),
 * stopped after each test — pipelines first, then proxies — after
 * `beforeCleanup` (e.g. killing spawned worker processes). Call inside describe().
 */
export function faultFixtures(beforeCleanup?: () => Promise<void>) {
  const pipelines: TestPipeline[] = [];
  const proxies: TcpProxy[] = [];
  afterEach(async () => {
    await beforeCleanup?.();
    for (const pipeline of pipelines.splice(0)) await pipeline.stop();
    for (const proxy of proxies.splice(0)) await proxy.close();
  });
  return {
    async pipeline(label: string, options?: Parameters<typeof startTestPipeline>[1]): Promise<TestPipeline> {
      const pipeline = await startTestPipeline(label, options);
      pipelines.push(pipeline);
      return pipeline;
    },
    /** A proxy in front of the service at `serviceUrl`; `proxy.urlFor(serviceUrl)` goes through it. */
    async proxy(serviceUrl: string, defaultPort: number): Promise<TcpProxy> {
      const proxy = await startTcpProxy(targetOf(serviceUrl, defaultPort));
      proxies.push(proxy);
      return proxy;
    },
  };
}

/** The value of a worker's counter (with `labels`, if given). */
export async function workerCounter(worker: RunningWorker, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = worker.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))?.value ?? 0;
}
