/**
 * Shared pieces of the fault tests: a steady stream of distinct submissions
 * (remembering every answer), a count of what ended up in storage and in the
 * error store, the lost/duplicate figures of SPEC 9, and the fixtures each
 * fault test starts and stops.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseErrorLine } from '@telemetry/shared/storage/error-store';
import { parseRecordLine, readRecordLines } from '@telemetry/shared/storage/reader';
import { afterEach } from 'vitest';
import type { RunningWorker } from '../../apps/workers/src/worker.js';
import { startTestPipeline, type TestPipeline } from './pipeline.js';
import { classicPing } from './classic-ping.js';
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

/** Where each docId was found: record files under STORAGE_DIR, error files under ERRORS_DIR. */
export interface Occurrences {
  /** docId → number of record lines (storage) plus error lines. */
  readonly count: Map<string, number>;
  /** docId → the files holding it (relative to their root, prefixed `storage/` or `errors/`). */
  readonly files: Map<string, string[]>;
  readonly storedLines: number;
  readonly filedLines: number;
}

async function recordFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && /\.log(\.gz|\.zst|\.xz)?$/.test(e.name) && !path.relative(root, e.parentPath).startsWith('.writers'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Every complete line of every record file under both roots. While a worker
 * runs, a file may be renamed or compressed away between listing and reading:
 * the scan then starts over (a file seen twice, `.log` and `.log.gz` during
 * compression, only matters for counts taken while a worker runs).
 */
export async function scanOccurrences(storageDir: string, errorsDir: string): Promise<Occurrences> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await scanOnce(storageDir, errorsDir);
    } catch (error) {
      if (!isMissing(error) || attempt >= 20) throw error;
    }
  }
}

async function scanOnce(storageDir: string, errorsDir: string): Promise<Occurrences> {
  const count = new Map<string, number>();
  const files = new Map<string, string[]>();
  let storedLines = 0;
  let filedLines = 0;
  const add = (docId: string, file: string) => {
    count.set(docId, (count.get(docId) ?? 0) + 1);
    const list = files.get(docId);
    if (list) list.push(file);
    else files.set(docId, [file]);
  };
  for (const [root, label] of [
    [storageDir, 'storage'],
    [errorsDir, 'errors'],
  ] as const) {
    for (const file of await recordFiles(root)) {
      const relative = `${label}/${path.relative(root, file)}`;
      for await (const line of readRecordLines(file)) {
        const docId = label === 'storage' ? parseRecordLine(line)?.docId : parseErrorLine(line)?.docId;
        if (docId === undefined) throw new Error(`not a record line in ${relative}: ${line.slice(0, 80)}`);
        add(docId, relative);
        if (label === 'storage') storedLines += 1;
        else filedLines += 1;
      }
    }
  }
  return { count, files, storedLines, filedLines };
}

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
