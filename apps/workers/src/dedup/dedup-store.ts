/**
 * Deduplication by document (SPEC 5): a key is the digest of the docId and
 * the decoded body, so a retry or a redelivery of one document (however it
 * was compressed) is one record, and two documents sharing a docId (a
 * session's idle-daily and saved-session pings) are both kept.
 *
 * A worker claims a key with a short lease before writing and marks it done
 * only after the fsync, so:
 * - a crash between write and mark gives at worst a duplicate line, never a loss;
 * - two copies in flight at once (a client retry while the first copy still
 *   waits, on another worker) give one record: the second finds a live claim
 *   ('busy'), waits and checks again; once the first is done it is a duplicate.
 */
export type ClaimResult = 'claimed' | 'done' | 'busy';

export interface DedupStore {
  /** Claims each key for `owner` (renewing the owner's own claims); one result per key. */
  claim(keys: readonly Buffer[], owner: string, leaseMs: number): Promise<ClaimResult[]>;
  /** Records the keys as persisted for `ttlMs` (DEDUP_TTL). */
  markDone(keys: readonly Buffer[], ttlMs: number): Promise<void>;
  /** Drops `owner`'s claims (not persisted: retried later). */
  release(keys: readonly Buffer[], owner: string): Promise<void>;
}
