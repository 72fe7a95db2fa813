import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { BatchResult } from './stages/process-batch.js';

export interface WorkerMetrics {
  readonly registry: Registry;
  record(result: BatchResult): void;
  readonly transientFailures: Counter;
  readonly pendingCompressions: Gauge;
}

const OUTCOME_LABELS = {
  stored: 'stored',
  filed: 'filed',
  duplicate: 'duplicate',
  retry: 'retried',
  deadLetter: 'dead_lettered',
  hold: 'held',
  defer: 'deferred',
} as const;

export function createWorkerMetrics(options: { defaultMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'telemetry_worker_' });
  const outcomes = new Counter({
    name: 'telemetry_worker_messages_total',
    help: 'Submissions handled, by outcome (stored, filed, duplicate, retried, dead_lettered, held: checked again later, deferred: to the next batch)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'telemetry_worker_errors_total',
    help: 'Submissions filed in the error store, by error type',
    labelNames: ['type'],
    registers: [registry],
  });
  const droppedHistograms = new Counter({
    name: 'telemetry_worker_unknown_histograms_total',
    help: 'Histograms dropped because their revision does not define them',
    registers: [registry],
  });
  return {
    registry,
    transientFailures: new Counter({
      name: 'telemetry_worker_transient_failures_total',
      help: 'Batches that could not be persisted and were retried (disk, Redis)',
      registers: [registry],
    }),
    pendingCompressions: new Gauge({
      name: 'telemetry_worker_pending_compressions',
      help: 'Finished files waiting to be compressed',
      registers: [registry],
    }),
    record(result) {
      const counts: Record<string, number> = { stored: 0, filed: 0, duplicate: 0, retried: 0, dead_lettered: 0, held: 0, deferred: 0 };
      for (const decision of result.decisions) counts[OUTCOME_LABELS[decision.kind]] = (counts[OUTCOME_LABELS[decision.kind]] ?? 0) + 1;
      for (const [outcome, count] of Object.entries(counts)) outcomes.inc({ outcome }, count);
      for (const entry of result.filed) errors.inc({ type: entry.type });
      let dropped = 0;
      for (const record of result.stored) dropped += record.droppedHistograms.length;
      droppedHistograms.inc(dropped);
    },
  };
}
