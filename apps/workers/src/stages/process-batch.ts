/**
 * A batch of decoded units through claim → convert → persist → route: one
 * decision per unit, in order, plus what was stored and filed (for metrics
 * and the realtime counters). Throws a TransientError when the batch could
 * not be made durable (disk, Redis): nothing of it may be acknowledged then.
 *
 * Batches are pipelined: while one awaits its write, fsync and Redis, the
 * next is claimed and converted. Conversion yields to the event loop every
 * few milliseconds so that the other batch's I/O completions run.
 */
import type { ConvertedRecord } from '@telemetry/shared/conversion/submission';
import type { ErrorEntry } from '@telemetry/shared/storage/error-store';
import { claimStage, releaseInFlight, type ClaimOptions } from './claim.js';
import { convertStage, type ConvertDecoded } from './convert.js';
import { persistStage, type PersistTargets } from './persist.js';
import { routeStage, type RouteOptions } from './route.js';
import type { ConvertOutcome, Unit, UnitDecision } from './unit.js';

/** Records which suspect units are being worked on, so a process that dies on one can be told apart. */
export interface SuspectJournal {
  enter(id: string): void;
  leave(id: string): void;
}

export interface BatchDependencies extends RouteOptions, PersistTargets, ClaimOptions {
  readonly convert: ConvertDecoded;
  readonly journal: SuspectJournal;
}

export interface BatchResult {
  readonly decisions: UnitDecision[];
  readonly stored: ConvertedRecord[];
  readonly filed: ErrorEntry[];
}

const YIELD_EVERY_MS = 4;

export async function processBatch(units: readonly Unit[], deps: BatchDependencies): Promise<BatchResult> {
  const claims = await claimStage(units, deps);
  try {
    const outcomes = await convertAll(units, claims.proceed, deps);
    const persisted = await persistStage(outcomes.values(), deps);
    const decisions = await routeStage(units, claims, outcomes, deps);
    return { decisions, ...persisted };
  } finally {
    releaseInFlight(claims, deps.inFlightKeys);
  }
}

async function convertAll(units: readonly Unit[], indexes: readonly number[], deps: BatchDependencies): Promise<Map<number, ConvertOutcome>> {
  const outcomes = new Map<number, ConvertOutcome>();
  let sliceStart = performance.now();
  for (const index of indexes) {
    const unit = units[index] as Unit;
    if (unit.suspectId !== undefined) deps.journal.enter(unit.suspectId);
    outcomes.set(index, await convertStage(unit, deps.convert));
    if (unit.suspectId !== undefined) deps.journal.leave(unit.suspectId);
    if (performance.now() - sliceStart > YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return outcomes;
}
