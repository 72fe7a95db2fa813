/**
 * Where a get() was answered: the memory LRU; a load another get had started;
 * the disk cache; the Mercurial server (a request, whatever it answered); or
 * a remembered 404 or invalid file, without a request.
 */
export const REVISION_LOOKUP_TIERS = ['memory', 'inflight', 'disk', 'fetch', 'not_found'] as const;
export type RevisionLookupTier = (typeof REVISION_LOOKUP_TIERS)[number];

/** What a request to the Mercurial server gave: a valid file, a 404/410, an invalid or too large file, or a transient failure. */
export const REVISION_FETCH_RESULTS = ['ok', 'not_found', 'invalid', 'unavailable'] as const;
export type RevisionFetchResult = (typeof REVISION_FETCH_RESULTS)[number];

/** Hooks the revision cache calls, so an app can count them in its own metrics registry. */
export interface RevisionCacheMetrics {
  lookup(tier: RevisionLookupTier): void;
  fetched(result: RevisionFetchResult): void;
  diskEvicted(files: number, bytes: number): void;
}
