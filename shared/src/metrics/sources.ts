/**
 * Where a metrics port gets its text and readiness: this process's registry,
 * or, in a pool primary (node:cluster), every pooled process's registry
 * merged with prom-client's AggregatorRegistry.aggregate (counters and
 * histograms summed; gauges by their `aggregator`) plus the primary's own.
 *
 * The pool protocol is ours rather than AggregatorRegistry.clusterMetrics():
 * a process is asked only once it said it answers (a starting process never
 * stalls a scrape), and a process that does not answer within `timeoutMs`
 * (dying, blocked) is left out of that scrape instead of failing it after 5 s.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

export interface MetricsSource {
  /** Prometheus text. */
  metrics(): Promise<string>;
  readonly contentType: string;
  /** Whether the app is ready (every pooled process, for a pool). */
  ready(): Promise<boolean>;
}

/** The metrics and readiness of this process alone. */
export function processMetrics(registry: Registry, ready: () => boolean = () => true): MetricsSource {
  return { metrics: () => registry.metrics(), contentType: registry.contentType, ready: () => Promise.resolve(ready()) };
}

const HELLO = 'telemetry:ops-hello';
const REQUEST = 'telemetry:ops-request';
const REPLY = 'telemetry:ops-reply';

type RequestKind = 'metrics' | 'ready';

interface Reply {
  readonly type: typeof REPLY;
  readonly id: number;
  readonly metrics?: object[];
  readonly ready?: boolean;
}

function isMessage(message: unknown, type: string): message is Record<string, unknown> {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/** In a pooled process: answers the primary's metrics and readiness requests. Call once. */
export function answerPool(registry: Registry, ready: () => boolean = () => true): void {
  const send = (message: object): void => {
    // The primary may be gone (the process is stopping): nothing to answer then.
    if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
  };
  process.on('message', (message: unknown) => {
    if (!isMessage(message, REQUEST)) return;
    const id = message.id as number;
    if (message.kind === 'ready') {
      send({ type: REPLY, id, ready: ready() });
      return;
    }
    registry.getMetricsAsJSON().then(
      (metrics) => send({ type: REPLY, id, metrics }),
      () => send({ type: REPLY, id, metrics: [] }),
    );
  });
  send({ type: HELLO });
}

interface Pending {
  readonly replies: Reply[];
  readonly waiting: Set<number>;
  readonly finish: () => void;
}

/** In a pool primary: the pool's merged metrics (with `own`, the primary's registry) and readiness. */
export class PoolMetrics implements MetricsSource {
  private readonly answering = new Set<number>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  /**
   * `expected`: how many processes the pool runs; ready needs that many
   * answering ready (a process being restarted makes the pool not ready).
   */
  constructor(
    private readonly own: Registry,
    private readonly options: { readonly expected?: number; readonly timeoutMs?: number } = {},
  ) {
    cluster.on('message', (worker: Worker, message: unknown) => {
      if (isMessage(message, HELLO)) this.answering.add(worker.id);
      else if (isMessage(message, REPLY)) this.settle(worker.id, message as unknown as Reply);
    });
    cluster.on('exit', (worker: Worker) => {
      this.answering.delete(worker.id);
      for (const [id, pending] of this.pending) this.settle(worker.id, { type: REPLY, id }, pending);
    });
  }

  get contentType(): string {
    return this.own.contentType;
  }

  async metrics(): Promise<string> {
    const [own, replies] = await Promise.all([this.own.getMetricsAsJSON(), this.ask('metrics')]);
    return AggregatorRegistry.aggregate([own, ...replies.map((reply) => reply.metrics ?? [])]).metrics();
  }

  /** Every pooled process answers ready (at least `expected` of them, at least one). */
  async ready(): Promise<boolean> {
    const replies = await this.ask('ready');
    return replies.length >= Math.max(1, this.options.expected ?? 1) && replies.every((reply) => reply.ready === true);
  }

  private ask(kind: RequestKind): Promise<Reply[]> {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && this.answering.has(w.id) && w.isConnected());
    const id = this.nextId++;
    return new Promise((resolve) => {
      const replies: Reply[] = [];
      const timer = setTimeout(() => pending.finish(), this.options.timeoutMs ?? 1_000);
      const pending: Pending = {
        replies,
        waiting: new Set(workers.map((w) => w.id)),
        finish: () => {
          clearTimeout(timer);
          this.pending.delete(id);
          resolve(replies);
        },
      };
      this.pending.set(id, pending);
      for (const worker of workers) worker.send({ type: REQUEST, id, kind }, undefined, () => undefined);
      if (workers.length === 0) pending.finish();
    });
  }

  private settle(workerId: number, reply: Reply, pending = this.pending.get(reply.id)): void {
    if (!pending?.waiting.delete(workerId)) return;
    if (reply.metrics !== undefined || reply.ready !== undefined) pending.replies.push(reply);
    if (pending.waiting.size === 0) pending.finish();
  }
}
