import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createAppRegistry, type AppRegistryOptions } from '@telemetry/shared/metrics/registry';
import { REVISION_FETCH_RESULTS, REVISION_LOOKUP_TIERS, type RevisionCacheMetrics } from '@telemetry/shared/revisions/cache-metrics';
import type { BatchResult } from './stages/process-batch.js';

export interface WorkerMetrics {
  readonly registry: Registry;
  record(result: BatchResult): void;
  readonly transientFailures: Counter;
  readonly pendingCompressions: Gauge;
  /** Wall time of each stage per batch (the other batch in hand runs during its awaits). */
  readonly stageSeconds: Histogram<'stage'>;
  /** Handed to the RevisionCache: its lookups by tier, fetches by result, disk evictions. */
  readonly revisionCache: RevisionCacheMetrics;
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
    revisionCache: revisionCacheMetrics(registry),
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

/** Counters of the revision cache; every label value starts at 0, so rates and hit ratios exist before the first lookup. */
function revisionCacheMetrics(registry: Registry): RevisionCacheMetrics {
  const lookups = new Counter({
    name: 'telemetry_revision_cache_lookups_total',
    help: 'Histograms.json revision lookups by the tier that answered: memory, inflight (a load already running), disk, fetch (a request to HG_SERVER), not_found (a remembered 404)',
    labelNames: ['tier'],
    registers: [registry],
  });
  const fetches = new Counter({
    name: 'telemetry_revision_fetches_total',
    help: 'Requests to HG_SERVER for Histograms.json, by result (ok, not_found: 404/410, invalid: bad or too large file, unavailable: network, timeout, 5xx)',
    labelNames: ['result'],
    registers: [registry],
  });
  const evictedFiles = new Counter({
    name: 'telemetry_revision_disk_evictions_total',
    help: 'Revision files evicted from REVISION_CACHE_DIR (least recently used) to keep REVISION_DISK_CACHE_MAX_BYTES',
    registers: [registry],
  });
  const evictedBytes = new Counter({
    name: 'telemetry_revision_disk_evicted_bytes_total',
    help: 'Bytes of the revision files evicted from REVISION_CACHE_DIR',
    registers: [registry],
  });
  for (const tier of REVISION_LOOKUP_TIERS) lookups.inc({ tier }, 0);
  for (const result of REVISION_FETCH_RESULTS) fetches.inc({ result }, 0);
  return {
    lookup: (tier) => lookups.inc({ tier }),
    fetched: (result) => fetches.inc({ result }),
    diskEvicted: (files, bytes) => {
      evictedFiles.inc(files);
      evictedBytes.inc(bytes);
    },
  };
}
