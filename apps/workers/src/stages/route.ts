/**
 * Route stage: the final decision of every unit once its batch is durable.
 * Persisted documents are marked done (best effort: they are already
 * durable; a failure costs a later copy its deduplication); claims of units
 * not written are released; transient failures are retried until
 * `maxAttempts`, then dead-lettered.
 */
import type { Logger } from 'pino';
import type { DedupStore } from '../dedup/dedup-store.js';
import type { ClaimDecisions } from './claim.js';
import type { ConvertOutcome, Unit, UnitDecision } from './unit.js';

export interface RouteOptions {
  readonly dedup: DedupStore;
  readonly owner: string;
  readonly dedupTtlMs: number;
  readonly maxAttempts: number;
  readonly logger: Logger;
}

export async function routeStage(
  units: readonly Unit[],
  claims: ClaimDecisions,
  outcomes: ReadonlyMap<number, ConvertOutcome>,
  options: RouteOptions,
): Promise<UnitDecision[]> {
  const done: Buffer[] = [];
  const release: Buffer[] = [];
  for (const [index, key] of claims.claimed) {
    const kind = outcomes.get(index)?.kind;
    if (kind === 'store' || kind === 'file') done.push(key);
    else release.push(key);
  }
  await Promise.all([
    options.dedup.markDone(done, options.dedupTtlMs).catch((error: unknown) => {
      options.logger.warn({ err: error, count: done.length }, 'could not mark documents done');
    }),
    options.dedup.release(release, options.owner).catch((error: unknown) => {
      options.logger.warn({ err: error, count: release.length }, 'could not release claims; they expire with their lease');
    }),
  ]);
  return units.map((unit, index) => claims.decided.get(index) ?? decide(unit, outcomes.get(index), options.maxAttempts, index));
}

function decide(unit: Unit, outcome: ConvertOutcome | undefined, maxAttempts: number, index: number): UnitDecision {
  if (outcome === undefined) throw new Error(`unit ${index} was neither converted nor decided`);
  switch (outcome.kind) {
    case 'store':
      return { kind: 'stored' };
    case 'file':
      return { kind: 'filed' };
    case 'retry':
      return unit.attempts + 1 >= maxAttempts
        ? { kind: 'deadLetter', reason: `gave up after ${unit.attempts + 1} attempts: ${outcome.reason}` }
        : { kind: 'retry', reason: outcome.reason };
    case 'deadLetter':
      return { kind: 'deadLetter', reason: outcome.reason };
  }
}
