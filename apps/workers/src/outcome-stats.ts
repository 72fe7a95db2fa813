/**
 * Workers report what they persisted and filed to the realtime counters
 * (SPEC 6): persisted records by the converted ping's info (a Glean ping's by
 * namespace, docType and channel), errors by type and by the URL's dimensions. Best effort: a Redis hiccup costs a count,
 * never an acknowledgement. What comes from the URL (an error's path, a Glean
 * ping's namespace and docType) is percent-decoded once, as the stats
 * consumer does for received counts; the ping's info and channel are not.
 */
import { urlDimensionsFromPath } from '@telemetry/shared/amqp/wire-codec';
import type { DimensionSchema } from '@telemetry/shared/dimensions/schema';
import type { CountEntry, RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { genericStatsValues, statsValues, urlStatsValues } from '@telemetry/shared/stats/dimensions';
import type { Logger } from 'pino';
import type { BatchResult } from './stages/process-batch.js';

/** The counter entries of a batch's outcome (exported for its unit test). */
export function outcomeEntries(outcome: Pick<BatchResult, 'stored' | 'filed'>, schema: DimensionSchema, nowMs: number): CountEntry[] {
  const entries: CountEntry[] = [];
  for (const record of outcome.stored) {
    entries.push({ atMs: nowMs, kind: 'persisted', values: record.generic ? genericStatsValues(record.generic) : statsValues(schema, record.info), count: 1 });
  }
  for (const filed of outcome.filed) {
    const values = filed.generic ? genericStatsValues(filed.generic) : urlStatsValues(schema, urlDimensionsFromPath(filed.path));
    entries.push({ atMs: nowMs, kind: 'error', errorType: filed.type, values, count: 1 });
  }
  return entries;
}

export function reportOutcome(store: RedisCounterStore, schema: DimensionSchema, logger: Logger, outcome: BatchResult): void {
  const entries = outcomeEntries(outcome, schema, Date.now());
  if (entries.length === 0) return;
  store.record(entries).catch((error: unknown) => {
    logger.warn({ err: error instanceof Error ? error.message : String(error), lost: entries.length }, 'could not record outcome counters');
  });
}
