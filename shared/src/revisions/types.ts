import type { HistogramDefinitions } from '../histograms/types.js';

/**
 * Where conversion gets a revision's histogram definitions.
 * Rejects with PingError('missing_revision') for an unknown, malformed or
 * invalid revision, and with RevisionUnavailableError (transient) when the
 * Mercurial server cannot answer now.
 */
export interface RevisionSource {
  get(revisionUrl: string): Promise<HistogramDefinitions>;
}
