/**
 * Persist stage: the batch's records and error entries appended and fsynced
 * (one write and one fsync per file). A storage failure throws a
 * TransientError: nothing of the batch is acknowledged and it is tried again.
 */
import type { ConvertedRecord } from '@telemetry/shared/conversion/submission';
import type { ErrorEntry } from '@telemetry/shared/storage/error-store';
import type { ConvertOutcome } from './unit.js';

export interface PersistTargets {
  readonly storage: { appendBatch(records: readonly { dir: string; fileStem: string; line: string }[]): Promise<void> };
  readonly errorStore: { appendBatch(entries: readonly ErrorEntry[]): Promise<void> };
}

export interface Persisted {
  readonly stored: ConvertedRecord[];
  readonly filed: ErrorEntry[];
}

export async function persistStage(outcomes: Iterable<ConvertOutcome>, targets: PersistTargets): Promise<Persisted> {
  const stored: ConvertedRecord[] = [];
  const filed: ErrorEntry[] = [];
  for (const outcome of outcomes) {
    if (outcome.kind === 'store') stored.push(outcome.record);
    else if (outcome.kind === 'file') filed.push(outcome.entry);
  }
  await Promise.all([
    stored.length > 0 ? targets.storage.appendBatch(stored.map((r) => ({ dir: r.dir, fileStem: r.fileStem, line: `${r.docId}\t${r.json}` }))) : undefined,
    filed.length > 0 ? targets.errorStore.appendBatch(filed) : undefined,
  ]);
  return { stored, filed };
}
