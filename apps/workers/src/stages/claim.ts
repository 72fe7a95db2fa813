/**
 * Claim stage: which units of a batch this worker may convert and write now.
 * A copy of a document already persisted is a duplicate; a copy another
 * worker holds, or that an earlier unit (of this batch or of a batch still in
 * flight in this worker) holds, waits and is checked again.
 */
import type { DedupStore } from '../dedup/dedup-store.js';
import { unitKey, type Unit, type UnitDecision } from './unit.js';

export interface ClaimOptions {
  readonly dedup: DedupStore;
  readonly owner: string;
  readonly claimLeaseMs: number;
  /** Keys claimed by this worker's batches in flight (hex), shared by the pipelined batches. */
  readonly inFlightKeys: Set<string>;
  /**
   * Told the in-flight keys whenever they change (the worker keeps them in a
   * file, so the next process of this writer can release what a dead one
   * held instead of other workers waiting out CLAIM_LEASE).
   */
  readonly claimJournal?: { record(keys: ReadonlySet<string>): void };
}

export interface ClaimDecisions {
  /** Indexes of the units to convert and write now (claimed, or not deduplicated), ascending. */
  readonly proceed: number[];
  /** Keys claimed for them (marked done after the fsync, released if they are not written). */
  readonly claimed: Map<number, Buffer>;
  /** Decided here: duplicates and holds, by unit index. */
  readonly decided: Map<number, UnitDecision>;
}

export async function claimStage(units: readonly Unit[], options: ClaimOptions): Promise<ClaimDecisions> {
  const decided = new Map<number, UnitDecision>();
  const candidates: { index: number; key: Buffer; hex: string }[] = [];
  const proceed: number[] = [];
  const seen = new Set<string>();
  for (const [index, unit] of units.entries()) {
    const key = unitKey(unit);
    if (key === undefined) {
      proceed.push(index);
      continue;
    }
    const hex = key.toString('hex');
    if (seen.has(hex) || options.inFlightKeys.has(hex)) {
      decided.set(index, { kind: 'hold' }); // decided once the copy ahead of it is done
      continue;
    }
    seen.add(hex);
    candidates.push({ index, key, hex });
  }
  // Reserved before the round trip: a batch claimed concurrently in this worker
  // (same owner, which Redis would let renew the claim) must see them as taken.
  for (const candidate of candidates) options.inFlightKeys.add(candidate.hex);
  let results: Awaited<ReturnType<DedupStore['claim']>>;
  try {
    results = await options.dedup.claim(candidates.map((c) => c.key), options.owner, options.claimLeaseMs);
    // Checked here, not in the loop below: a throw there would leave the reserved keys in flight for good.
    if (results.length < candidates.length) throw new Error(`no claim result for unit ${String(candidates[results.length]?.index)}`);
  } catch (error) {
    for (const candidate of candidates) options.inFlightKeys.delete(candidate.hex);
    throw error;
  }
  const claimed = new Map<number, Buffer>();
  for (const [i, candidate] of candidates.entries()) {
    const result = results[i];
    if (result !== 'claimed') options.inFlightKeys.delete(candidate.hex);
    switch (result) {
      case 'done':
        decided.set(candidate.index, { kind: 'duplicate' });
        break;
      case 'busy':
        decided.set(candidate.index, { kind: 'hold' });
        break;
      case 'claimed':
        claimed.set(candidate.index, candidate.key);
        proceed.push(candidate.index);
        break;
      case undefined:
        throw new Error(`no claim result for unit ${candidate.index}`);
    }
  }
  proceed.sort((a, b) => a - b);
  if (claimed.size > 0) options.claimJournal?.record(options.inFlightKeys);
  return { proceed, claimed, decided };
}

/** Forgets the batch's keys as in flight (after its route stage, or when it failed and will be tried again). */
export function releaseInFlight(claims: ClaimDecisions, options: Pick<ClaimOptions, 'inFlightKeys' | 'claimJournal'>): void {
  if (claims.claimed.size === 0) return;
  for (const key of claims.claimed.values()) options.inFlightKeys.delete(key.toString('hex'));
  options.claimJournal?.record(options.inFlightKeys);
}
