import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createAppRegistry, type AppRegistryOptions } from '@telemetry/shared/metrics/registry';
import type { BatchResult } from './stages/process-batch.js';

export interface WorkerMetrics {
  readonly registry: Registry;
  record(result: BatchResult): void;
  readonly transientFailures: Counter;
  readonly pendingCompressions: Gauge;
  /** Wall time of each stage per batch (the other batch in hand runs during its awaits). */
  readonly stageSeconds: Histogram<'stage'>;
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

export function createWorkerMetrics(options: AppRegistryOptions = {}): WorkerMetrics {
  const registry = createAppRegistry('workers', options);
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
    stageSeconds: new Histogram({
      name: 'telemetry_worker_stage_duration_seconds',
      help: 'Time a batch spent in each stage (decode, claim, convert, persist, route), wall clock',
      labelNames: ['stage'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
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
