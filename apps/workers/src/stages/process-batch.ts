/**
 * A batch of units through decode → claim → convert → persist → route: one
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
import { decodeStage } from './decode.js';
import { persistStage, type PersistTargets } from './persist.js';
import { routeStage, type RouteOptions } from './route.js';
import { decodedBytes, type ConvertOutcome, type Unit, type UnitDecision } from './unit.js';

/** Records which suspect units are being worked on, so a process that dies on one can be told apart. */
export interface SuspectJournal {
  enter(id: string): void;
  leave(id: string): void;
}

/** The stages of a batch, in order. */
export type StageName = 'decode' | 'claim' | 'convert' | 'persist' | 'route';

export interface BatchDependencies extends RouteOptions, PersistTargets, ClaimOptions {
  readonly convert: ConvertDecoded;
  /** Told each stage's wall time for this batch (the worker's stage-duration histogram). */
  readonly timeStage?: (stage: StageName, seconds: number) => void;
  readonly maxUncompressedBytes: number;
  /** Decoded bytes one batch may hold (BATCH_MAX_BYTES); a single larger body still goes, alone. */
  readonly maxDecodedBytes: number;
  readonly journal: SuspectJournal;
}

export interface BatchResult {
  readonly decisions: UnitDecision[];
  readonly stored: ConvertedRecord[];
  readonly filed: ErrorEntry[];
}

const YIELD_EVERY_MS = 4;

export async function processBatch(all: readonly Unit[], deps: BatchDependencies): Promise<BatchResult> {
  const timed = <T>(stage: StageName, run: () => Promise<T>): Promise<T> => timeStage(stage, run, deps.timeStage);
  const units = await timed('decode', () => decodeWithinBudget(all, deps));
  const deferred: UnitDecision[] = all.slice(units.length).map(() => ({ kind: 'defer' }));
  const claims = await timed('claim', () => claimStage(units, deps));
  try {
    const outcomes = await timed('convert', () => convertAll(units, claims.proceed, deps));
    const persisted = await timed('persist', () => persistStage(outcomes.values(), deps));
    const decisions = await timed('route', () => routeStage(units, claims, outcomes, deps));
    return { decisions: [...decisions, ...deferred], ...persisted };
  } finally {
    releaseInFlight(claims, deps);
  }
}

/** Runs one stage and reports its wall time (also when it throws: a failed persist took that long too). */
async function timeStage<T>(stage: StageName, run: () => Promise<T>, report: BatchDependencies['timeStage']): Promise<T> {
  if (!report) return run();
  const started = performance.now();
  try {
    return await run();
  } finally {
    report(stage, (performance.now() - started) / 1000);
  }
}

/** Decodes units in order until the batch holds `maxDecodedBytes`; returns the decoded prefix (never empty). */
async function decodeWithinBudget(units: readonly Unit[], deps: BatchDependencies): Promise<readonly Unit[]> {
  let held = 0;
  let sliceStart = performance.now();
  for (const [index, unit] of units.entries()) {
    if (index > 0 && held >= deps.maxDecodedBytes) return units.slice(0, index);
    if (unit.decoded.kind === 'pending') {
      if (unit.suspectId !== undefined) deps.journal.enter(unit.suspectId);
      unit.decoded = decodeStage(unit.submission, deps.maxUncompressedBytes);
      if (unit.suspectId !== undefined) deps.journal.leave(unit.suspectId);
    }
    held += decodedBytes(unit);
    if (index > 0 && held > deps.maxDecodedBytes) return units.slice(0, index);
    sliceStart = await yieldIfLong(sliceStart);
  }
  return units;
}

/** Lets the event loop run (the other batch's I/O completions) once a slice of CPU work passed a few ms. */
async function yieldIfLong(sliceStart: number): Promise<number> {
  if (performance.now() - sliceStart <= YIELD_EVERY_MS) return sliceStart;
  await new Promise((resolve) => setImmediate(resolve));
  return performance.now();
}

async function convertAll(units: readonly Unit[], indexes: readonly number[], deps: BatchDependencies): Promise<Map<number, ConvertOutcome>> {
  const outcomes = new Map<number, ConvertOutcome>();
  let sliceStart = performance.now();
  for (const index of indexes) {
    const unit = units[index] as Unit;
    if (unit.suspectId !== undefined) deps.journal.enter(unit.suspectId);
    outcomes.set(index, await convertStage(unit, deps.convert));
    if (unit.suspectId !== undefined) deps.journal.leave(unit.suspectId);
    sliceStart = await yieldIfLong(sliceStart);
  }
  return outcomes;
}
