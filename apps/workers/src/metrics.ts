import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { BatchOutcome } from './batch.js';

export interface WorkerMetrics {
  readonly registry: Registry;
  record(outcome: BatchOutcome): void;
  readonly transientFailures: Counter;
  readonly pendingCompressions: Gauge;
}

export function createWorkerMetrics(options: { defaultMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'telemetry_worker_' });
  const outcomes = new Counter({
    name: 'telemetry_worker_messages_total',
    help: 'Messages finished, by outcome (stored, filed, duplicate, retried, dead_lettered)',
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
    record(outcome) {
      outcomes.inc({ outcome: 'stored' }, outcome.stored.length);
      outcomes.inc({ outcome: 'filed' }, outcome.filed.length);
      outcomes.inc({ outcome: 'duplicate' }, outcome.duplicates);
      outcomes.inc({ outcome: 'retried' }, outcome.retried);
      outcomes.inc({ outcome: 'dead_lettered' }, outcome.deadLettered);
      for (const entry of outcome.filed) errors.inc({ type: entry.type });
      let dropped = 0;
      for (const record of outcome.stored) dropped += record.droppedHistograms.length;
      droppedHistograms.inc(dropped);
    },
  };
}
