/**
 * Deduplication by docId (SPEC 5). A worker claims a docId with a short
 * lease before writing and marks it done only after the fsync, so:
 * - a crash between write and mark gives at worst a duplicate line, never a loss;
 * - two copies in flight at once (a client retry while the first copy still
 *   waits, on another worker) give one record: the second finds a live claim
 *   ('busy'), waits and checks again; once the first is done it is a duplicate.
 */
export type ClaimResult = 'claimed' | 'done' | 'busy';

export interface DedupStore {
  /** Claims each docId for `owner` (renewing the owner's own claims); one result per docId. */
  claim(docIds: readonly string[], owner: string, leaseMs: number): Promise<ClaimResult[]>;
  /** Records the docIds as persisted for `ttlMs` (DEDUP_TTL). */
  markDone(docIds: readonly string[], ttlMs: number): Promise<void>;
  /** Drops `owner`'s claims (the docIds were not persisted: retry later). */
  release(docIds: readonly string[], owner: string): Promise<void>;
}
